/**
 * The images, built and run for real with podman (scripts/podman.sh): the
 * project's Dockerfile, Open WebUI's image with the tool added
 * (examples/open-webui/), the self-healing sidecar, and the compose and
 * Kubernetes examples checked against their schemas. No registry is
 * reachable, so the bases are stand-ins made from Debian bookworm with the
 * tags the Dockerfiles name. Skipped where podman is absent, unless
 * REQUIRE_PODMAN=1 (as in .ci/run), which makes its absence a failure.
 */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import process from "node:process";
import { after, before, describe, test } from "node:test";
import { parseAllDocuments } from "yaml";
import { Secret, Service } from "kubernetes-models/v1";
import { Deployment } from "kubernetes-models/apps/v1";
import { LOG } from "../src/messages.ts";
import { freePort } from "../scripts/net.ts";
import { type Fixture, literal, postgresFixture, ROOT, run, skipping, sleep } from "./helpers.ts";

const PODMAN = join(ROOT, "scripts", "podman.sh");
const required = process.env.REQUIRE_PODMAN === "1";
const available =
  spawnSync("sh", ["-c", "command -v podman && command -v mmdebstrap"]).status === 0;
const IMAGE = "localhost/invite-code-repair:test";
/** Why the compose check cannot run: podman without docker-compose is a fine machine to test on. */
const composeMissing = !required &&
    spawnSync("sh", ["-c", "command -v docker-compose"]).status !== 0
  ? "docker-compose is not installed (apt-get install docker-compose)"
  : undefined;
const OPEN_WEBUI = "localhost/open-webui-invites:test";

/** podman with this machine's settings; fails the test on a non-zero exit. */
async function podman(args: string[], timeoutMs = 120_000): Promise<string> {
  const result = await run(PODMAN, ["run", ...args], {
    timeoutMs,
    env: { NODE_EXTRA_CA_CERTS: process.env.NODE_EXTRA_CA_CERTS },
  });
  assert.equal(result.code, 0, `podman ${args.join(" ")}: ${result.stderr}${result.stdout}`);
  return result.stdout.trim();
}

async function script(args: string[], timeoutMs: number): Promise<void> {
  const result = await run(PODMAN, args, {
    timeoutMs,
    env: { NODE_EXTRA_CA_CERTS: process.env.NODE_EXTRA_CA_CERTS },
  });
  assert.equal(result.code, 0, `scripts/podman.sh ${args.join(" ")}: ${result.stderr}`);
}

async function logs(container: string): Promise<string> {
  const result = await run(PODMAN, ["run", "logs", container]);
  return result.stdout + result.stderr;
}

async function waitForLog(container: string, text: string, timeoutMs = 60_000): Promise<string> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const output = await logs(container);
    if (output.includes(text)) return output;
    if (Date.now() > until) throw new Error(`no "${text}" in the logs of ${container}:\n${output}`);
    await sleep(250);
  }
}

async function waitForText(url: string, expected: string, timeoutMs = 60_000): Promise<void> {
  const until = Date.now() + timeoutMs;
  let last = "";
  while (Date.now() < until) {
    try {
      last = await (await fetch(url)).text();
      if (last === expected) return;
    } catch (error) {
      last = String(error);
    }
    await sleep(250);
  }
  throw new Error(`${url} answered ${JSON.stringify(last)}, not ${JSON.stringify(expected)}`);
}

/** `podman stop -t 20`, timed. */
async function stopTimed(container: string): Promise<number> {
  const started = Date.now();
  await podman(["stop", "-t", "20", container], 60_000);
  return Date.now() - started;
}

describe("containers, built and run with podman", {
  skip: !available && !required
    ? skipping("podman or mmdebstrap is not installed (REQUIRE_PODMAN=1 fails instead)")
    : false,
}, () => {
  const containers: string[] = [];
  let db: Fixture;

  before(async () => {
    assert.ok(available, "podman and mmdebstrap are installed (scripts/podman.sh up)");
    // Stand-in bases, tagged as the Dockerfiles' FROM names them.
    await script(["node-base", "node:24.9.0-bookworm-slim"], 600_000);
    await script(["openwebui-base", "localhost/openwebui-standin-base:bookworm"], 600_000);
    const build = ["build", "--format", "docker", "--isolation=chroot", "--network=host"];
    await podman([
      ...build,
      "-t",
      "ghcr.io/open-webui/open-webui:main",
      join(ROOT, "test/fixtures/open-webui"),
    ], 600_000);
    await podman([...build, "-t", IMAGE, ROOT], 600_000);
    await podman([
      ...build,
      "-f",
      join(ROOT, "examples/open-webui/Dockerfile"),
      "-t",
      OPEN_WEBUI,
      ROOT,
    ], 600_000);
    db = await postgresFixture();
  });

  after(async () => {
    for (const name of containers) await run(PODMAN, ["run", "rm", "-f", "-t", "0", name]);
    await db?.close();
  });

  async function start(
    image: string,
    env: Record<string, string>,
    extra: string[] = [],
    command: string[] = [],
  ) {
    const name = `invite-code-test-${crypto.randomUUID().slice(0, 8)}`;
    containers.push(name);
    const flags = Object.entries(env).flatMap(([key, value]) => ["-e", `${key}=${value}`]);
    await podman([
      "run",
      "-d",
      "--name",
      name,
      "--network=host",
      ...flags,
      ...extra,
      image,
      ...command,
    ]);
    return name;
  }

  test("(a) the project's image: numeric user, repair, probe, healthcheck, stops within 5 s", async () => {
    assert.match(
      await podman(["image", "inspect", "--format", "{{.Config.User}}", IMAGE]),
      /^\d+(:\d+)?$/,
    );
    await db.seed({ users: 30, missing: 12 });
    const port = String(await freePort());
    const name = await start(IMAGE, { ...db.env, HEALTH_PORT: port, HEALTH_HOST: "127.0.0.1" });
    await waitForText(`http://127.0.0.1:${port}/health/invite-codes?format=text`, "missing=0\n");
    const output = await logs(name);
    assert.ok(output.includes(LOG.success(12)), output);
    await podman(["healthcheck", "run", name]);
    const stopped = await stopTimed(name);
    assert.ok(stopped < 5000, `stopped in ${stopped} ms`);
  });

  test("(a) stopped during a slow MIGRATE_CMD, the image stops within 5 s", async () => {
    const name = await start(IMAGE, {
      ...db.env,
      MIGRATE_CMD: "sleep 60",
      HEALTH_PORT: String(await freePort()),
    });
    await waitForLog(name, "Running database migrations...");
    const stopped = await stopTimed(name);
    assert.ok(stopped < 5000, `stopped in ${stopped} ms`);
    assert.doesNotMatch(await logs(name), /Checking for users/);
  });

  for (const dialect of ["postgres", "sqlite"] as const) {
    test(`(b) Open WebUI's image with the tool, on ${dialect}: alembic, repair, app, then missing=0`, async () => {
      const probePort = String(await freePort());
      const appPort = String(await freePort());
      const env: Record<string, string> = {
        HEALTH_PORT: probePort,
        HEALTH_HOST: "127.0.0.1",
        PORT: appPort,
      };
      const extra: string[] = [];
      let data: string | undefined;
      if (dialect === "postgres") {
        await db.exec(`DROP TABLE IF EXISTS "user"`);
        await db.exec(`DROP TABLE IF EXISTS alembic_version`);
        env.DATABASE_URL = db.env.DATABASE_URL.replace(/^postgres:/, "postgresql+psycopg2:");
      } else {
        data = mkdtempSync(join(tmpdir(), "invite-code-owui-data-"));
        extra.push("-v", `${data}:/app/backend/data`);
      }
      try {
        const name = await start(OPEN_WEBUI, env, extra);
        await waitForText(
          `http://127.0.0.1:${probePort}/health/invite-codes?format=text`,
          "missing=0\n",
          120_000,
        );
        const output = await waitForLog(name, `app serving on ${appPort}`);
        const order = [
          "Running database migrations...",
          "Running upgrade 7e5b5dc7342b -> m1n2o3p4q5r6",
          "Checking for users without invite codes...",
          LOG.found(25),
          LOG.success(25),
          `app serving on ${appPort}`,
        ].map((line) => output.indexOf(line));
        assert.ok(order.every((at) => at >= 0), output);
        assert.deepEqual([...order].sort((x, y) => x - y), order, `in order:\n${output}`);
        assert.equal(
          await (await fetch(`http://127.0.0.1:${appPort}/`)).text(),
          "open-webui stand-in\n",
        );
        if (data) assert.ok(existsSync(join(data, "webui.db")), "SQLite in the volume");
        const stopped = await stopTimed(name);
        assert.ok(stopped < 5000, `stopped in ${stopped} ms`);
      } finally {
        if (data) rmSync(data, { recursive: true, force: true });
      }
    });
  }

  test("(c) self-healing sidecar: a column added later and a user inserted later get codes", async () => {
    await db.seed({ users: 8, column: false });
    const port = String(await freePort());
    const name = await start(IMAGE, {
      ...db.env,
      HEALTH_PORT: port,
      HEALTH_HOST: "127.0.0.1",
      HEALTH_CACHE_MS: "200",
      REPAIR_INTERVAL: "2",
    });
    const probe = `http://127.0.0.1:${port}/health/invite-codes?format=text`;
    await waitForLog(name, "skipping auto-fix");
    // The app's own migration adds the column after the sidecar started.
    await db.exec(`ALTER TABLE "user" ADD COLUMN invite_code VARCHAR(8) UNIQUE`);
    await waitForText(probe, "missing=0\n", 10_000);
    await db.exec(
      `INSERT INTO "user" (id, name, email, role, profile_image_url, created_at, updated_at, last_active_at)
       VALUES ('late', 'Late', 'late@example.com', 'user', '', 1, 1, 1)`,
    );
    const until = Date.now() + 10_000;
    while ((await db.rows()).some((row) => row.code === null)) {
      assert.ok(Date.now() < until, "the late user got a code within 10 s (interval 2 s)");
      await sleep(200);
    }
    await waitForText(probe, "missing=0\n", 5_000);
    const metrics = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
    assert.match(metrics, /^invite_codes_repairs_total [2-9]\d*$/m);
    assert.match(metrics, /^invite_codes_repaired_users_total 9$/m);
    assert.match(await logs(name), literal(LOG.success(1)));
  });

  test("(d) the compose file passes docker-compose's own check", {
    skip: composeMissing,
  }, async () => {
    const compose = await run("docker-compose", [
      "-f",
      join(ROOT, "examples/docker-compose.yml"),
      "config",
      "-q",
    ]);
    assert.equal(compose.code, 0, compose.stderr);
  });
});

// No podman needed: the manifests are checked on every machine.
test("(d) the Kubernetes manifests pass their schemas, and a slow first start is not killed", () => {
  const documents = parseAllDocuments(
    readFileSync(join(ROOT, "examples/kubernetes.yaml"), "utf8"),
  );
  const kinds: string[] = [];
  for (const document of documents) {
    const object = document.toJS();
    kinds.push(object.kind);
    const model = { Secret, Service, Deployment }[object.kind as "Secret"];
    assert.ok(model, `a known kind: ${object.kind}`);
    new model(object).validate();
  }
  assert.ok(kinds.includes("Deployment"));
  // Every container of ours runs hardened, as a numeric user, within measured limits.
  for (const document of documents) {
    const object = document.toJS();
    if (object.kind !== "Deployment") continue;
    for (const container of object.spec.template.spec.containers) {
      if (!String(container.image).includes("invite-code-repair")) continue;
      const context = container.securityContext;
      assert.equal(context.allowPrivilegeEscalation, false);
      assert.equal(context.readOnlyRootFilesystem, true);
      assert.deepEqual(context.capabilities.drop, ["ALL"]);
      assert.equal(context.runAsUser, 1000);
      assert.ok(container.resources.limits.memory);
    }
  }
  // The app's container migrates and repairs before it listens (the repair
  // alone may take its 120 s deadline): a startup probe holds liveness off
  // for longer than that, and liveness does not count before it passes.
  const deployments = documents.map((d) => d.toJS()).filter((o) => o.kind === "Deployment");
  const app = deployments.flatMap((d) => d.spec.template.spec.containers)
    .find((c) => String(c.image).includes("open-webui-invites"));
  assert.ok(app?.startupProbe, "the app's container has a startup probe");
  const budget = (app.startupProbe.periodSeconds ?? 10) * (app.startupProbe.failureThreshold ?? 3);
  assert.ok(budget >= 180, `the startup probe allows ${budget} s, more than migration and repair`);
  assert.equal(app.livenessProbe.initialDelaySeconds, undefined);
  // The probe's own container: liveness on /livez, which answers from the first second.
  const probe = deployments.flatMap((d) => d.spec.template.spec.containers)
    .find((c) => String(c.image).includes("invite-code-repair"));
  assert.equal(probe.livenessProbe.httpGet.path, "/livez");
  assert.equal(probe.readinessProbe.httpGet.path, "/health/invite-codes");
});
