/**
 * SIGKILL during a backfill: an atomic repair is all or nothing, a batched
 * one keeps whole batches, no lock or backend outlives the killed client,
 * and the rerun completes; a start that waits for another replica's lock
 * says so once. Each test seeds the file's database itself and stands alone.
 */
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { repairLockKey } from "../src/db/postgres.ts";
import {
  cliWithoutSecrets,
  countMissing,
  type Fixture,
  lines,
  literal,
  postgresFixture,
  sendSignal,
  serverAdmin,
  serverPasswords,
  sleep,
  sqliteFixture,
  startCli,
  waitForLocksReleased,
  waitForOutput,
} from "./helpers.ts";
import { LOG } from "../src/messages.ts";

const cli = cliWithoutSecrets(new Set(serverPasswords()));

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
  const watcher = serverAdmin(new URL(pg.env.DATABASE_URL).pathname.slice(1));
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
  const sql = serverAdmin();
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
  const holder = serverAdmin(new URL(pg.env.DATABASE_URL).pathname.slice(1));
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
  const sql = serverAdmin();
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
