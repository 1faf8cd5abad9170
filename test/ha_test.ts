/**
 * Past one server: a real primary and a hot standby streaming from it (the
 * embedded PostgreSQL 17, and Debian's 15 where it is installed). The
 * standby alone; every target_session_attrs value with the standby first and
 * last, judged by psql; load_balance_hosts; a failover in the middle of an
 * atomic repair and of a batched one; the self-healing probe across a
 * failover.
 */
import assert from "node:assert/strict";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import postgres from "postgres";
import { createProbe } from "../health.ts";
import { repair } from "../mod.ts";
import { LOG, PROBE_LOG } from "../src/messages.ts";
import { freePort } from "../scripts/net.ts";
import { createUserTableSql, POSTGRES_SEED, seedUsersSql } from "../scripts/openwebui.ts";
import { startEmbeddedPostgres, type TestServer } from "../scripts/postgres.ts";
import {
  launch,
  lines,
  metricsOf,
  ROOT,
  runCli,
  runtimeCommand,
  sleep,
  waitForOutput,
} from "./helpers.ts";
import { type Oracle, oracleMissing, psqlVerdict, toolVerdict } from "./oracle.ts";

const DEBIAN_15 = "/usr/lib/postgresql/15/bin";
const SERVERS: [string, string | undefined][] = [
  ["embedded PostgreSQL 17", undefined],
  ...(existsSync(join(DEBIAN_15, "postgres"))
    ? [["Debian's PostgreSQL 15", DEBIAN_15] as [string, string]]
    : []),
];
const ATTRS = ["any", "read-write", "read-only", "primary", "standby", "prefer-standby"];

/** A primary with `users` users (`missing` of them without a code) and its standby, caught up. */
async function pair(bin: string | undefined, users: number, missing: number) {
  const primary = await startEmbeddedPostgres({ bin, listen: ["127.0.0.1"] });
  const sql = postgres(primary.url, { max: 1, onnotice: () => {} });
  await sql.unsafe(createUserTableSql({ users }));
  await sql.unsafe(seedUsersSql({ users, missing }, POSTGRES_SEED));
  await sql.end();
  const standby = await primary.standby();
  await caughtUp(standby, users);
  return { primary, standby };
}

/** Wait until `server` holds `users` users (the standby has replayed the seed). */
async function caughtUp(server: TestServer, users: number): Promise<void> {
  const sql = postgres(server.url, { max: 1, onnotice: () => {} });
  try {
    for (let i = 0; i < 600; i++) {
      const [row] = await sql.unsafe<{ n: number }[]>(
        `SELECT CASE WHEN to_regclass('public."user"') IS NULL THEN -1
           ELSE (SELECT count(*)::int FROM "user") END AS n`,
      );
      if (row.n === users) return;
      await sleep(50);
    }
    throw new Error(`the standby did not catch up to ${users} users`);
  } finally {
    await sql.end();
  }
}

/** Counts on `server`: missing codes, and distinct codes among users with one. */
async function counts(server: TestServer) {
  const sql = postgres(server.url, { max: 1, onnotice: () => {} });
  try {
    const [row] = await sql.unsafe<{ missing: number; held: number; distinct: number }[]>(
      `SELECT count(*) FILTER (WHERE invite_code IS NULL)::int AS missing,
         count(invite_code)::int AS held, count(DISTINCT invite_code)::int AS distinct
       FROM "user"`,
    );
    return row;
  } finally {
    await sql.end();
  }
}

/** The codes on `server`, by user id. */
async function codes(server: TestServer): Promise<Map<string, string>> {
  const sql = postgres(server.url, { max: 1, onnotice: () => {} });
  try {
    const rows = await sql.unsafe<{ id: string; invite_code: string }[]>(
      `SELECT id, invite_code FROM "user" WHERE invite_code IS NOT NULL`,
    );
    return new Map(rows.map((row) => [row.id, row.invite_code]));
  } finally {
    await sql.end();
  }
}

async function promote(server: TestServer): Promise<void> {
  const sql = postgres(server.url, { max: 1, onnotice: () => {} });
  try {
    await sql.unsafe("SELECT pg_promote(true, 30)");
  } finally {
    await sql.end();
  }
}

/** A URL over both servers, in the order given, with target_session_attrs. */
function listUrl(servers: TestServer[], attrs: string, extra = ""): string {
  const hosts = servers.map((server) => `host=127.0.0.1:${server.port}`).join("&");
  return `postgresql://postgres:${servers[0].password}@/postgres?${hosts}` +
    `&target_session_attrs=${attrs}&connect_timeout=5${extra}`;
}

const home = mkdtempSync(join(tmpdir(), "invite-code-ha-home-"));
after(() => rmSync(home, { recursive: true, force: true }));

for (const [label, bin] of SERVERS) {
  describe(`primary and standby: ${label}`, () => {
    let primary: TestServer;
    let standby: TestServer;
    let closed: number;
    before(async () => {
      ({ primary, standby } = await pair(bin, 300, 40));
      closed = await freePort();
    });
    after(async () => {
      await standby?.stop();
      await primary?.stop();
    });

    test("the standby alone: one WARNING naming it, exit 0, nothing changed; --check and the probe report", async () => {
      const env = { DATABASE_URL: standby.url, HOME: home };
      const repaired = await runCli([], env, { timeoutMs: 60_000 });
      assert.equal(repaired.code, 0, repaired.stderr);
      assert.deepEqual(lines(repaired.stdout), [LOG.failed(LOG.standby(40))]);
      assert.equal((await counts(primary)).missing, 40, "nothing changed");
      const checked = await runCli(["--check", "--json"], env, { timeoutMs: 60_000 });
      assert.equal(checked.code, 1, checked.stderr);
      const report = JSON.parse(checked.stdout);
      assert.equal(report.missing, 40);
      assert.deepEqual(report.schema.server, { port: standby.port, standby: true });
      const probe = createProbe({ env, settings: { cacheMs: 0 }, log: () => {} });
      try {
        const answer = await probe.app.request("/health/invite-codes");
        assert.equal(answer.status, 503);
        const body = await answer.json();
        assert.equal(body.missing, 40);
        assert.equal(body.checks["invite_codes:server"][0].observedValue, "standby");
        const metrics = await (await probe.app.request("/metrics")).text();
        assert.match(metrics, /^invite_codes_server_standby 1$/m);
      } finally {
        await probe.close();
      }
    });

    for (const attrs of ATTRS) {
      for (const order of ["standby first", "standby last", "a host down first", "no standby"]) {
        test(`target_session_attrs=${attrs}, ${order}: the server psql picks`, {
          skip: oracleMissing(),
        }, async () => {
          const hosts = order === "standby first"
            ? [standby.port, primary.port]
            : order === "standby last"
            ? [primary.port, standby.port]
            : order === "a host down first"
            ? [closed, standby.port, primary.port]
            : [closed, primary.port];
          const keywords = {
            host: hosts.map(() => "127.0.0.1").join(","),
            port: hosts.join(","),
            user: "postgres",
            password: primary.password,
            dbname: "postgres",
            target_session_attrs: attrs,
            connect_timeout: "5",
          };
          const tool = await toolVerdict(keywords, {}, home);
          for (const version of [15, 17] as Oracle[]) {
            const libpq = await psqlVerdict(version, keywords, {}, home);
            const say = `libpq ${version}: ${JSON.stringify(libpq)}; tool: ${JSON.stringify(tool)}`;
            assert.equal(tool.connected, libpq.connected, say);
            assert.equal(tool.port, libpq.port, say);
          }
        });
      }
    }

    test("load_balance_hosts=random: any server for any, the primary for read-write", async () => {
      const seen = new Set<number | undefined>();
      for (let i = 0; i < 24; i++) {
        const keywords = {
          host: "127.0.0.1,127.0.0.1",
          port: `${primary.port},${standby.port}`,
          user: "postgres",
          password: primary.password,
          dbname: "postgres",
          load_balance_hosts: "random",
        };
        seen.add((await toolVerdict(keywords, {}, home)).port);
        const writable = await toolVerdict(
          { ...keywords, target_session_attrs: "read-write" },
          {},
          home,
        );
        assert.equal(writable.port, primary.port);
      }
      assert.deepEqual([...seen].sort(), [primary.port, standby.port].sort());
    });

    test("a standby first with read-write: the repair reaches the primary", async () => {
      const env = { DATABASE_URL: listUrl([standby, primary], "read-write"), HOME: home };
      const repaired = await runCli([], env, { timeoutMs: 60_000 });
      assert.deepEqual(lines(repaired.stdout), [LOG.found(40), LOG.success(40)], repaired.stderr);
      const after = await counts(primary);
      assert.deepEqual(after, { missing: 0, held: 300, distinct: 300 });
    });

    test("the probe's next connection starts again at the first host, as every libpq connection does", async () => {
      // Standby first: each connection passes it over for the primary.
      const env = { DATABASE_URL: listUrl([standby, primary], "read-write"), HOME: home };
      const probe = createProbe({ env, settings: { cacheMs: 0 }, log: () => {} });
      try {
        for (let round = 0; round < 3; round++) {
          const answer = await probe.app.request("/health/invite-codes");
          const body = await answer.json();
          assert.equal(
            body.checks["invite_codes:server"]?.[0].observedValue,
            "primary",
            `round ${round}: ${JSON.stringify(body)}`,
          );
          // End the probe's session, as a pooler or a restart would: it must connect anew.
          const sql = postgres(primary.url, { max: 1, onnotice: () => {} });
          try {
            await sql`SELECT pg_terminate_backend(pid, 5000) FROM pg_stat_activity
              WHERE application_name = 'invite-code-repair' AND pid <> pg_backend_pid()`;
          } finally {
            await sql.end();
          }
          // Let the probe's driver see its socket close before the next check.
          await sleep(1_000);
        }
      } finally {
        await probe.close();
      }
    });
  });

  describe(`failover in the middle of a repair: ${label}`, () => {
    const USERS = 300_000;

    for (const batchSize of [undefined, 50_000]) {
      const kind = batchSize ? `--batch-size ${batchSize}` : "atomic";
      test(`${kind}: the promoted standby holds nothing partial, and a rerun finishes there`, async () => {
        const { primary, standby } = await pair(bin, USERS, USERS);
        try {
          const env = { DATABASE_URL: listUrl([primary, standby], "read-write"), HOME: home };
          const [command, args] = runtimeCommand(join(ROOT, "test/fixtures/failover_repair.ts"));
          const running = launch(command, args, {
            env: { ...env, ...(batchSize ? { BATCH_SIZE: String(batchSize) } : {}) },
          });
          await waitForOutput(running, "INFO: Generated invite codes for", 120_000);
          if (batchSize) {
            // Stop on an event: the standby has replayed the first committed batch.
            const watcher = postgres(standby.url, { max: 1, onnotice: () => {} });
            for (let i = 0; i < 400; i++) {
              const [row] = await watcher.unsafe<{ held: number }[]>(
                `SELECT count(invite_code)::int AS held FROM "user"`,
              );
              if (row.held >= batchSize) break;
              await sleep(25);
            }
            await watcher.end();
          }
          await primary.stop("immediate");
          assert.equal(await running.exited, 0, running.output());
          const report = JSON.parse(
            lines(running.output()).findLast((line) => line.startsWith("{"))!,
          );
          // Batches that committed before the failover are reported, never as a failure.
          assert.equal(report.status, batchSize ? "partial" : "failed", running.output());
          await promote(standby);
          const promoted = await counts(standby);
          if (batchSize) {
            // Whole batches only, and at least the first.
            assert.equal(promoted.held % batchSize, 0, JSON.stringify(promoted));
            assert.ok(
              promoted.held >= batchSize && promoted.held < USERS,
              JSON.stringify(promoted),
            );
          } else {
            assert.equal(promoted.held, 0, "an atomic repair leaves nothing partial");
          }
          const kept = await codes(standby);
          const rerun = await repair({ env, batchSize, timeoutMs: 120_000, log: () => {} });
          assert.equal(rerun.status, "repaired", JSON.stringify(rerun));
          assert.equal(rerun.generated, USERS - promoted.held);
          assert.deepEqual(await counts(standby), { missing: 0, held: USERS, distinct: USERS });
          // The rerun resumed: codes committed before the failover stay as they were.
          const now = await codes(standby);
          for (const [id, code] of kept) assert.equal(now.get(id), code);
        } finally {
          await standby.stop();
          await primary.stop().catch(() => {});
        }
      });
    }
  });

  describe(`the self-healing probe and a lagging standby: ${label}`, () => {
    test("replay paused on the standby: the repair pauses, says why, and finishes once replay resumes", async () => {
      const users = 20_000;
      const { primary, standby } = await pair(bin, users, users);
      const onStandby = postgres(standby.url, { max: 1, onnotice: () => {} });
      const printed: string[] = [];
      // Feedback every second, so the primary sees the lag grow (and clear) soon.
      await onStandby.unsafe("ALTER SYSTEM SET wal_receiver_status_interval = 1");
      await onStandby.unsafe("SELECT pg_reload_conf()");
      await onStandby.unsafe("SELECT pg_wal_replay_pause()");
      const probe = createProbe({
        env: {
          DATABASE_URL: primary.url,
          HOME: home,
          REPAIR_INTERVAL: "1",
          REPAIR_BATCH_SIZE: "1000",
          REPAIR_MAX_RATE: "2000",
          REPAIR_MAX_LAG: "1",
        },
        settings: { cacheMs: 0 },
        log: (line) => printed.push(line),
      });
      const metric = metricsOf(probe.app);
      try {
        // Until it pauses, or repairs everyone without pausing.
        for (
          let i = 0;
          i < 300 && await metric("invite_codes_repair_paused") !== 1 &&
          await metric("invite_codes_missing") !== 0;
          i++
        ) {
          await sleep(100);
        }
        assert.equal(await metric("invite_codes_repair_paused"), 1, printed.join("\n"));
        const lagging = printed.find((line) =>
          line.startsWith(PROBE_LOG.paused("replication lag "))
        );
        assert.ok(lagging, printed.join("\n"));
        // Paused mid-way, and it stays so while the standby does not replay.
        const paused = await metric("invite_codes_missing");
        assert.ok(paused > 0 && paused < users, `paused with ${paused} missing`);
        await sleep(2_000);
        assert.equal(await metric("invite_codes_missing"), paused);
        await onStandby.unsafe("SELECT pg_wal_replay_resume()");
        let missing = paused;
        for (let i = 0; i < 600 && missing !== 0; i++) {
          await sleep(100);
          missing = await metric("invite_codes_missing");
        }
        assert.equal(missing, 0, printed.join("\n"));
        assert.equal(await metric("invite_codes_repair_paused"), 0);
        assert.ok(printed.includes(PROBE_LOG.resumed()), printed.join("\n"));
      } finally {
        await probe.close();
        await onStandby.end();
        await standby.stop();
        await primary.stop();
      }
    });
  });

  describe(`the self-healing probe across a failover: ${label}`, () => {
    test("it follows the promoted standby, repairs there, and its metrics show the failed checks", async () => {
      const { primary, standby } = await pair(bin, 200, 0);
      const env = { DATABASE_URL: listUrl([primary, standby], "read-write"), HOME: home };
      const probe = createProbe({
        env,
        settings: { cacheMs: 0, timeoutMs: 3_000, repairIntervalMs: 300 },
        log: () => {},
      });
      const metric = metricsOf(probe.app);
      try {
        assert.equal((await probe.app.request("/health/invite-codes")).status, 200);
        await primary.stop("immediate");
        // Checks fail while no primary is there.
        for (let i = 0; i < 100 && await metric("invite_codes_check_failures_total") < 1; i++) {
          await sleep(100);
        }
        assert.ok(await metric("invite_codes_check_failures_total") >= 1);
        assert.equal(await metric("invite_codes_check_success"), 0);
        await promote(standby);
        const sql = postgres(standby.url, { max: 1, onnotice: () => {} });
        await sql.unsafe(seedUsersSql({ users: 25, missing: 25 }, POSTGRES_SEED));
        await sql.end();
        let answer = "";
        for (let i = 0; i < 200 && answer !== "missing=0\n"; i++) {
          answer = await (await probe.app.request("/health/invite-codes?format=text")).text();
          if (answer !== "missing=0\n") await sleep(100);
        }
        assert.equal(answer, "missing=0\n");
        assert.deepEqual(await counts(standby), { missing: 0, held: 225, distinct: 225 });
        assert.ok(await metric("invite_codes_repaired_users_total") >= 25);
        assert.equal(await metric("invite_codes_server_standby"), 0);
      } finally {
        await probe.close();
        await standby.stop();
        await primary.stop().catch(() => {});
      }
    });
  });
}
