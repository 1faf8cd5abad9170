/**
 * The README's narrowest Deno permission flags repair and check both a
 * PostgreSQL database and Open WebUI's default SQLite file.
 */
import assert from "node:assert/strict";
import { dirname } from "node:path";
import { test } from "node:test";
import { lines, MOD, postgresFixture, run, sqliteFixture } from "./helpers.ts";
import { LOG } from "../messages.ts";

async function deno(flags: string[], args: string[], env: Record<string, string>, cwd?: string) {
  return await run("deno", ["run", ...flags, "--no-prompt", MOD, ...args], { env, cwd });
}

test("PostgreSQL with --allow-env --allow-net=host:port", async () => {
  const db = await postgresFixture();
  try {
    await db.seed({ users: 8, missing: 3 });
    const url = new URL(db.env.DATABASE_URL);
    const flags = ["--allow-env", `--allow-net=${url.hostname}:${url.port}`];
    const repaired = await deno(flags, [], db.env);
    assert.deepEqual(lines(repaired.stdout), [
      LOG.found(3),
      LOG.success(3),
    ], repaired.stderr);
    const checked = await deno(flags, ["--check"], db.env);
    assert.equal(checked.code, 0, checked.stderr);
  } finally {
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
