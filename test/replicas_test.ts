/**
 * Many replicas start at once, on either dialect, on a PostgreSQL whose
 * transactions default to serializable, and on SQLite in WAL mode: one
 * repairs, the others find nothing to do, none warns. Each test stands alone
 * and checks its own output for the server's password.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import {
  assertUniqueAndKept,
  cliWithoutSecrets,
  countMissing,
  type Fixture,
  FIXTURES,
  literal,
  postgresFixture,
  serverPasswords,
  sqliteFixture,
} from "./helpers.ts";
import { LOG } from "../src/messages.ts";

const cli = cliWithoutSecrets(new Set(serverPasswords()));

/** Start `replicas` repairs at once: all exit 0, none warns, one generates `missing` codes. */
async function replicasRepairOnce(db: Fixture, replicas: number, missing: number) {
  const results = await Promise.all(
    Array.from({ length: replicas }, () => cli([], db.env, 120_000)),
  );
  for (const r of results) {
    assert.equal(r.code, 0, r.stderr);
    assert.doesNotMatch(r.stdout, /WARNING/, r.stdout);
  }
  const generators = results.filter((r) => r.stdout.includes(LOG.success(missing)));
  assert.equal(generators.length, 1, "exactly one replica generated codes");
  for (const r of results.filter((r) => !generators.includes(r))) {
    assert.doesNotMatch(
      r.stdout,
      literal(LOG.success(0).replace(" 0 ", " ")),
      "others generate nothing",
    );
  }
}

for (const [dialect, open] of FIXTURES) {
  test(`${dialect}: ${dialect === "postgres" ? 16 : 6} replicas, one repairs, none warns`, async () => {
    const db = await open();
    try {
      await db.seed({ users: 30_000, missing: 24_000, blank: 8 });
      const before = await db.rows();
      const replicas = dialect === "postgres" ? 16 : 6;
      await replicasRepairOnce(db, replicas, 24_008);
      assertUniqueAndKept(before, await db.rows());
    } finally {
      await db.close();
    }
  });
}

test("postgres: 8 replicas on a database whose transactions default to serializable", async () => {
  // A snapshot from before the lock wait would not see the first replica's
  // codes: the others would redo its work and fail to serialize.
  const pg = await postgresFixture();
  try {
    await pg.seed({ users: 30_000, missing: 24_000 });
    await pg.exec(`DO $$ BEGIN EXECUTE format(
      'ALTER DATABASE %I SET default_transaction_isolation = serializable', current_database());
      END $$`);
    await replicasRepairOnce(pg, 8, 24_000);
    assert.equal(countMissing(await pg.rows()), 0);
  } finally {
    await pg.close();
  }
});

// On SQLite in WAL mode, where readers no longer wait for the writer.
test("4 replicas at once: the one that generates reports success, and none warns", async () => {
  const lite = await sqliteFixture();
  try {
    await lite.seed({ users: 100_000, missing: 50_000 });
    await lite.exec("PRAGMA journal_mode=wal");
    const results = await Promise.all(
      Array.from({ length: 4 }, () => cli(["--strict", "--json"], lite.env, 120_000)),
    );
    for (const r of results) {
      assert.equal(r.code, 0, r.stderr);
      assert.doesNotMatch(r.stderr, /WARNING/);
    }
    const statuses = results.map((r) => JSON.parse(r.stdout).status).sort();
    assert.deepEqual(statuses, ["ok", "ok", "ok", "repaired"]);
    assert.equal(results.filter((r) => r.stderr.includes(LOG.success(50_000))).length, 1);
    assert.equal(countMissing(await lite.rows()), 0);
  } finally {
    await lite.close();
  }
});
