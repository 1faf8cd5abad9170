/**
 * Nothing lost, leaked or hung: replicas, crashes, concurrent writers,
 * outages, faults, bad input and odd data, against real servers, with the
 * CLI and the probe as real processes.
 */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { join } from "node:path";
import process from "node:process";
import { after, before, describe, test } from "node:test";
import postgres from "postgres";
import { repairLockKey } from "../src/db/postgres.ts";
import { repair } from "../src/repair.ts";
import {
  generateInviteCodes,
  InviteCodeError,
  parseDatabaseUrl,
  resolveDatabaseUrl,
} from "../mod.ts";
import { freePort } from "../scripts/net.ts";
import {
  type Fixture,
  FIXTURES,
  GENERATED_CODE,
  isMissing,
  launch,
  lines,
  literal,
  MOD,
  outageProxy,
  postgresFixture,
  ROOT,
  runCli,
  type Running,
  runtimeCommand,
  sendSignal,
  sleep,
  sqliteFixture,
  waitForHttp,
  waitForOutput,
  warned,
} from "./helpers.ts";
import { LOG } from "../src/messages.ts";

const outputs: string[] = [];
const secrets = new Set<string>([new URL(process.env.TEST_DATABASE_URL!).password]);

async function cli(args: string[], env: Record<string, string | undefined>, timeoutMs?: number) {
  const result = await runCli(args, env, { timeoutMs });
  outputs.push(result.stdout, result.stderr);
  return result;
}

function startCli(args: string[], env: Record<string, string>): Running {
  const [command, argv] = runtimeCommand(MOD, args);
  return launch(command, argv, { env });
}

function assertUniqueAndKept(before: { code: string | null }[], after: { code: string | null }[]) {
  const codes = after.map((r) => r.code);
  assert.equal(new Set(codes).size, codes.length, "every code unique");
  assert.ok(codes.every((c) => !isMissing(c)), "nobody missing");
  for (const [i, row] of before.entries()) {
    if (!isMissing(row.code)) {
      assert.equal(after[i].code, row.code, "an existing code never changes");
    }
  }
}

/** N of the first line that is exactly `line(N)`, so the catalogue alone spells the line. */
function numberIn(seen: string[], line: (n: number) => string): number | undefined {
  for (const text of seen) {
    for (const [digits] of text.matchAll(/\d+/g)) {
      if (line(Number(digits)) === text) return Number(digits);
    }
  }
}

function countMissing(rows: { code: string | null }[]): number {
  return rows.filter((r) => isMissing(r.code)).length;
}

/** A superuser connection to the test server, for roles and lock checks. */
function admin(database?: string) {
  const url = new URL(process.env.TEST_DATABASE_URL!);
  if (database) url.pathname = `/${database}`;
  return postgres(url.href, { max: 1, onnotice: () => {} });
}

async function advisoryLocksHeld(): Promise<number> {
  const sql = admin();
  try {
    const [row] = await sql`SELECT count(*)::int AS n FROM pg_locks WHERE locktype = 'advisory'`;
    return row.n;
  } finally {
    await sql.end();
  }
}

/** Wait until no advisory lock is held (a killed client's backend finishes its statement first). */
async function waitForLocksReleased(timeoutMs = 30_000) {
  const until = Date.now() + timeoutMs;
  while ((await advisoryLocksHeld()) > 0) {
    if (Date.now() > until) throw new Error("an advisory lock outlived its client");
    await sleep(100);
  }
}

describe("many replicas at once", () => {
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
});

describe("SQLite in WAL mode", () => {
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
});

describe("SIGKILL during a backfill", () => {
  let pg: Fixture;
  before(async () => (pg = await postgresFixture()));
  after(() => pg.close());

  for (const delay of [200, 1500]) {
    test(`PostgreSQL, atomic, killed ${delay} ms in: all or nothing, no lock left, rerun completes`, async () => {
      await pg.seed({ users: 150_000, missing: 150_000 });
      const running = startCli([], pg.env);
      await waitForOutput(running, LOG.found(150000));
      await sleep(delay);
      sendSignal(running, "SIGKILL");
      assert.equal(await running.exited, "SIGKILL", "killed mid-run");
      await waitForLocksReleased();
      const missing = countMissing(await pg.rows());
      assert.ok(missing === 150_000 || missing === 0, `all or nothing, ${missing} missing`);
      const rerun = await cli([], pg.env);
      assert.equal(rerun.code, 0);
      assert.equal(countMissing(await pg.rows()), 0);
    });
  }

  test("PostgreSQL, --batch-size larger than a chunk: whole batches only, and the rerun resumes", async () => {
    // 75,000 is a chunk and a half: a batch must stop inside its second chunk.
    const users = 225_000;
    const batch = 75_000;
    await pg.seed({ users, missing: users });
    const running = startCli(["--batch-size", String(batch)], pg.env);
    await waitForOutput(running, LOG.found(users));
    // Stop on an event, not a clock: the first batch is committed and visible.
    const watcher = admin(new URL(pg.env.DATABASE_URL).pathname.slice(1));
    try {
      for (let i = 0; i < 1200; i++) {
        const [row] = await watcher`SELECT count(invite_code)::int AS n FROM "user"`;
        if (row.n > 0) break;
        await sleep(20);
      }
    } finally {
      await watcher.end();
    }
    sendSignal(running, "SIGKILL");
    assert.equal(await running.exited, "SIGKILL");
    await waitForLocksReleased();
    const fixed = users - countMissing(await pg.rows());
    assert.equal(fixed % batch, 0, `whole batches only, ${fixed} fixed`);
    // The kill must land mid-run for this test to mean anything.
    assert.ok(fixed >= batch && fixed < users, `the kill landed mid-run: ${fixed} fixed`);
    const rerun = await cli(["--batch-size", String(batch)], pg.env);
    assert.match(rerun.stdout, literal(LOG.success(users - fixed)), "the rerun resumes");
    assert.equal(countMissing(await pg.rows()), 0);
  });

  /** Backends of the tool still connected to the fixture's database. */
  async function toolBackends(): Promise<number> {
    const sql = admin();
    try {
      const [row] = await sql`SELECT count(*)::int AS n FROM pg_stat_activity
        WHERE application_name = 'invite-code-repair'
          AND datname = ${new URL(pg.env.DATABASE_URL).pathname.slice(1)}`;
      return row.n;
    } finally {
      await sql.end();
    }
  }

  async function assertGoneWithin(ms: number) {
    const until = Date.now() + ms;
    let left = await toolBackends();
    while (left > 0 && Date.now() < until) {
      await sleep(100);
      left = await toolBackends();
    }
    assert.equal(left, 0, `no backend of the killed repair left after ${ms} ms`);
  }

  test("PostgreSQL: killed mid-chunk, its backend is gone within 3 s", async () => {
    await pg.seed({ users: 150_000, missing: 150_000 });
    const running = startCli([], pg.env);
    await waitForOutput(running, LOG.found(150000));
    await sleep(200);
    sendSignal(running, "SIGKILL");
    await running.exited;
    await assertGoneWithin(3000);
  });

  /** Hold the repair's lock on the fixture's schema while `work` runs. */
  async function holdingTheLock(work: (release: () => Promise<void>) => Promise<void>) {
    const holder = admin(new URL(pg.env.DATABASE_URL).pathname.slice(1));
    try {
      await holder`SELECT pg_advisory_lock(hashtextextended(${repairLockKey("public")}, 0))`;
      await work(async () => {
        await holder`SELECT pg_advisory_unlock_all()`;
      });
    } finally {
      await holder.end();
    }
  }

  /** Resolves once a repair's backend waits for a lock. */
  async function repairWaitsForTheLock() {
    const sql = admin();
    try {
      const until = Date.now() + 30_000;
      while (
        (await sql`SELECT count(*)::int AS n FROM pg_stat_activity
          WHERE application_name = 'invite-code-repair' AND wait_event_type = 'Lock'`)[0].n === 0
      ) {
        assert.ok(Date.now() < until, "the repair waits for the lock");
        await sleep(50);
      }
    } finally {
      await sql.end();
    }
  }

  test("PostgreSQL: killed while waiting for the lock, its backend is gone within 3 s", async () => {
    await pg.seed({ users: 100, missing: 100 });
    await holdingTheLock(async () => {
      const running = startCli([], pg.env);
      await repairWaitsForTheLock();
      sendSignal(running, "SIGKILL");
      await running.exited;
      await assertGoneWithin(3000);
    });
  });

  test("PostgreSQL: a default start waits out another replica's 12.5 s repair (its deadline is 120 s)", async () => {
    await pg.seed({ users: 100, missing: 100 });
    await holdingTheLock(async (release) => {
      const running = startCli([], pg.env);
      await repairWaitsForTheLock();
      // The deadline was set before the wait began: 12.5 s later it is past 12 s.
      await sleep(12_500);
      await release();
      assert.equal(await running.exited, 0);
      assert.match(running.output(), literal(LOG.success(100)));
      // Said once, after a few seconds of waiting, and before the work.
      const said = lines(running.output());
      assert.equal(said.filter((line) => line === LOG.waitingForLock()).length, 1, said.join("\n"));
      assert.ok(said.indexOf(LOG.waitingForLock()) < said.indexOf(LOG.success(100)));
      // The server answered at once: only the lock was slow.
      const slowHost = LOG.waitingForDatabase("").split("(")[0];
      assert.ok(!said.some((line) => line.startsWith(slowHost)), said.join("\n"));
    });
    assert.equal(countMissing(await pg.rows()), 0);
  });

  test("SQLite, atomic: all or nothing after a kill, rerun completes", async () => {
    const lite = await sqliteFixture();
    try {
      await lite.seed({ users: 300_000, missing: 300_000 });
      const running = startCli([], lite.env);
      await waitForOutput(running, LOG.found(300000));
      await sleep(300);
      sendSignal(running, "SIGKILL");
      assert.equal(await running.exited, "SIGKILL");
      const missing = countMissing(await lite.rows());
      assert.ok(missing === 300_000 || missing === 0, `all or nothing, ${missing} missing`);
      assert.equal((await cli([], lite.env)).code, 0);
      assert.equal(countMissing(await lite.rows()), 0);
    } finally {
      await lite.close();
    }
  });
});

describe("concurrent writers", () => {
  let pg: Fixture;
  before(async () => (pg = await postgresFixture()));
  after(() => pg.close());

  /**
   * A repair through the CLI while `write` runs in a loop on a connection of
   * its own; the repair's lines. Killed only well past the repair's own
   * deadline, so a repair that cannot finish fails with its WARNING.
   */
  async function repairWhileWriting(
    write: (writer: postgres.Sql, i: number) => Promise<void>,
  ): Promise<string[]> {
    const writer = postgres(pg.env.DATABASE_URL, { max: 1 });
    let writing = true;
    const writes = (async () => {
      for (let i = 0; writing; i++) await write(writer, i);
    })();
    try {
      const result = await cli([], pg.env, 180_000);
      assert.doesNotMatch(result.stdout, /WARNING/, result.stdout);
      assert.equal(result.code, 0);
      return lines(result.stdout);
    } finally {
      writing = false;
      await writes;
      await writer.end();
    }
  }

  test("another connection inserts and clears codes while the repair runs", async () => {
    await pg.seed({ users: 120_000, missing: 100_000 });
    const written = new Map<string, string>();
    let collisions = 0;
    await repairWhileWriting(async (writer, i) => {
      const [code] = generateInviteCodes(1, 6);
      const id = `writer-${i}`;
      try {
        await writer`INSERT INTO "user" (id, name, email, role, profile_image_url, created_at,
          updated_at, last_active_at, invite_code)
          VALUES (${id}, 'W', 'w@example.com', 'user', '/u.png', 0, 0, 0, ${code})`;
        written.set(id, code);
      } catch (error) {
        // The repair handed out this code first: the constraint refuses the
        // writer, as it would refuse the app, which then draws another.
        if ((error as { code?: string }).code !== "23505") throw error;
        collisions++;
      }
      await writer`UPDATE "user" SET invite_code = NULL WHERE id = (
        SELECT id FROM "user" WHERE invite_code LIKE 'X%' AND length(invite_code) = 8 LIMIT 1)`;
    });
    const rows = await pg.rows();
    const byId = new Map(rows.map((r) => [r.id, r.code]));
    assert.ok(written.size > 0);
    console.log(`writer: ${written.size} users inserted, ${collisions} codes refused as taken`);
    for (const [id, code] of written) {
      assert.equal(byId.get(id), code, "the writer's codes are untouched");
    }
    const present = rows.map((r) => r.code).filter((c) => !isMissing(c));
    assert.equal(new Set(present).size, present.length, "no duplicate slipped in");
    await cli([], pg.env);
    assert.equal(countMissing(await pg.rows()), 0, "a rerun fixes rows cleared late");
  });

  test("users signed up without codes faster than the repair gives them: it still commits", async () => {
    await pg.seed({ users: 60_000, missing: 60_000 });
    let arrivals = 0;
    const seen = await repairWhileWriting(async (writer, i) => {
      // What an app replica that does not set codes does on a busy day.
      await writer`INSERT INTO "user" (id, name, email, role, profile_image_url, created_at,
        updated_at, last_active_at)
        SELECT 'signup-' || ${i} || '-' || n, 'S', 's@example.com', 'user', '/u.png', 0, 0, 0
        FROM generate_series(1, 100) AS n`;
      arrivals += 100;
    });
    const left = numberIn(seen, LOG.leftForNextRun);
    assert.ok(left !== undefined && left > 0, `the repair stopped chasing:\n${seen.join("\n")}`);
    const generated = numberIn(seen, LOG.success);
    assert.ok(generated! >= 60_000 && generated! <= 60_000 + arrivals, seen.join("\n"));
    const rows = await pg.rows();
    const present = rows.map((r) => r.code).filter((c) => !isMissing(c));
    assert.equal(new Set(present).size, present.length, "no duplicate slipped in");
    assert.equal(present.length, generated, "every code it reported is committed");
    await cli([], pg.env);
    assert.equal(countMissing(await pg.rows()), 0, "the next run gives the rest codes");
  });

  test("another connection fills rows the repair is about to fill: its codes survive", async () => {
    await pg.seed({ users: 150_000, missing: 150_000 });
    const filled = new Map<string, string>();
    await repairWhileWriting(async (writer, i) => {
      // Lowercase codes: never one the repair generates. Rows from the end
      // of the table, ahead of the repair's walk.
      const rows = await writer<{ id: string; code: string }[]>`
        UPDATE "user" SET invite_code = 'w' || lpad(${i}::text, 7, '0')
        WHERE id = (SELECT id FROM "user" WHERE invite_code IS NULL
                    ORDER BY ctid DESC LIMIT 1 OFFSET ${i % 50})
          AND invite_code IS NULL
        RETURNING id, invite_code AS code`;
      for (const row of rows) filled.set(row.id, row.code);
    });
    assert.ok(filled.size > 0, "the writer filled rows while the repair ran");
    const byId = new Map((await pg.rows()).map((r) => [r.id, r.code]));
    for (const [id, code] of filled) assert.equal(byId.get(id), code, "the writer's code survives");
    assert.equal(countMissing([...byId.values()].map((code) => ({ code }))), 0);
  });

  test("without a unique index, a code a concurrent writer also took goes back to our row only", async () => {
    const pg = await postgresFixture();
    try {
      await pg.seed({ users: 2000, missing: 2000, unique: false });
      const seen: string[] = [];
      let writerCode = "";
      const report = await repair({
        env: pg.env,
        log: (line) => {
          seen.push(line);
          // Right after the commit: the writer's code, uncommitted while the
          // repair chose its own, is now visible, and equal to one of ours.
          if (line === LOG.success(2000)) {
            const [command, args] = runtimeCommand(join(ROOT, "test", "fixtures", "copy_code.ts"));
            const writer = spawnSync(command, args, {
              env: { ...process.env, ...pg.env },
              encoding: "utf8",
            });
            writerCode = writer.stdout.trim();
          }
        },
      });
      assert.match(writerCode, GENERATED_CODE, "the writer copied one of the repair's codes");
      assert.equal(report.status, "repaired");
      assert.ok(seen.includes(LOG.reassigned(1)), seen.join("\n"));
      const rows = await pg.rows();
      assert.equal(
        rows.find((r) => r.id === "writer")?.code,
        writerCode,
        "the writer keeps its code",
      );
      assert.equal(rows.filter((r) => r.code === writerCode).length, 1, "no one else holds it");
      assert.equal(new Set(rows.map((r) => r.code)).size, rows.length, "every code unique");
      assert.equal(countMissing(rows), 0);
      assert.equal(report.duplicates, 0);
    } finally {
      await pg.close();
    }
  });

  test("a unique violation from a code taken mid-statement is retried, not reported", async () => {
    await pg.seed({ users: 2000, missing: 2000 });
    // The first updated row's code is taken by another row just before the
    // update writes it: exactly the race a concurrent writer can cause.
    await pg.exec(`CREATE SEQUENCE collide_once;
      CREATE FUNCTION collide() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN
        IF NEW.invite_code IS NOT NULL AND nextval('collide_once') = 1 THEN
          INSERT INTO "user" (id, name, email, role, profile_image_url, created_at, updated_at,
            last_active_at, invite_code)
          VALUES ('thief', 'Thief', 't@example.com', 'user', '/u.png', 0, 0, 0, NEW.invite_code);
        END IF;
        RETURN NEW;
      END $$;
      CREATE TRIGGER collide BEFORE UPDATE ON "user" FOR EACH ROW EXECUTE FUNCTION collide()`);
    const result = await cli([], pg.env);
    assert.deepEqual(lines(result.stdout), [
      LOG.found(2000),
      LOG.success(2000),
    ]);
    const rows = await pg.rows();
    assert.equal(countMissing(rows), 0);
    assert.equal(new Set(rows.map((r) => r.code)).size, rows.length);
  });
});

describe("outages and faults", () => {
  let pg: Fixture;
  const roles: string[] = [];
  before(async () => (pg = await postgresFixture()));
  after(async () => {
    await pg.close();
    const sql = admin();
    for (const role of roles) await sql.unsafe(`DROP ROLE IF EXISTS ${role}`);
    await sql.end();
  });

  /** A role with the given grants and settings, and the URL that logs in as it. */
  async function role(grants: string, settings = ""): Promise<Record<string, string>> {
    const name = `r_${crypto.randomUUID().replaceAll("-", "").slice(0, 10)}`;
    const password = `pw-${crypto.randomUUID()}`;
    roles.push(name);
    secrets.add(password);
    const url = new URL(pg.env.DATABASE_URL);
    const sql = admin(url.pathname.slice(1));
    await sql.unsafe(`CREATE ROLE ${name} LOGIN PASSWORD '${password}'`);
    await sql.unsafe(
      `GRANT USAGE ON SCHEMA public TO ${name}; GRANT ${grants} ON "user" TO ${name}`,
    );
    if (settings) await sql.unsafe(`ALTER ROLE ${name} SET ${settings}`);
    await sql.end();
    url.username = name;
    url.password = password;
    return { DATABASE_URL: url.href };
  }

  async function assertFailsOpen(env: Record<string, string>, reason: RegExp) {
    const before = await pg.rows();
    const started = Date.now();
    const plain = await cli(["--timeout", "10"], env);
    assert.ok(Date.now() - started < 15_000, "within the --timeout bound");
    assert.equal(plain.code, 0);
    assert.equal(lines(plain.stdout).length, 2, plain.stdout);
    assert.match(lines(plain.stdout)[1], warned());
    assert.match(plain.stdout, reason);
    assert.equal((await cli(["--strict", "--timeout", "10"], env)).code, 1);
    assert.deepEqual(await pg.rows(), before, "nothing half-written");
  }

  test("statistics upkeep blocked after the commit: INFO, never a failed repair", async () => {
    await pg.seed({ users: 20_000, missing: 20_000 });
    // As autovacuum can: a lock ANALYZE waits for, but the UPDATE does not.
    const holder = admin(new URL(pg.env.DATABASE_URL).pathname.slice(1));
    try {
      await holder.begin(async (tx) => {
        await tx`LOCK TABLE "user" IN SHARE UPDATE EXCLUSIVE MODE`;
        const started = Date.now();
        const result = await cli(["--strict", "--json"], pg.env);
        assert.equal(result.code, 0, result.stderr);
        assert.equal(JSON.parse(result.stdout).status, "repaired");
        assert.ok(result.stderr.includes(LOG.success(20_000)), result.stderr);
        assert.match(result.stderr, literal(LOG.maintenanceSkipped("")));
        assert.doesNotMatch(result.stderr, /WARNING/);
        assert.ok(Date.now() - started < 60_000, "bounded well inside --timeout");
      });
    } finally {
      await holder.end();
    }
    assert.equal(countMissing(await pg.rows()), 0);
  });

  test("a role without UPDATE permission", async () => {
    await pg.seed({ users: 50, missing: 20 });
    await assertFailsOpen(
      await role("SELECT"),
      /permission denied for table user \(SQLSTATE 42501\)/,
    );
  });

  test("a role whose transactions default to read-only", async () => {
    await pg.seed({ users: 50, missing: 20 });
    await assertFailsOpen(
      await role("SELECT, UPDATE", "default_transaction_read_only = on"),
      /read-only transaction \(SQLSTATE 25006\)/,
    );
  });

  test("a tiny statement_timeout is obeyed, not overridden", async () => {
    await pg.seed({ users: 100_000, missing: 100_000 });
    const env = await role("SELECT, UPDATE", "statement_timeout = '1ms'");
    const result = await cli([], env);
    assert.equal(result.code, 0);
    assert.match(
      result.stdout,
      warned(/canceling statement due to statement timeout/),
    );
    assert.equal(countMissing(await pg.rows()), 100_000);
  });

  test("an atomic repair that cannot end before --timeout stops within seconds and changes nothing", async () => {
    await pg.seed({ users: 300_000, missing: 300_000 });
    const printed: string[] = [];
    const started = Date.now();
    // Small chunks: the rate is measured early, as the first 50,000 are at ten million users.
    const report = await repair({
      env: pg.env,
      timeoutMs: 3_000,
      chunkSize: 5_000,
      log: (line) => printed.push(line),
    });
    const took = Date.now() - started;
    assert.equal(report.status, "failed");
    assert.equal(report.error?.kind, "timeout");
    const reason = new RegExp(
      "^300000 users lack invite codes, and at the \\d+ users/s measured one atomic repair " +
        "would take about \\d+ s, more than --timeout 3 s allows, so nothing was changed: " +
        "give it the time \\(--timeout \\d+\\), commit in batches " +
        '\\(INVITE_CODE_FLAGS="--batch-size 100000"\\), or let the self-healing probe ' +
        "\\(REPAIR_INTERVAL\\) finish it$",
    );
    assert.match(report.error!.message, reason);
    assert.deepEqual(printed, [LOG.found(300_000), LOG.failed(report.error!.message)]);
    assert.ok(took < 2_500, `stopped well before the deadline (${took} ms)`);
    assert.equal(countMissing(await pg.rows()), 300_000, "rolled back");
  });

  test("a role's statement_timeout of a minute is a minute, not 60 ms", async () => {
    await pg.seed({ users: 100_000, missing: 100_000 });
    const env = await role("SELECT, UPDATE", "statement_timeout = '1min'");
    const result = await cli([], env);
    assert.equal(result.code, 0);
    // A busy machine may take long enough for progress lines (every 5 s) between the two.
    const progress = new RegExp(`^${LOG.progress(0, 1).split(" 0 of")[0]} \\d+ of 100000 users`);
    assert.deepEqual(
      lines(result.stdout).filter((line) => !progress.test(line)),
      [LOG.found(100_000), LOG.success(100_000)],
    );
    assert.equal(countMissing(await pg.rows()), 0);
  });

  test("the network goes silent mid-repair: WARNING within seconds of --timeout, nothing written", async () => {
    await pg.seed({ users: 150_000, missing: 150_000 });
    const real = new URL(pg.env.DATABASE_URL);
    const proxy = await outageProxy(real);
    const via = proxy.url;
    try {
      // One batch as large as the table: no estimate, only the deadline ends it.
      const running = startCli(["--timeout", "5", "--batch-size", "1000000"], {
        DATABASE_URL: via.href,
      });
      await waitForOutput(running, LOG.found(150000));
      const started = Date.now();
      proxy.stall();
      assert.equal(await running.exited, 0, running.output());
      // The deadline, then at most 3 s to give up on a connection that cannot even close.
      assert.ok(Date.now() - started < 12_000, `ended ${Date.now() - started} ms after the stall`);
      assert.match(running.output(), warned(/timed out at the deadline/));
      outputs.push(running.output());
    } finally {
      await proxy.close();
    }
    await waitForLocksReleased();
    assert.equal(countMissing(await pg.rows()), 150_000);
  });

  test("the database goes away mid-repair: WARNING, nothing written", async () => {
    await pg.seed({ users: 150_000, missing: 150_000 });
    const real = new URL(pg.env.DATABASE_URL);
    const proxy = await outageProxy(real);
    const via = proxy.url;
    try {
      const running = startCli(["--timeout", "20"], { DATABASE_URL: via.href });
      await waitForOutput(running, LOG.found(150000));
      await sleep(500);
      await proxy.down();
      assert.equal(await running.exited, 0, running.output());
      outputs.push(running.output());
      assert.match(running.output(), warned());
    } finally {
      await proxy.close();
    }
    await waitForLocksReleased();
    assert.equal(countMissing(await pg.rows()), 150_000);
  });
});

describe("bad input", () => {
  function randomText(length: number): string {
    const bytes = crypto.getRandomValues(new Uint8Array(length));
    const alphabets = [
      () => String.fromCharCode(...bytes.map((b) => b || 1)),
      () => [...bytes].map((b) => String.fromCodePoint(0x80 + b * 97)).join(""),
      () => [...bytes].map((b) => `:/@?#%"'\\ ${"x"}`[b % 11]).join(""),
    ];
    return alphabets[bytes[0] % alphabets.length]();
  }

  test("thousands of random database URLs: a target or one clear config error", () => {
    const schemes = [
      "postgres",
      "postgresql",
      "postgresql+asyncpg",
      "sqlite",
      "mysql",
      "",
      "sqlite+sqlcipher",
      "x",
    ];
    let tried = 0;
    for (let i = 0; i < 4000; i++) {
      const password = `Pw${i}secret`;
      const scheme = schemes[i % schemes.length];
      const noise = randomText(1 + (i % 200));
      const candidates = [
        noise,
        `${scheme}://user:${password}@${noise}`,
        `${scheme}://user:${password}@host:5432/${noise}?sslmode=${noise}`,
        `${scheme}:///${noise}`,
        i % 500 === 0 ? `${scheme}://u:${password}@h/${"y".repeat(200_000)}` : "",
      ];
      for (const url of candidates.filter(Boolean)) {
        tried++;
        try {
          const target = parseDatabaseUrl(url, {
            DATABASE_SCHEMA: i % 3 ? undefined : noise.slice(0, 40),
          });
          assert.ok(!target.display.includes(password), "display masks the password");
        } catch (error) {
          assert.ok(error instanceof InviteCodeError, `${error}`);
          assert.equal(error.kind, "config");
          assert.ok(!error.message.includes("\n") && error.message.length < 400);
          assert.ok(!error.message.includes(password));
        }
      }
      const resolved = resolveDatabaseUrl({
        DATABASE_URL: i % 2 ? noise : undefined,
        DATA_DIR: noise,
      });
      assert.equal(resolved, i % 2 && noise ? noise : `sqlite:///${noise || "./data"}/webui.db`);
    }
    assert.ok(tried > 12_000);
  });

  test("random flags and environment through the real CLI and probe: one line, exit 2 or fail-open", async () => {
    for (let i = 0; i < 8; i++) {
      const flag = `--${randomText(6).replace(/[\0\s]/g, "x")}`;
      const result = await cli([flag], {});
      assert.equal(result.code, 2, flag);
      assert.equal(lines(result.stderr).length, 1);
      assert.doesNotMatch(result.stderr, /^\s+at /m);
    }
    for (let i = 0; i < 6; i++) {
      const password = `Rnd${i}Pass${i}`;
      secrets.add(password);
      const url = `${["mysql", "postgres", "sqlite"][i % 3]}://u:${password}@${
        randomText(20).replace(/\0/g, "")
      }`;
      const result = await cli(["--timeout", "3"], { DATABASE_URL: url });
      assert.equal(result.code, 0);
      assert.equal(lines(result.stdout).length, 1, result.stdout);
      assert.match(result.stdout, /^(WARNING|INFO): /);
    }
    const [command, args] = runtimeCommand(join(ROOT, "health.ts"));
    for (
      const [name, value] of [["HEALTH_PORT", "99999"], ["HEALTH_CACHE_MS", "-1"], [
        "HEALTH_HOST",
        "a b",
      ]]
    ) {
      const probe = launch(command, args, { env: { [name]: value } });
      assert.equal(await probe.exited, 2, name);
      assert.equal(lines(probe.output()).length, 1, probe.output());
    }
  });

  test("quotes in DATABASE_SCHEMA are a schema name, never SQL", async () => {
    const pg = await postgresFixture();
    try {
      await pg.seed({ users: 5, missing: 5 });
      const result = await cli([], { ...pg.env, DATABASE_SCHEMA: `x"; DROP TABLE "user"; --` });
      assert.equal(result.code, 0);
      // No such schema: a misconfiguration, named with the schema as given, and nothing run.
      assert.match(
        result.stdout,
        warned(literal('DATABASE_SCHEMA names schema "x"; DROP TABLE "user"; --", which database')),
      );
      assert.equal((await pg.rows()).length, 5, "the table is still there");
    } finally {
      await pg.close();
    }
  });
});

describe("unusual data", () => {
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
});

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

describe("a user table whose rows live in several tables (PostgreSQL)", () => {
  // Their ctids repeat from table to table: named by ctid alone, one chunk
  // gave a code to a row in each partition, and 30,000 users ended with
  // 10,362 distinct codes.
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
});

describe("databases not encoded in UTF-8", () => {
  // chr() and ascii() take code points only in UTF-8: in these the blank
  // test failed every start ("requested character too large for encoding").
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
});

describe("the probe under stress", () => {
  test("tens of thousands of requests through an outage: 503 while down, 200 after, memory flat", async () => {
    const pg = await postgresFixture();
    const real = new URL(pg.env.DATABASE_URL);
    const proxy = await outageProxy(real);
    const via = proxy.url;
    const port = await freePort();
    const [command, args] = runtimeCommand(join(ROOT, "health.ts"));
    const probe = launch(command, args, {
      env: {
        DATABASE_URL: via.href,
        HEALTH_HOST: "127.0.0.1",
        HEALTH_PORT: String(port),
        HEALTH_CACHE_MS: "20",
        HEALTH_TIMEOUT_MS: "500",
      },
    });
    const base = `http://127.0.0.1:${port}`;
    const rss = async () =>
      Number(
        /^process_resident_memory_bytes (\d+)/m.exec(
          await (await fetch(`${base}/metrics`)).text(),
        )![1],
      );
    try {
      await pg.seed({ users: 100 });
      await waitForHttp(`${base}/livez`);
      const hammer = async (count: number) => {
        const statuses = new Map<number, number>();
        for (let done = 0; done < count; done += 100) {
          const batch = await Promise.all(
            Array.from(
              { length: 100 },
              () =>
                fetch(`${base}/health/invite-codes`).then(async (
                  r,
                ) => (await r.body?.cancel(), r.status)),
            ),
          );
          for (const s of batch) statuses.set(s, (statuses.get(s) ?? 0) + 1);
        }
        return statuses;
      };
      await hammer(2000);
      const startRss = await rss();
      const up = await hammer(6000);
      await proxy.down();
      const down = await hammer(8000);
      await proxy.up();
      await sleep(200);
      const back = await hammer(6000);
      assert.deepEqual([...up.keys()], [200]);
      assert.ok((down.get(503) ?? 0) > 7000, `mostly 503 while down: ${[...down]}`);
      assert.ok((back.get(200) ?? 0) > 5900, `200 after: ${[...back]}`);
      const growth = (await rss()) - startRss;
      assert.ok(growth < 64 * 2 ** 20, `memory grew ${(growth / 2 ** 20).toFixed(1)} MiB`);
      assert.equal((await fetch(`${base}/livez`)).status, 200, "still alive");
    } finally {
      sendSignal(probe, "SIGTERM");
      assert.equal(await probe.exited, 0);
      outputs.push(probe.output());
      await proxy.close();
      await pg.close();
    }
  });
});

test("no output of any failure path in this file contains a password", () => {
  assert.ok(outputs.length > 40);
  for (const text of outputs) {
    for (const secret of secrets) {
      assert.ok(!text.includes(secret), `leaked in: ${text.slice(0, 300)}`);
    }
  }
});
