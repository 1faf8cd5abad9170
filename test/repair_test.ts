/**
 * The repair as an operator meets it: the CLI run as a subprocess against a
 * real PostgreSQL database and a real SQLite file, with its exact log lines.
 */
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import postgres from "postgres";
import { check, repair, VERSION } from "../mod.ts";
import { createProbe, PROBE_PATH } from "../health.ts";
import {
  assignOnly,
  type Fixture,
  FIXTURES,
  GENERATED_CODE,
  isMissing,
  lines,
  literal,
  postgresFixture,
  type Row,
  runCli,
  sqliteFixture,
  warned,
} from "./helpers.ts";
import { LOG } from "../src/messages.ts";
import { ALPHABET } from "../src/codes.ts";

function assertAllUnique(rows: Row[]) {
  const codes = rows.map((r) => r.code);
  assert.equal(new Set(codes).size, codes.length, "every code is unique");
  assert.ok(codes.every((c) => !isMissing(c)), "no code is missing");
}

/** Two users, User 1 and User 2, share the code SAME42. */
async function shareCode(db: Fixture) {
  await db.exec(`UPDATE "user" SET invite_code = 'SAME42' WHERE name IN ('User 1', 'User 2')`);
}

/**
 * Two users share a code (made here unless `shared` says it already is):
 * `--check` exits 1 naming both holders of the one shared code, the probe warns with them, and
 * `--fix-duplicates` gives the later holder a new code.
 */
async function assertSharedCodeSeen(db: Fixture, options: { shared?: boolean } = {}) {
  if (options.shared !== false) await shareCode(db);
  const checked = await runCli(["--check", "--json"], db.env);
  assert.equal(checked.code, 1, checked.stdout + checked.stderr);
  const report = JSON.parse(checked.stdout);
  assert.deepEqual(
    [report.status, report.duplicates, report.sharedCodes, report.schema.unique],
    ["duplicates", 2, 1, false],
  );

  const probe = createProbe({ env: db.env, settings: { cacheMs: 0 }, log: () => {} });
  try {
    const answer = await probe.app.request(PROBE_PATH);
    assert.equal(answer.status, 200);
    const body = await answer.json();
    assert.equal(body.status, "warn");
    assert.equal(body.checks["invite_codes:duplicates"][0].observedValue, 2);
    assert.equal(body.checks["invite_codes:unique_constraint"][0].status, "warn");
  } finally {
    await probe.close();
  }

  const fixed = await runCli(["--fix-duplicates"], db.env);
  assert.equal(fixed.code, 0, fixed.stderr);
  assert.deepEqual(lines(fixed.stdout), [
    LOG.clearedDuplicates(1),
    LOG.found(1),
    LOG.success(1),
  ]);
  assertAllUnique(await db.rows());
  assert.equal((await runCli(["--check"], db.env)).code, 0);
}

for (const [dialect, open] of FIXTURES) {
  describe(`repair on ${dialect}`, () => {
    let db: Fixture;
    before(async () => (db = await open()));
    after(() => db.close());

    test("15 users without codes: Found, SUCCESS, then All users on the next start", async () => {
      await db.seed({ users: 15, missing: 10, blank: 5 });
      const first = await runCli([], db.env);
      assert.equal(first.code, 0, first.stderr);
      assert.deepEqual(lines(first.stdout), [
        LOG.found(15),
        LOG.success(15),
      ]);
      const rows = await db.rows();
      assertAllUnique(rows);
      assert.ok(rows.every((r) => GENERATED_CODE.test(r.code!)), "codes from the alphabet");
      assert.ok(rows.every((r) => r.code!.length === 6), "six characters when nothing collides");

      const second = await runCli([], db.env);
      assert.equal(second.code, 0);
      assert.deepEqual(lines(second.stdout), [
        LOG.allHaveCodes(15),
      ]);
      assert.deepEqual(await db.rows(), rows, "a second start changes nothing");
    });

    test("existing codes are never changed, whatever they look like", async () => {
      await db.seed({ users: 60, missing: 12, blank: 8 });
      await db.exec(`UPDATE "user" SET invite_code = 'x y' WHERE name = 'User 1'`);
      await db.exec(`UPDATE "user" SET invite_code = ' lead' WHERE name = 'User 2'`);
      const before = await db.rows();
      const result = await runCli([], db.env);
      assert.equal(result.code, 0, result.stderr);
      const after = await db.rows();
      assertAllUnique(after);
      for (const [i, row] of before.entries()) {
        if (!isMissing(row.code)) assert.equal(after[i].code, row.code, `kept ${row.code}`);
      }
      assert.equal(after.filter((r, i) => r.code !== before[i].code).length, 20);
    });

    test("blank includes Unicode's whitespace; codes that only contain it are kept", async () => {
      await db.seed({ users: 10 });
      const blank = ["\u00a0", "\u3000\t ", "\ufeff", "\u2003\u2003"];
      const kept = [" A", "B\u00a0", "\u00c9T\u00c9", "\u3000X"];
      for (const [i, code] of [...blank, ...kept].entries()) {
        await db.exec(`UPDATE "user" SET invite_code = '${code}' WHERE name = 'User ${i + 1}'`);
      }
      assert.equal((await check({ env: db.env })).missing, blank.length, "counted as missing");
      const result = await runCli([], db.env);
      assert.deepEqual(lines(result.stdout), [LOG.found(4), LOG.success(4)]);
      const after = await db.rows();
      assertAllUnique(after);
      for (const code of kept) assert.ok(after.some((r) => r.code === code), `kept ${code}`);
    });

    for (const index of ["no index", "an index that allows duplicates"]) {
      test(`a column without a unique constraint, ${index}, still gets unique codes`, async () => {
        await db.seed({ users: 500, missing: 200, blank: 100, unique: false });
        if (index !== "no index") {
          await db.exec(`CREATE INDEX user_invite_code_plain ON "user" (invite_code)`);
        }
        const result = await runCli([], db.env);
        assert.match(result.stdout, literal(LOG.success(300)));
        assertAllUnique(await db.rows());
      });
    }

    for (const index of ["no index", "a plain index"]) {
      test(`without a unique index (${index}), one atomic repair of more users than a chunk holds: the second chunk never reuses the first one's codes`, async () => {
        await db.seed({ users: 40, missing: 25, unique: false });
        if (index !== "no index") {
          await db.exec(`CREATE INDEX user_invite_code_plain ON "user" (invite_code)`);
        }
        // The second chunk is offered the very candidates the first one drew:
        // only the repair's own record of the codes it gave can turn them down.
        const random = crypto.getRandomValues;
        let first: Uint8Array | undefined;
        let replayed = 0;
        crypto.getRandomValues = (<T extends ArrayBufferView | null>(bytes: T): T => {
          const view = new Uint8Array(bytes!.buffer, bytes!.byteOffset, bytes!.byteLength);
          // Codes are drawn 64 bytes or more at a time; a driver's nonce is smaller.
          if (view.length < 64) {
            random.call(crypto, view);
          } else if (!first) {
            random.call(crypto, view);
            first = view.slice();
          } else if (replayed === 0 && view.length === first.length) {
            view.set(first);
            replayed++;
          } else {
            random.call(crypto, view);
          }
          return bytes;
        }) as typeof crypto.getRandomValues;
        const logged: string[] = [];
        const report = await repair({
          env: db.env,
          chunkSize: 10,
          log: (line) => logged.push(line),
        }).finally(() => (crypto.getRandomValues = random));
        assert.equal(replayed, 1, "the second chunk was offered the first chunk's candidates");
        assert.equal(report.status, "repaired", logged.join("\n"));
        assert.deepEqual(logged, [LOG.found(25), LOG.success(25)]);
        assertAllUnique(await db.rows());
      });
    }

    // PostgreSQL only: SQLite draws distinct codes per batch, which a
    // constant draw never gives.
    if (dialect === "postgres") {
      test("a citext column without an index: a code another user holds in other case is never given, not even to be taken back", async () => {
        await db.exec("CREATE EXTENSION IF NOT EXISTS citext");
        await db.seed({ users: 3, missing: 1, unique: false, column: "CITEXT" });
        await db.exec(
          `UPDATE "user" SET invite_code = 'aaaaaa' WHERE name = (SELECT min(name) FROM "user" WHERE invite_code IS NOT NULL)`,
        );
        // Every draw is then AAAAAA (AAAAAAA once the repair lengthens its
        // codes), and to a citext column AAAAAA is the code above.
        const random = crypto.getRandomValues;
        crypto.getRandomValues = (<T extends ArrayBufferView | null>(bytes: T): T => {
          new Uint8Array(bytes!.buffer).fill(ALPHABET.indexOf("A"));
          return bytes;
        }) as typeof crypto.getRandomValues;
        const logged: string[] = [];
        const report = await repair({ env: db.env, log: (line) => logged.push(line) })
          .finally(() => (crypto.getRandomValues = random));
        assert.equal(report.status, "repaired");
        // Not given and then taken back (the repair's net for codes another
        // user also holds): never given.
        assert.deepEqual(logged, [LOG.found(1), LOG.success(1)]);
        const codes = (await db.rows()).map((r) => r.code);
        assert.ok(!codes.includes("AAAAAA"), `AAAAAA given beside aaaaaa: ${codes.join(" ")}`);
        assert.equal((await check({ env: db.env })).duplicates, 0);
      });
    }

    test("missing column or table: INFO skip line, exit 0, nothing created", async () => {
      await db.seed({ users: 3, column: false });
      let result = await runCli(["--strict"], db.env);
      assert.equal(result.code, 0);
      assert.deepEqual(lines(result.stdout), [
        LOG.skipped('column invite_code does not exist in table "user"'),
      ]);
      await db.seed({ users: 0, table: false });
      result = await runCli([], db.env);
      assert.equal(result.code, 0);
      assert.deepEqual(lines(result.stdout), [
        LOG.skipped('table "user" does not exist'),
      ]);
    });

    test("--check exits 1 while users are missing, 0 after the repair", async () => {
      await db.seed({ users: 20, missing: 7 });
      const missing = await runCli(["--check"], db.env);
      assert.equal(missing.code, 1);
      assert.deepEqual(lines(missing.stdout), [
        LOG.checkFailed("7 of 20 users have no invite code"),
      ]);
      assert.equal((await db.rows()).filter((r) => isMissing(r.code)).length, 7, "read-only");
      await runCli([], db.env);
      const ok = await runCli(["--check"], db.env);
      assert.equal(ok.code, 0);
      assert.deepEqual(lines(ok.stdout), [LOG.allHaveCodes(20)]);
    });

    test("--check exits 1 on duplicated codes in a column without a unique constraint", async () => {
      await db.seed({ users: 6, unique: false });
      await db.exec(
        `UPDATE "user" SET invite_code = 'SAME42' WHERE name IN ('User 1', 'User 2', 'User 3')`,
      );
      const result = await runCli(["--check", "--json"], db.env);
      assert.equal(result.code, 1);
      const report = JSON.parse(result.stdout);
      assert.equal(report.status, "duplicates");
      assert.equal(report.duplicates, 3, "every holder of SAME42 counts");
      assert.equal(report.sharedCodes, 1);
      assert.equal(report.schema.unique, false);
    });

    test("two users share a code: a start says so, and --fix-duplicates --dry-run says what the real run changes", async () => {
      await db.seed({ users: 5, unique: false });
      await db.exec(`UPDATE "user" SET invite_code = 'SAME42' WHERE name IN ('User 1', 'User 2')`);
      const before = await db.rows();
      const start = await runCli([], db.env);
      assert.equal(start.code, 0);
      assert.deepEqual(lines(start.stdout), [LOG.allHaveCodes(5), LOG.duplicatesLeft(2, 1)]);
      const checked = await runCli(["--check"], db.env);
      assert.equal(checked.code, 1);
      assert.deepEqual(lines(checked.stdout), [
        LOG.checkFailed("2 users hold a code another user also holds"),
      ]);
      const dry = await runCli(["--fix-duplicates", "--dry-run"], db.env);
      assert.deepEqual(lines(dry.stdout), [LOG.foundDryRun(0), LOG.duplicatesDryRun(1, 2, 1)]);
      assert.match(
        LOG.duplicatesDryRun(1, 2, 1),
        /new codes to 1 of the 2 users who share 1 invite code /,
      );
      assert.deepEqual(await db.rows(), before, "the dry run changed nothing");
      const fixed = await runCli(["--fix-duplicates"], db.env);
      assert.deepEqual(lines(fixed.stdout), [
        LOG.clearedDuplicates(1),
        LOG.found(1),
        LOG.success(1),
      ]);
      assert.match(LOG.clearedDuplicates(1), /of 1 user who/);
      const after = await db.rows();
      assert.equal(
        after.filter((row, i) => row.code !== before[i].code).length,
        1,
        "the real run changed as many users as the dry run said",
      );
      assertAllUnique(after);
    });

    // An index that leads with the column but does not hold it unique alone
    // is no guard: two users sharing a code must show, whatever the index.
    const notGuards: [string, string][] = [
      [
        "a composite unique index leading with invite_code",
        `CREATE UNIQUE INDEX user_code_and_id ON "user" (invite_code, id)`,
      ],
      ["a plain index on invite_code", `CREATE INDEX user_code_plain ON "user" (invite_code)`],
    ];
    for (const [index, ddl] of notGuards) {
      test(`${index} is not the column's guard: --check, the probe and --fix-duplicates see a shared code`, async () => {
        await db.seed({ users: 6, unique: false });
        await db.exec(ddl);
        await assertSharedCodeSeen(db);
      });
    }

    if (dialect === "postgres") {
      test("an invalid unique index (a failed CREATE UNIQUE INDEX CONCURRENTLY) is not the column's guard", async () => {
        await db.seed({ users: 6, unique: false });
        await shareCode(db);
        // The build meets the duplicate and fails, leaving the index behind, invalid.
        await assert.rejects(
          db.exec(`CREATE UNIQUE INDEX CONCURRENTLY user_code_uniq ON "user" (invite_code)`),
          /could not create unique index/,
        );
        const sql = postgres(db.env.DATABASE_URL, { max: 1, onnotice: () => {} });
        try {
          const [left] = await sql.unsafe<{ indisvalid: boolean }[]>(
            `SELECT indisvalid FROM pg_index WHERE indexrelid = 'user_code_uniq'::regclass`,
          );
          assert.equal(left.indisvalid, false, "the failed build left an invalid index");
        } finally {
          await sql.end();
        }
        await assertSharedCodeSeen(db, { shared: false });
      });
    }

    test("--dry-run reports and changes nothing", async () => {
      await db.seed({ users: 12, missing: 4 });
      const before = await db.rows();
      const result = await runCli(["--dry-run"], db.env);
      assert.equal(result.code, 0);
      assert.deepEqual(lines(result.stdout), [
        LOG.foundDryRun(4),
      ]);
      assert.deepEqual(await db.rows(), before);
    });

    test("--json prints one report object on stdout, log lines on stderr", async () => {
      await db.seed({ users: 9, missing: 9 });
      const result = await runCli(["--json"], db.env);
      assert.equal(result.code, 0);
      const report = JSON.parse(result.stdout);
      assert.equal(report.status, "repaired");
      assert.equal(report.total, 9);
      assert.equal(report.missing, 9);
      assert.equal(report.generated, 9);
      assert.equal(report.duplicates, 0);
      assert.equal(report.schema.dialect, dialect);
      assert.equal(report.schema.maxLength, 8);
      assert.equal(report.schema.unique, true);
      assert.equal(typeof report.durationMs, "number");
      assert.match(report.database, dialect === "postgres" ? /^postgres:\/\// : /^sqlite:\/\/\//);
      assert.match(result.stderr, literal(LOG.success(9)));
    });

    test("--json has one shape, with the version, for --check, --dry-run and a repair", async () => {
      await db.seed({ users: 6, missing: 2 });
      const runs = [
        await runCli(["--check", "--json"], db.env),
        await runCli(["--dry-run", "--json"], db.env),
        await runCli(["--json"], db.env),
      ];
      const reports = runs.map((run) => JSON.parse(run.stdout));
      assert.deepEqual(reports.map((r) => r.command), ["check", "dry-run", "repair"]);
      assert.deepEqual(reports.map((r) => r.status), ["missing", "dry-run", "repaired"]);
      for (const report of reports) {
        assert.deepEqual(Object.keys(report), Object.keys(reports[0]), "the same keys, in order");
        assert.equal(report.version, VERSION);
      }
      assert.deepEqual(reports.map((r) => [r.generated, r.remaining]), [[0, 2], [0, 2], [2, 0]]);
    });

    test("--batch-size commits in batches and fixes everyone", async () => {
      await db.seed({ users: 40, missing: 23 });
      const result = await runCli(["--batch-size", "5"], db.env);
      assert.deepEqual(lines(result.stdout), [
        LOG.found(23),
        LOG.success(23),
      ]);
      assertAllUnique(await db.rows());
    });

    test("atomic by default: a failure part-way leaves every user as it was", async () => {
      await db.seed({ users: 30, missing: 30 });
      await db.exec(failOnUserTrigger(dialect, "name", "User 17"));
      const before = await db.rows();
      const result = await runCli(["--strict"], db.env);
      assert.equal(result.code, 1, "--strict turns the failure into exit 1");
      assert.match(
        lines(result.stdout).at(-1)!,
        warned(/.*refused/),
      );
      assert.deepEqual(await db.rows(), before, "nothing half-written");
    });

    test("--batch-size keeps whole batches that committed before a failure", async () => {
      await db.seed({ users: 30, missing: 30 });
      // The last user in the repair's walk order (physical order; rowid on SQLite) refuses.
      await db.exec(failOnUserTrigger(dialect, "name", "User 30"));
      const result = await runCli(["--batch-size", "4"], db.env);
      assert.equal(result.code, 0, "fail-open");
      const fixed = (await db.rows()).filter((r) => !isMissing(r.code)).length;
      assert.equal(fixed, 28, "the seven whole batches before the failing one stay committed");
      const last = lines(result.stdout).at(-1)!;
      assert.match(last, /update refused by test trigger/);
      assert.ok(last.startsWith(LOG.partial(28, 30, 2, "").split(", then stopped")[0]), last);
      assert.ok(last.endsWith(LOG.partial(28, 30, 2, "").split("; ")[1]), last);

      await db.exec(dialect === "sqlite" ? "DROP TRIGGER refuse" : 'DROP TRIGGER refuse ON "user"');
      const rerun = await runCli(["--batch-size", "4"], db.env);
      assert.match(rerun.stdout, literal(LOG.success(2)), "a rerun resumes");
    });

    test("committed work is never reported as failed: --json says partial, what committed and what is left", async () => {
      await db.seed({ users: 30, missing: 30 });
      await db.exec(failOnUserTrigger(dialect, "name", "User 30"));
      const result = await runCli(["--batch-size", "4", "--json", "--strict"], db.env);
      assert.equal(result.code, 1, "--strict: the users left make it exit 1");
      const report = JSON.parse(result.stdout);
      assert.equal(report.status, "partial");
      assert.equal(report.generated, 28);
      assert.equal(report.remaining, 2);
      assert.equal(report.missing, 30);
      assert.match(report.error.message, /update refused by test trigger/);
      assert.doesNotMatch(
        result.stderr,
        warned(),
        "no 'Failed to auto-fix' line for committed work",
      );
    });

    test("a --batch-size run that reaches --timeout reports the batches it committed", async () => {
      await db.seed({ users: 200, missing: 200 });
      const printed: string[] = [];
      // Throttled to 100 users/s: two or three batches of 50 commit before the 1.5 s deadline.
      const report = await repair({
        env: db.env,
        batchSize: 50,
        timeoutMs: 1_500,
        throttle: { maxRate: 100, maxLagSeconds: 1e9, maxActiveSessions: 1e9 },
        log: (line) => printed.push(line),
      });
      const fixed = (await db.rows()).filter((r) => !isMissing(r.code)).length;
      assert.equal(report.status, "partial", printed.join("\n"));
      assert.equal(report.error?.kind, "timeout");
      assert.ok(fixed >= 50 && fixed < 200 && fixed % 50 === 0, `${fixed} committed`);
      assert.equal(report.generated, fixed, "generated counts exactly what committed");
      assert.equal(report.remaining, 200 - fixed);
      assert.equal(
        printed.at(-1),
        LOG.partial(fixed, 200, 200 - fixed, report.error!.message),
      );
    });

    test("progress lines on long runs", async () => {
      await db.seed({ users: 25, missing: 25 });
      const log: string[] = [];
      const report = await repair({
        env: db.env,
        log: (line) => log.push(line),
        chunkSize: 10,
        progressIntervalMs: 0,
      });
      assert.equal(report.generated, 25);
      assert.deepEqual(log, [
        LOG.found(25),
        LOG.progress(10, 25),
        LOG.progress(20, 25),
        LOG.progress(25, 25),
        LOG.success(25),
      ]);
    });

    test("library check() sees what the CLI sees", async () => {
      await db.seed({ users: 5, missing: 2 });
      const result = await check({ env: db.env });
      assert.equal(result.status, "missing");
      assert.equal(result.missing, 2);
      assert.equal(result.total, 5);
    });
  });
}

describe("statistics after a large backfill (PostgreSQL)", () => {
  test("the planner learns that the codes are there: invite_code's null fraction is refreshed", async () => {
    const db = await postgresFixture();
    const sql = postgres(db.env.DATABASE_URL, { max: 1, onnotice: () => {} });
    const nullFraction = async () =>
      (await sql<{ f: number }[]>`SELECT null_frac::float8 AS f FROM pg_stats
        WHERE tablename = 'user' AND attname = 'invite_code'`)[0]?.f;
    try {
      await db.seed({ users: 12_000, missing: 12_000 }); // seeding analyzes: all NULL
      // Only the repair may refresh the statistics here.
      await db.exec(`ALTER TABLE "user" SET (autovacuum_enabled = false)`);
      assert.equal(await nullFraction(), 1);
      const report = await repair({ env: db.env, log: () => {} });
      assert.equal(report.generated, 12_000);
      assert.equal(await nullFraction(), 0, "ANALYZE ran after the backfill");
    } finally {
      await sql.end();
      await db.close();
    }
  });
});

/** A trigger that refuses the update of one user, to break a repair part-way. */
function failOnUserTrigger(dialect: string, column: string, value: string): string {
  if (dialect === "sqlite") {
    return `CREATE TRIGGER refuse BEFORE UPDATE ON "user" WHEN NEW.${column} = '${value}'
      BEGIN SELECT RAISE(ABORT, 'update refused by test trigger'); END`;
  }
  return `CREATE OR REPLACE FUNCTION refuse() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN RAISE EXCEPTION 'update refused by test trigger'; END $$;
    CREATE TRIGGER refuse BEFORE UPDATE ON "user" FOR EACH ROW
      WHEN (NEW.${column} = '${value}') EXECUTE FUNCTION refuse()`;
}

test("SQLite: a code another user holds is passed over by its result code, not taken for a constraint that refuses codes", async () => {
  const db = await sqliteFixture();
  try {
    await db.seed({ users: 3, missing: 1 });
    const held = (await db.rows()).map((row) => row.code).find((code) => !isMissing(code));
    assert.ok(held);
    const result = await assignOnly(db.env, held);
    // Under the unique index the one missing user's single try meets "UNIQUE
    // constraint failed" (SQLITE_CONSTRAINT_UNIQUE): a code taken, so none given.
    assert.deepEqual([result.assigned, result.targets], [0, 1]);
    assert.equal((await db.rows()).filter((row) => isMissing(row.code)).length, 1);
  } finally {
    await db.close();
  }
});

test("progress lines round down: never 100% before the last user", () => {
  assert.equal(LOG.progress(1, 3), "INFO: Generated invite codes for 1 of 3 users (33%)");
  assert.equal(LOG.progress(999, 1000), "INFO: Generated invite codes for 999 of 1000 users (99%)");
});
