/**
 * Outages and faults: statistics upkeep blocked after the commit, roles
 * without the rights or with read-only or tiny statement timeouts, a repair
 * that cannot end before --timeout, the network going silent and the
 * database going away mid-repair. Each fails open in one WARNING and writes
 * nothing half-way; no output, the roles' passwords included, shows a
 * password. Each test seeds the file's database itself and stands alone.
 */
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { repair } from "../src/repair.ts";
import {
  assertNoSecrets,
  cliWithoutSecrets,
  countMissing,
  type Fixture,
  lines,
  literal,
  outageProxy,
  postgresFixture,
  serverAdmin,
  serverPasswords,
  sleep,
  startCli,
  waitForLocksReleased,
  waitForOutput,
  warned,
} from "./helpers.ts";
import { LOG } from "../src/messages.ts";

/** The server's password, and each role's as the role is made. */
const secrets = new Set(serverPasswords());
const cli = cliWithoutSecrets(secrets);

let pg: Fixture;
const roles: string[] = [];
before(async () => (pg = await postgresFixture()));
after(async () => {
  await pg.close();
  const sql = serverAdmin();
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
  const sql = serverAdmin(url.pathname.slice(1));
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
  const holder = serverAdmin(new URL(pg.env.DATABASE_URL).pathname.slice(1));
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
    assertNoSecrets(running.output(), secrets);
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
    assertNoSecrets(running.output(), secrets);
    assert.match(running.output(), warned());
  } finally {
    await proxy.close();
  }
  await waitForLocksReleased();
  assert.equal(countMissing(await pg.rows()), 150_000);
});
