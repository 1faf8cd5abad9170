/**
 * Unusual data, on both dialects: integer ids and short columns, SQLite
 * rowids down to the least, CHAR and CITEXT columns, duplicated codes and
 * which holder keeps one, and PostgreSQL databases not encoded in UTF-8.
 * Each test makes its own database and stands alone.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import {
  cliWithoutSecrets,
  countMissing,
  FIXTURES,
  GENERATED_CODE,
  lines,
  literal,
  postgresFixture,
  serverPasswords,
} from "./helpers.ts";
import { LOG } from "../src/messages.ts";

const cli = cliWithoutSecrets(new Set(serverPasswords()));

for (const [dialect, open] of FIXTURES) {
  test(`${dialect}: integer ids, and a varchar(6) column`, async () => {
    const db = await open();
    try {
      await db.seed({ users: 0, table: false });
      await db.exec(
        `CREATE TABLE "user" (id BIGINT PRIMARY KEY, created_at BIGINT, invite_code VARCHAR(6) UNIQUE)`,
      );
      await db.exec(
        `INSERT INTO "user" (id, created_at) VALUES (7, 0), (3, 0), (-12, 0), (99999999999, 0)`,
      );
      const result = await cli([], db.env);
      assert.match(result.stdout, literal(LOG.success(4)));
      const rows = await db.rows();
      assert.ok(rows.every((r) => r.code?.length === 6));
    } finally {
      await db.close();
    }
  });

  if (dialect === "sqlite") {
    // An INTEGER PRIMARY KEY is the rowid: rows at zero, below it, and at its very least.
    for (const unique of [true, false]) {
      test(
        `sqlite: INTEGER PRIMARY KEY ids down to the least rowid, ${
          unique ? "with" : "without"
        } a unique index`,
        async () => {
          const db = await open();
          try {
            await db.seed({ users: 0, table: false });
            await db.exec(
              `CREATE TABLE "user" (id INTEGER PRIMARY KEY, created_at BIGINT, invite_code VARCHAR(8)${
                unique ? " UNIQUE" : ""
              })`,
            );
            await db.exec(
              `INSERT INTO "user" (id, created_at, invite_code) VALUES
               (-9223372036854775808, 0, NULL), (-12, 0, NULL), (0, 0, NULL), (5, 0, NULL),
               (9, 0, 'KEPT42')`,
            );
            const result = await cli([], db.env);
            assert.deepEqual(lines(result.stdout), [LOG.found(4), LOG.success(4)], result.stdout);
            const rows = await db.rows();
            assert.equal(countMissing(rows), 0);
            assert.ok(rows.some((r) => r.code === "KEPT42"));
          } finally {
            await db.close();
          }
        },
      );
    }
  }

  // Probed as text, a CHAR or CITEXT column's index went unused and each
  // candidate read the table: past a 60 s deadline, where VARCHAR(8) takes 0.4 s.
  for (const column of dialect === "postgres" ? ["CHAR(8)", "CITEXT"] : ["CHAR(8)"]) {
    test(`${dialect}: a ${column} column of 50,000 users gets its 5,000 codes well within --timeout 20`, async () => {
      const db = await open();
      try {
        if (column === "CITEXT") await db.exec("CREATE EXTENSION IF NOT EXISTS citext");
        await db.seed({ users: 50_000, missing: 5_000, column });
        const result = await cli(["--timeout", "20"], db.env);
        assert.doesNotMatch(result.stdout, /WARNING/, result.stdout);
        assert.match(result.stdout, literal(LOG.success(5_000)));
        const rows = await db.rows();
        assert.equal(countMissing(rows), 0);
        assert.equal(new Set(rows.map((r) => r.code)).size, rows.length, "every code is unique");
      } finally {
        await db.close();
      }
    });
  }

  test(`${dialect}: duplicates are reported, and --fix-duplicates keeps the earliest holder`, async () => {
    const db = await open();
    try {
      await db.seed({ users: 6, unique: false });
      await db.exec(
        `UPDATE "user" SET invite_code = 'SAME42' WHERE name IN ('User 1', 'User 2', 'User 3')`,
      );
      await db.exec(
        `UPDATE "user" SET created_at = -1, id = 'earliest-holder' WHERE name = 'User 3'`,
      );
      const plain = await cli([], db.env);
      assert.deepEqual(lines(plain.stdout), [
        LOG.allHaveCodes(6),
        LOG.duplicatesLeft(3, 1),
      ]);
      assert.equal((await cli(["--check"], db.env)).code, 1);
      const fixed = await cli(["--fix-duplicates"], db.env);
      assert.deepEqual(lines(fixed.stdout), [
        LOG.clearedDuplicates(2),
        LOG.found(2),
        LOG.success(2),
      ]);
      const after = await db.rows();
      // User 3 was created first (created_at -1): it keeps the code.
      assert.deepEqual(
        after.filter((r) => r.code === "SAME42").map((r) => r.id),
        ["earliest-holder"],
        "the earliest holder keeps SAME42",
      );
      assert.equal((await cli(["--check"], db.env)).code, 0);
    } finally {
      await db.close();
    }
  });
}

// Databases not encoded in UTF-8: chr() and ascii() take code points only
// in UTF-8, so in these the blank test failed every start ("requested
// character too large for encoding").
const foreignCode: Record<string, string> = {
  SQL_ASCII: "Öl-42",
  LATIN1: "Öl-42",
  EUC_JP: "日本-42",
};
for (const [encoding, code] of Object.entries(foreignCode)) {
  test(`postgres: ${encoding}: blanks repaired, a code that starts outside ASCII kept`, async () => {
    const db = await postgresFixture(encoding);
    try {
      await db.seed({ users: 0, table: false });
      await db.exec(
        `CREATE TABLE "user" (id TEXT PRIMARY KEY, created_at BIGINT, invite_code VARCHAR(16) UNIQUE)`,
      );
      await db.exec(
        `INSERT INTO "user" VALUES ('a', 0, NULL), ('b', 0, ''), ('c', 0, ' '),
           ('d', 0, E'\\t\\r\\n'), ('e', 0, 'KEPT42'), ('f', 0, '${code}')`,
      );
      const result = await cli([], db.env);
      assert.deepEqual(lines(result.stdout), [LOG.found(4), LOG.success(4)]);
      const rows = await db.rows();
      assert.deepEqual(rows.slice(4).map((r) => r.code), ["KEPT42", code]);
      assert.ok(
        rows.slice(0, 4).every((r) => GENERATED_CODE.test(r.code ?? "")),
        "blanks filled",
      );
      assert.deepEqual(lines((await cli([], db.env)).stdout), [LOG.allHaveCodes(6)]);
    } finally {
      await db.close();
    }
  });
}
