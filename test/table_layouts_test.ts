/**
 * Tables laid out unlike Open WebUI's: a SQLite table WITHOUT ROWID, and a
 * PostgreSQL user table whose rows live in several tables (partitioned, or a
 * parent by inheritance). Each test makes its own database and stands alone.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import {
  assertUniqueAndKept,
  cliWithoutSecrets,
  lines,
  postgresFixture,
  serverPasswords,
  sqliteFixture,
  warned,
} from "./helpers.ts";
import { LOG } from "../src/messages.ts";

const cli = cliWithoutSecrets(new Set(serverPasswords()));

test("sqlite: a table WITHOUT ROWID: the WARNING names it, and --check still reports", async () => {
  const db = await sqliteFixture();
  try {
    await db.seed({ users: 0, table: false });
    await db.exec(
      `CREATE TABLE "user" (id TEXT PRIMARY KEY, created_at INTEGER, invite_code TEXT) WITHOUT ROWID`,
    );
    await db.exec(`INSERT INTO "user" VALUES ('a', 0, NULL), ('b', 0, 'KEPT42')`);
    const result = await cli([], db.env);
    assert.equal(result.code, 0);
    assert.equal(lines(result.stdout).length, 1, result.stdout);
    assert.match(result.stdout, warned(/.*WITHOUT ROWID/));
    const check = await cli(["--check"], db.env);
    assert.equal(check.code, 1);
    assert.deepEqual(lines(check.stdout), [LOG.checkFailed("1 of 2 users have no invite code")]);
  } finally {
    await db.close();
  }
});

// A user table whose rows live in several tables (PostgreSQL): their ctids
// repeat from table to table. Named by ctid alone, one chunk gave a code to
// a row in each partition, and 30,000 users ended with 10,362 distinct codes.
const users = (table: string, remainder: number) =>
  `INSERT INTO ${table} SELECT 'u' || lpad(g::text, 5, '0'), g,
     CASE WHEN g % 10 = 0 THEN 'KEPT' || g END
   FROM generate_series(1, 3000) g WHERE g % 3 = ${remainder}`;
const layouts: Record<string, string[]> = {
  "partitioned": [
    `CREATE TABLE "user" (id TEXT, created_at BIGINT, invite_code VARCHAR(16)) PARTITION BY HASH (id)`,
    ...[0, 1, 2].map((r) =>
      `CREATE TABLE user_${r} PARTITION OF "user" FOR VALUES WITH (MODULUS 3, REMAINDER ${r})`
    ),
    `CREATE INDEX ON "user" (invite_code)`,
    ...[0, 1, 2].map((r) => users(`"user"`, r)),
  ],
  "a parent by inheritance": [
    `CREATE TABLE "user" (id TEXT, created_at BIGINT, invite_code VARCHAR(16))`,
    `CREATE TABLE user_1 () INHERITS ("user")`,
    `CREATE TABLE user_2 () INHERITS ("user")`,
    `CREATE INDEX ON "user" (invite_code)`,
    users(`"user"`, 0),
    users("user_1", 1),
    users("user_2", 2),
  ],
};
for (const [layout, statements] of Object.entries(layouts)) {
  test(`${layout}: each user gets a code of their own, and --fix-duplicates clears only the duplicate`, async () => {
    const db = await postgresFixture();
    try {
      await db.seed({ users: 0, table: false });
      for (const statement of statements) await db.exec(statement);
      const before = await db.rows();
      const result = await cli([], db.env);
      assert.deepEqual(lines(result.stdout), [LOG.found(2700), LOG.success(2700)]);
      const filled = await db.rows();
      assertUniqueAndKept(before, filled);

      await db.exec(`UPDATE "user" SET invite_code = 'SAME42' WHERE id IN ('u00001', 'u00002')`);
      const fixed = await cli(["--fix-duplicates"], db.env);
      assert.deepEqual(lines(fixed.stdout), [
        LOG.clearedDuplicates(1),
        LOG.found(1),
        LOG.success(1),
      ]);
      const after = await db.rows();
      const changed = after.filter((r, i) => r.code !== filled[i].code).map((r) => r.id);
      assert.deepEqual(changed, ["u00001", "u00002"], "only the two rows set to SAME42 changed");
      assert.equal(after[0].code, "SAME42", "the earliest holder keeps SAME42");
      assertUniqueAndKept(filled.slice(2), after.slice(2));
    } finally {
      await db.close();
    }
  });
}
