/**
 * The README's narrowest Deno permission flags repair and check both a
 * PostgreSQL database and Open WebUI's default SQLite file; narrower ones
 * are refused with the permission they lack, never taken as "no file".
 */
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { test } from "node:test";
import {
  DENO_PERMISSIONS,
  lines,
  MOD,
  postgresFixture,
  ROOT,
  run,
  sqliteFixture,
  warned,
} from "./helpers.ts";
import { LOG } from "../src/messages.ts";

async function deno(flags: string[], args: string[], env: Record<string, string>, cwd?: string) {
  return await run("deno", ["run", ...flags, "--no-prompt", MOD, ...args], { env, cwd });
}

test("PostgreSQL with --allow-env --allow-net=host:port --allow-read of libpq's files", async () => {
  const db = await postgresFixture();
  const home = mkdtempSync(join(tmpdir(), "invite-code-home-"));
  try {
    await db.seed({ users: 8, missing: 3 });
    const url = new URL(db.env.DATABASE_URL);
    const env = { ...db.env, HOME: home };
    const net = ["--allow-env", `--allow-net=${url.hostname}:${url.port}`];
    // libpq would look for ~/.postgresql/root.crt: without the right to look, no connection.
    const blind = await deno(net, [], env);
    assert.equal(blind.code, 0, blind.stderr);
    assert.match(blind.stdout, warned(/sslrootcert: .*--allow-read/));
    assert.equal((await deno(net, ["--check"], env)).code, 2);
    const flags = [...net, `--allow-read=${home}/.postgresql,${home}/.pgpass`];
    const repaired = await deno(flags, [], env);
    assert.deepEqual(lines(repaired.stdout), [
      LOG.found(3),
      LOG.success(3),
    ], repaired.stderr);
    const checked = await deno(flags, ["--check"], env);
    assert.equal(checked.code, 0, checked.stderr);
  } finally {
    rmSync(home, { recursive: true, force: true });
    await db.close();
  }
});

test("SQLite under ./data with --allow-env --allow-read=./data --allow-write=./data", async () => {
  const db = await sqliteFixture();
  try {
    await db.seed({ users: 8, missing: 3 });
    const cwd = dirname(db.env.DATA_DIR); // the default DATA_DIR, ./data, is in here
    const flags = ["--allow-env", "--allow-read=./data", "--allow-write=./data"];
    const repaired = await deno(flags, [], {}, cwd);
    assert.deepEqual(lines(repaired.stdout), [
      LOG.found(3),
      LOG.success(3),
    ], repaired.stderr);
    const checked = await deno(["--allow-env", "--allow-read=./data"], ["--check"], {}, cwd);
    assert.equal(checked.code, 0, checked.stderr);
  } finally {
    await db.close();
  }
});

test("Deno without permissions: one line naming the flags, and the usual exit codes", async () => {
  const env = { DATABASE_URL: "postgresql://webui:pw@127.0.0.1:1/openwebui" };
  const plain = await deno([], [], env);
  assert.equal(plain.code, 0, "fail-open");
  const command = (script: string) => `deno run ${DENO_PERMISSIONS.join(" ")} ${script}`;
  assert.deepEqual(lines(plain.stdout), [LOG.failed(LOG.needsEnvPermission(command("mod.ts")))]);
  assert.equal(plain.stderr, "", "no stack trace");
  assert.equal((await deno([], ["--strict"], env)).code, 1);
  const checked = await deno([], ["--check"], env);
  assert.equal(checked.code, 2);
  assert.equal(lines(checked.stdout).length, 1);
  // A permission missing later (here the network) is named just as clearly.
  const noNet = await deno(["--allow-env", "--allow-read"], ["--check"], env);
  assert.equal(noNet.code, 2);
  assert.match(noNet.stdout, /^ERROR: Could not check invite codes: .*net access.*--allow-net/);
  assert.doesNotMatch(noNet.stdout + noNet.stderr, /^\s+at /m);
  // And the report says what kind of failure it was.
  const noNetJson = await deno(["--allow-env", "--allow-read"], ["--check", "--json"], env);
  assert.equal(JSON.parse(noNetJson.stdout).error.kind, "permission");
  const probe = await run("deno", ["run", "--no-prompt", join(ROOT, "health.ts")], { env });
  assert.equal(probe.code, 2);
  assert.equal(probe.stderr, `ERROR: ${LOG.needsEnvPermission(command("health.ts"))}\n`);
});
