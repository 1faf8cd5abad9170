/**
 * The probe over a real socket, run as a subprocess the way start.sh and the
 * Dockerfile run it, against real databases.
 */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { renameSync } from "node:fs";
import process from "node:process";
import { networkInterfaces } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import postgres from "postgres";
import { freePort } from "../scripts/net.ts";
import {
  type Fixture,
  FIXTURES,
  isMissing,
  launch,
  literal,
  metricsOf,
  outageProxy,
  postgresFixture,
  ROOT,
  runCli,
  type Running,
  runtimeCommand,
  sampleOf,
  sendSignal,
  silentListener,
  sleep,
  waitForHttp,
  waitForOutput,
} from "./helpers.ts";
import { PROBE_LOG, PROBE_STARTING, sharedReason } from "../src/messages.ts";
import { createProbe, PROBE_PATH, probeSettings } from "../health.ts";

const HEALTH = join(ROOT, "health.ts");

const promtool = spawnSync("sh", ["-c", "command -v promtool"], { encoding: "utf8" }).stdout.trim();
const noPromtool = promtool || process.env.REQUIRE_PROMTOOL === "1"
  ? undefined
  : "promtool is not installed (apt-get install prometheus)";

/** What `promtool check metrics` says about a /metrics body: "" when it finds nothing. */
function promtoolCheck(body: string): string {
  const run = spawnSync(promtool || "promtool", ["check", "metrics"], {
    input: body,
    encoding: "utf8",
  });
  if (run.error) throw run.error;
  return run.status === 0 ? "" : `exit ${run.status}: ${run.stdout}${run.stderr}`.trim();
}

async function startProbe(env: Record<string, string>, cacheMs = 200) {
  const port = await freePort();
  const [command, args] = runtimeCommand(HEALTH);
  const probe = launch(command, args, {
    env: {
      ...env,
      HEALTH_HOST: "127.0.0.1",
      HEALTH_PORT: String(port),
      HEALTH_CACHE_MS: String(cacheMs),
    },
  });
  const base = `http://127.0.0.1:${port}`;
  await waitForHttp(`${base}/livez`);
  return { probe, base };
}

async function get(url: string, init?: RequestInit) {
  const response = await fetch(url, init);
  return {
    status: response.status,
    type: response.headers.get("content-type"),
    cacheControl: response.headers.get("cache-control"),
    body: await response.text(),
  };
}

/** The value of one Prometheus sample. */
function metric(text: string, name: string): number {
  const value = sampleOf(text, name);
  assert.ok(value !== undefined, `${name} in metrics`);
  return value;
}

async function stopProbe(probe: Running) {
  sendSignal(probe, "SIGTERM");
  return await probe.exited;
}

for (const [dialect, open] of FIXTURES) {
  describe(`probe on ${dialect}`, () => {
    let db: Fixture;
    before(async () => (db = await open()));
    after(() => db.close());

    test("503 and missing=7 before a repair, 200 and missing=0 after it", async () => {
      await db.seed({ users: 20, missing: 7 });
      const { probe, base } = await startProbe(db.env);
      try {
        const before = await get(`${base}/health/invite-codes`);
        assert.equal(before.status, 503);
        assert.equal(before.type, "application/health+json");
        // A cache between the orchestrator and the probe must not replay an old verdict.
        assert.equal(before.cacheControl, "no-store");
        const body = JSON.parse(before.body);
        assert.equal(body.status, "fail");
        assert.equal(body.missing, 7);
        assert.equal(body.output, "7 of 20 users have no invite code");
        assert.deepEqual(Object.keys(body.checks).sort(), [
          "invite_codes:duplicates",
          "invite_codes:missing",
          // Which server answered: PostgreSQL only (a primary, here).
          ...(db.dialect === "postgres" ? ["invite_codes:server"] : []),
          "invite_codes:unique_constraint",
          "invite_codes:users",
        ]);
        if (db.dialect === "postgres") {
          assert.equal(body.checks["invite_codes:server"][0].observedValue, "primary");
        }
        assert.equal(body.checks["invite_codes:missing"][0].observedValue, 7);
        assert.equal(body.checks["invite_codes:users"][0].observedValue, 20);
        assert.ok(!Number.isNaN(Date.parse(body.checks["invite_codes:missing"][0].time)));
        const text = await get(`${base}/health/invite-codes?format=text`);
        assert.deepEqual([text.status, text.body, text.cacheControl], [
          503,
          "missing=7\n",
          "no-store",
        ]);
        assert.match(text.type ?? "", /^text\/plain/);
        const accept = await get(`${base}/health/invite-codes`, {
          headers: { Accept: "text/plain" },
        });
        assert.equal(accept.body, "missing=7\n");

        assert.equal((await runCli([], db.env)).code, 0);
        await sleep(300); // the cache window
        const after = await get(`${base}/health/invite-codes`);
        assert.equal(after.status, 200);
        assert.equal(JSON.parse(after.body).status, "pass");
        assert.equal(JSON.parse(after.body).missing, 0);
        assert.equal((await get(`${base}/health/invite-codes?format=text`)).body, "missing=0\n");

        const head = await fetch(`${base}/health/invite-codes`, { method: "HEAD" });
        assert.equal(head.status, 200);
        assert.equal(await head.text(), "");

        const metrics = await get(`${base}/metrics`);
        assert.equal(metrics.status, 200);
        assert.match(metrics.type!, /^text\/plain; version=0\.0\.4/);
        assert.equal(metric(metrics.body, "invite_codes_missing"), 0);
        assert.equal(metric(metrics.body, "invite_codes_users"), 20);
        assert.equal(metric(metrics.body, "invite_codes_check_success"), 1);
        assert.ok(metric(metrics.body, "invite_codes_check_duration_seconds") >= 0);
      } finally {
        assert.equal(await stopProbe(probe), 0, "clean exit on SIGTERM");
      }
      assert.match(probe.output(), literal(PROBE_LOG.stopping("SIGTERM")));
    });

    test("promtool check metrics finds nothing in the probe's real /metrics, passing or failing", {
      skip: noPromtool,
    }, async () => {
      await db.seed({ users: 4, missing: 1 });
      const { probe, base } = await startProbe(db.env);
      try {
        const failing = await get(`${base}/metrics`);
        assert.equal(metric(failing.body, "invite_codes_missing"), 1);
        assert.equal(promtoolCheck(failing.body), "");
        assert.equal((await runCli([], db.env)).code, 0);
        await sleep(300); // the cache window
        const passing = await get(`${base}/metrics`);
        assert.equal(metric(passing.body, "invite_codes_users"), 4);
        assert.equal(promtoolCheck(passing.body), "");
      } finally {
        await stopProbe(probe);
      }
    });

    test("text or JSON as Accept's q-values say, and an unknown format is a 400", async () => {
      await db.seed({ users: 3 });
      const { probe, base } = await startProbe(db.env);
      try {
        const asked = async (accept: string) =>
          (await get(`${base}/health/invite-codes`, { headers: { Accept: accept } })).type;
        assert.match(await asked("text/plain") ?? "", /^text\/plain/);
        assert.equal(await asked("text/plain;q=0"), "application/health+json");
        assert.equal(await asked("text/plain;q=0, */*"), "application/health+json");
        assert.equal(await asked("application/json, text/plain;q=0.5"), "application/health+json");
        assert.match(await asked("text/plain, application/json;q=0.5") ?? "", /^text\/plain/);
        const unknown = await get(`${base}/health/invite-codes?format=xml`);
        assert.equal(unknown.status, 400);
        assert.equal(unknown.body, 'unknown format "xml": use format=json or format=text\n');
        assert.equal((await get(`${base}/health/invite-codes?format=json`)).status, 200);
      } finally {
        await stopProbe(probe);
      }
    });

    test("livez, 404, 405, and no stack traces", async () => {
      await db.seed({ users: 2 });
      const { probe, base } = await startProbe(db.env);
      try {
        const livez = await get(`${base}/livez`);
        assert.deepEqual([livez.status, livez.body], [200, "ok\n"]);
        assert.match(livez.type!, /^text\/plain/);
        assert.equal((await get(`${base}/nope`)).status, 404);
        for (const path of ["/health/invite-codes", "/livez", "/metrics"]) {
          // FOO: a method Node's own HTTP parser does not know, answered before any handler.
          for (const method of ["POST", "PUT", "DELETE", "PATCH", "FOO"]) {
            const response = await fetch(`${base}${path}`, { method });
            assert.equal(response.status, 405, `${method} ${path}`);
            assert.equal(response.headers.get("allow"), "GET, HEAD");
            assert.doesNotMatch(await response.text(), /at /);
          }
        }
      } finally {
        await stopProbe(probe);
      }
    });

    test("a cached answer is returned as it is, not as a promise", async () => {
      // What keeps the probe near a static route under load: Hono writes a
      // handler's Response at once, but runs two handlers that both match (a
      // GET and a catch-all 405) as an awaited chain.
      await db.seed({ users: 3 });
      const probe = createProbe({ env: db.env, settings: { cacheMs: 60_000 }, log: () => {} });
      try {
        assert.equal((await probe.app.request(PROBE_PATH)).status, 200);
        for (const path of [PROBE_PATH, `${PROBE_PATH}?format=text`, "/livez"]) {
          const answer = probe.app.fetch(new Request(`http://probe${path}`));
          assert.ok(answer instanceof Response, `GET ${path} answered with ${answer}`);
          assert.equal(answer.status, 200);
        }
      } finally {
        await probe.close();
      }
    });

    test("duplicated codes without a unique constraint: 200 with status warn", async () => {
      await db.seed({ users: 5, unique: false });
      await db.exec(
        `UPDATE "user" SET invite_code = 'SAME42' WHERE name IN ('User 1', 'User 2', 'User 3')`,
      );
      const { probe, base } = await startProbe(db.env);
      try {
        const response = await get(`${base}/health/invite-codes`);
        assert.equal(response.status, 200);
        const body = JSON.parse(response.body);
        assert.equal(body.status, "warn");
        assert.equal(body.missing, 0);
        // Three users hold SAME42: all three are counted.
        assert.equal(body.output, sharedReason(3, 1));
        assert.equal(body.output, "3 users hold a code another user also holds");
        assert.equal(body.checks["invite_codes:duplicates"][0].observedValue, 3);
        assert.equal(body.checks["invite_codes:duplicates"][0].status, "warn");
        assert.equal(metric((await get(`${base}/metrics`)).body, "invite_codes_duplicates"), 3);
      } finally {
        await stopProbe(probe);
      }
    });

    test("a missing column is a 503 that says so: its kind, or in full with HEALTH_DETAILS=1", async () => {
      await db.seed({ users: 2, column: false });
      for (
        const [details, body] of [
          ["0", "missing=unknown (absent: the invite_code column or its table is missing)\n"],
          ["1", 'missing=unknown (column invite_code does not exist in table "user")\n'],
        ]
      ) {
        const { probe, base } = await startProbe({ ...db.env, HEALTH_DETAILS: details });
        try {
          const response = await get(`${base}/health/invite-codes?format=text`);
          assert.equal(response.status, 503);
          assert.equal(response.body, body);
        } finally {
          await stopProbe(probe);
        }
        // Whatever the wire may say, the probe's log names the reason.
        assert.match(
          probe.output(),
          literal(
            PROBE_LOG.checkFailed("absent", 'column invite_code does not exist in table "user"'),
          ),
        );
      }
    });

    test("hundreds of concurrent requests inside one cache window cost a handful of queries", async () => {
      await db.seed({ users: 50 });
      const { probe, base } = await startProbe(db.env, 60_000);
      try {
        const statuses = await Promise.all(
          Array.from(
            { length: 400 },
            () => get(`${base}/health/invite-codes`).then((r) => r.status),
          ),
        );
        assert.ok(statuses.every((s) => s === 200));
        const checks = metric((await get(`${base}/metrics`)).body, "invite_codes_checks_total");
        assert.ok(checks >= 1 && checks <= 2, `${checks} database checks for 400 requests`);
      } finally {
        await stopProbe(probe);
      }
    });
  });
}

test("before its first answer: /livez 200 at once, readiness 503 starting, never a hang", async () => {
  // A database that accepts and never answers, as one that drops packets.
  const silent = await silentListener();
  const probe = createProbe({
    env: { DATABASE_URL: `postgresql://webui:pw@127.0.0.1:${silent.port}/openwebui` },
    settings: { timeoutMs: 8000 },
    log: () => {},
  });
  try {
    let started = Date.now();
    const live = await probe.app.request("/livez");
    assert.equal(live.status, 200);
    assert.ok(Date.now() - started < 1000, "/livez never waits for the database");
    started = Date.now();
    const text = await probe.app.request(`${PROBE_PATH}?format=text`);
    assert.equal(text.status, 503);
    assert.equal(await text.text(), `missing=unknown (${PROBE_STARTING})\n`);
    assert.ok(Date.now() - started < 5000, `answered in ${Date.now() - started} ms`);
    const json = await probe.app.request(PROBE_PATH);
    assert.equal(json.status, 503);
    assert.deepEqual(
      [(await json.json()).status, json.headers.get("content-type")],
      ["fail", "application/health+json"],
    );
    // Once the first check has answered (here: its time limit), that answer is served.
    await probe.inspector.latest();
    const known = await probe.app.request(`${PROBE_PATH}?format=text`);
    assert.equal(await known.text(), "missing=unknown (check failed: timeout)\n");
  } finally {
    await probe.close();
    silent.close();
  }
});

describe("probe through a database outage", () => {
  let db: Fixture;
  before(async () => (db = await FIXTURES[0][1]()));
  after(() => db.close());

  test("PostgreSQL: 503 with a clear reason while down, 200 again when it returns", async () => {
    await db.seed({ users: 5 });
    const real = new URL(db.env.DATABASE_URL);
    const proxy = await outageProxy(real);
    const viaProxy = proxy.url;
    const { probe, base } = await startProbe({
      DATABASE_URL: viaProxy.href,
      HEALTH_TIMEOUT_MS: "1000",
    }, 100);
    try {
      assert.equal((await get(`${base}/health/invite-codes`)).status, 200);
      await proxy.down();
      await sleep(150);
      const down = await get(`${base}/health/invite-codes?format=text`);
      assert.equal(down.status, 503);
      // On the wire only the kind; the probe's own log has the full reason.
      assert.equal(down.body, "missing=unknown (check failed: connect)\n");
      const json = await get(`${base}/health/invite-codes`);
      assert.ok(!json.body.includes(String(proxy.port)) && !json.body.includes("127.0.0.1"));
      assert.match(
        probe.output(),
        literal(
          PROBE_LOG.checkFailed("connect", `cannot connect to PostgreSQL: 127.0.0.1:${proxy.port}`),
        ),
      );
      assert.ok(!probe.output().includes(real.password));
      const metrics = await get(`${base}/metrics`);
      assert.equal(metric(metrics.body, "invite_codes_check_success"), 0);
      assert.ok(metric(metrics.body, "invite_codes_check_failures_total") >= 1, "failures counted");

      await proxy.up();
      await sleep(150);
      assert.equal((await get(`${base}/health/invite-codes`)).status, 200, "recovers by itself");
    } finally {
      await stopProbe(probe);
      await proxy.close();
    }
  });

  test("PostgreSQL: a network gone silent is a 503 within HEALTH_TIMEOUT_MS; 200 once it answers", async () => {
    await db.seed({ users: 5 });
    const proxy = await outageProxy(new URL(db.env.DATABASE_URL));
    const { probe, base } = await startProbe({
      DATABASE_URL: proxy.url.href,
      HEALTH_TIMEOUT_MS: "1000",
    }, 100);
    try {
      assert.equal((await get(`${base}/health/invite-codes`)).status, 200);
      proxy.stall();
      await sleep(150);
      const silent = await get(`${base}/health/invite-codes?format=text`);
      assert.equal(silent.status, 503);
      assert.equal(silent.body, "missing=unknown (check failed: timeout)\n");
      // The network is back: the abandoned connection must not be used again.
      await proxy.down();
      await proxy.up();
      let status = 0;
      for (let i = 0; i < 50 && status !== 200; i++) {
        await sleep(100);
        status = (await get(`${base}/health/invite-codes`)).status;
      }
      assert.equal(status, 200, "recovers by itself");
    } finally {
      await stopProbe(probe);
      await proxy.close();
    }
  });

  test("a refused login: the wire names only the kind; the probe's log has the reason", async () => {
    await db.seed({ users: 2 });
    const wrong = new URL(db.env.DATABASE_URL);
    wrong.password = "not-the-Password-7";
    for (const details of ["0", "1"]) {
      const { probe, base } = await startProbe({
        DATABASE_URL: wrong.href,
        HEALTH_DETAILS: details,
      });
      try {
        const text = await get(`${base}/health/invite-codes?format=text`);
        const json = await get(`${base}/health/invite-codes`);
        assert.equal(text.status, 503);
        if (details === "0") {
          assert.equal(text.body, "missing=unknown (check failed: connect)\n");
          for (const body of [text.body, json.body]) {
            assert.doesNotMatch(body, /password authentication|postgres|127\.0\.0\.1|t_[0-9a-f]/);
          }
        } else {
          assert.match(text.body, /password authentication failed for user "postgres"/);
        }
        for (const body of [text.body, json.body, probe.output()]) {
          assert.ok(!body.includes("not-the-Password-7"), "the password never shows");
        }
      } finally {
        await stopProbe(probe);
      }
      assert.match(probe.output(), /check failed \(connect\): .*password authentication failed/);
    }
  });

  test("SQLite: a file that disappears is a 503; when it is back, 200", async () => {
    const lite = await FIXTURES[1][1]();
    try {
      await lite.seed({ users: 3 });
      const { probe, base } = await startProbe(lite.env, 0);
      const file = join(lite.env.DATA_DIR, "webui.db");
      try {
        assert.equal((await get(`${base}/health/invite-codes`)).status, 200);
        renameSync(file, `${file}.away`);
        const gone = await get(`${base}/health/invite-codes?format=text`);
        assert.equal(gone.status, 503);
        renameSync(`${file}.away`, file);
        assert.equal((await get(`${base}/health/invite-codes`)).status, 200);
      } finally {
        await stopProbe(probe);
      }
    } finally {
      await lite.close();
    }
  });
});

test("an error a route throws: one masked line in the probe's log, no stack, and a bare 500", async () => {
  const secret = "Sw0rdf1sh-in-the-url";
  const logged: string[] = [];
  const probe = createProbe({
    env: { DATABASE_URL: `postgresql://webui:${secret}@127.0.0.1:1/webui` },
    log: (line) => logged.push(line),
  });
  try {
    // No route of the probe throws on purpose: one added to its own app meets its own onError.
    probe.app.get("/throws", () => {
      const error = new Error(`could not render for ${secret}`);
      error.stack = `Error: could not render for ${secret}\n    at render (server.ts:1:1)`;
      throw error;
    });
    const answer = await probe.app.request("/throws");
    assert.equal(answer.status, 500);
    assert.equal(await answer.text(), "internal error\n");
    assert.deepEqual(logged, [PROBE_LOG.internalError("could not render for ***")]);
  } finally {
    await probe.close();
  }
});

test("invalid HEALTH_PORT: one clear line, exit 2", async () => {
  const [command, args] = runtimeCommand(HEALTH);
  const probe = launch(command, args, { env: { HEALTH_PORT: "80a" } });
  assert.equal(await probe.exited, 2);
  assert.equal(
    probe.output(),
    'ERROR: HEALTH_PORT needs a whole number from 1 to 65535, got "80a"\n',
  );
});

test("REPAIR_INTERVAL is in seconds: one repair at start, none again within a second", async () => {
  const db = await postgresFixture();
  try {
    await db.seed({ users: 30, missing: 10 });
    const probe = createProbe({
      env: { ...db.env, REPAIR_INTERVAL: "60" },
      settings: { cacheMs: 0 },
      log: () => {},
    });
    const text = async () => await (await probe.app.request(`${PROBE_PATH}?format=text`)).text();
    try {
      let answer = "";
      for (let i = 0; i < 100 && answer !== "missing=0\n"; i++) {
        answer = await text();
        if (answer !== "missing=0\n") await sleep(100);
      }
      assert.equal(answer, "missing=0\n", "the first round runs at once");
      await db.exec(
        `UPDATE "user" SET invite_code = NULL WHERE id IN (SELECT id FROM "user" LIMIT 5)`,
      );
      // Read as milliseconds, 60 would repair these within the second.
      await sleep(1_500);
      assert.equal(await text(), "missing=5\n");
    } finally {
      await probe.close();
    }
  } finally {
    await db.close();
  }
});

test("the self-healing repair commits in batches, pauses while the server is busy, and keeps its rate", async () => {
  const db = await postgresFixture();
  const sleepers: postgres.Sql[] = [];
  const printed: string[] = [];
  try {
    await db.seed({ users: 30_000, missing: 30_000 });
    // Five other sessions at work, where REPAIR_MAX_ACTIVE allows two.
    for (let i = 0; i < 5; i++) {
      const sql = postgres(db.env.DATABASE_URL, { max: 1, onnotice: () => {} });
      sleepers.push(sql);
      sql.unsafe("SELECT pg_sleep(120)").catch(() => {});
    }
    const probe = createProbe({
      env: {
        ...db.env,
        REPAIR_INTERVAL: "1",
        REPAIR_BATCH_SIZE: "5000",
        REPAIR_MAX_ACTIVE: "2",
        REPAIR_MAX_RATE: "0",
      },
      settings: { cacheMs: 0 },
      log: (line) => printed.push(line),
    });
    const metric = metricsOf(probe.app);
    try {
      for (let i = 0; i < 100 && await metric("invite_codes_repair_paused") !== 1; i++) {
        await sleep(100);
      }
      assert.equal(await metric("invite_codes_repair_paused"), 1);
      // Paused after its first committed batch, and it stays so while the server is busy.
      const paused = await metric("invite_codes_missing");
      assert.equal(paused, 25_000);
      await sleep(2_000);
      assert.equal(await metric("invite_codes_missing"), 25_000);
      // Five sleepers, and now and then the probe's own check running beside them.
      assert.ok(
        [5, 6].some((n) => printed.includes(PROBE_LOG.paused(`${n} other sessions at work`))),
        printed.join("\n"),
      );
      // The server is quiet again: the sleepers are ended where they run.
      await db.exec(
        `SELECT pg_terminate_backend(pid) FROM pg_stat_activity
         WHERE query = 'SELECT pg_sleep(120)' AND pid <> pg_backend_pid()`,
      );
      let missing = paused;
      for (let i = 0; i < 200 && missing !== 0; i++) {
        await sleep(100);
        missing = await metric("invite_codes_missing");
      }
      assert.equal(missing, 0);
      assert.equal(await metric("invite_codes_repair_paused"), 0);
      assert.ok(printed.includes(PROBE_LOG.resumed()));
    } finally {
      await probe.close();
    }
    // The rate cap: 6,000 users at 2,000 a second, in batches of 1,000, take over two seconds.
    await db.exec(
      `UPDATE "user" SET invite_code = NULL WHERE id IN (SELECT id FROM "user" LIMIT 6000)`,
    );
    const capped = createProbe({
      env: { ...db.env, REPAIR_INTERVAL: "1", REPAIR_BATCH_SIZE: "1000", REPAIR_MAX_RATE: "2000" },
      settings: { cacheMs: 0 },
      log: () => {},
    });
    try {
      const started = Date.now();
      let text = "";
      for (let i = 0; i < 300 && text !== "missing=0\n"; i++) {
        text = await (await capped.app.request(`${PROBE_PATH}?format=text`)).text();
        if (text !== "missing=0\n") await sleep(50);
      }
      assert.equal(text, "missing=0\n");
      assert.ok(Date.now() - started >= 2_400, `kept to the rate (${Date.now() - started} ms)`);
    } finally {
      await capped.close();
    }
  } finally {
    for (const sql of sleepers) await sql.end({ timeout: 0 });
    await db.close();
  }
});

test("by default a result is fresh for 2 s: back-to-back requests cost one check", async () => {
  const db = await postgresFixture();
  try {
    await db.seed({ users: 5 });
    const probe = createProbe({ env: db.env, log: () => {} });
    try {
      for (let i = 0; i < 5; i++) await probe.app.request(`${PROBE_PATH}?format=text`);
      assert.equal(probe.inspector.inspections, 1);
    } finally {
      await probe.close();
    }
  } finally {
    await db.close();
  }
});

test("a variable set but empty (compose's ${VAR:-}) means its default", async () => {
  const db = await postgresFixture();
  try {
    await db.seed({ users: 5 });
    const empty = Object.fromEntries(
      ["HEALTH_PORT", "HEALTH_CACHE_MS", "HEALTH_TIMEOUT_MS", "REPAIR_INTERVAL", "REPAIR_MAX_LAG"]
        .map((name) => [name, ""]),
    );
    const probe = createProbe({ env: { ...db.env, ...empty }, log: () => {} });
    try {
      const answers = [];
      for (let i = 0; i < 3; i++) answers.push(await probe.app.request(PROBE_PATH));
      assert.deepEqual(answers.map((answer) => answer.status), [200, 200, 200]);
      assert.equal(probe.inspector.inspections, 1, "fresh for the default 2 s");
    } finally {
      await probe.close();
    }
  } finally {
    await db.close();
  }
});

/** Every variable the probe reads for its settings. */
const PROBE_VARIABLES = [
  "HEALTH_HOST",
  "HEALTH_PORT",
  "HEALTH_CACHE_MS",
  "HEALTH_TIMEOUT_MS",
  "HEALTH_DETAILS",
  "REPAIR_INTERVAL",
  "REPAIR_BATCH_SIZE",
  "REPAIR_MAX_RATE",
  "REPAIR_MAX_LAG",
  "REPAIR_MAX_ACTIVE",
];

test("every probe setting set but empty is its default, HEALTH_DETAILS included", () => {
  const empty = Object.fromEntries(PROBE_VARIABLES.map((name) => [name, ""]));
  assert.deepEqual(probeSettings(empty), probeSettings({}));
  assert.equal(probeSettings({ HEALTH_DETAILS: "" }).details, false);
});

test("by default (HEALTH_HOST unset) the probe listens on every interface, as a kubelet needs; empty settings start it", async () => {
  const db = await postgresFixture();
  try {
    await db.seed({ users: 3 });
    const port = await freePort();
    const [command, args] = runtimeCommand(HEALTH);
    // Compose's ${VAR:-} for every other setting: the probe must start on its defaults.
    const empty = Object.fromEntries(
      PROBE_VARIABLES.filter((name) => !/^HEALTH_(HOST|PORT)$/.test(name)).map((n) => [n, ""]),
    );
    const probe = launch(command, args, {
      env: { ...db.env, ...empty, HEALTH_HOST: undefined, HEALTH_PORT: String(port) },
    });
    try {
      // 127.0.0.2 is loopback too, but a server bound to 127.0.0.1 alone does
      // not answer there; a pod's own address is what a kubelet dials.
      const addresses = [
        "127.0.0.2",
        ...Object.values(networkInterfaces()).flat()
          .filter((a) => a && a.family === "IPv4" && !a.internal).map((a) => a!.address),
      ];
      await Promise.race([
        waitForHttp(`http://127.0.0.2:${port}/livez`),
        probe.exited.then((code) => assert.fail(`exited ${code}: ${probe.output()}`)),
      ]);
      for (const address of addresses) {
        const answer = await get(`http://${address}:${port}${PROBE_PATH}?format=text`);
        assert.deepEqual([address, answer.status, answer.body], [address, 200, "missing=0\n"]);
      }
    } finally {
      await stopProbe(probe);
    }
  } finally {
    await db.close();
  }
});

test("invite_codes_check_duration_seconds is in seconds: a check held 1.5 s by a lock reads 1.5, not 1500", async () => {
  const db = await postgresFixture();
  const locker = postgres(db.env.DATABASE_URL, { max: 1, onnotice: () => {} });
  try {
    await db.seed({ users: 3 });
    const probe = createProbe({
      env: db.env,
      settings: { cacheMs: 0, timeoutMs: 30_000 },
      log: () => {},
    });
    try {
      // The count waits for the lock another transaction holds for 1.5 s.
      const held = locker.begin(async (tx) => {
        await tx.unsafe(`LOCK TABLE "user" IN ACCESS EXCLUSIVE MODE`);
        await sleep(1_500);
      });
      await sleep(100);
      const started = performance.now();
      const answer = await probe.app.request("/metrics");
      const waitedSeconds = (performance.now() - started) / 1000;
      await held;
      const seconds = metric(await answer.text(), "invite_codes_check_duration_seconds");
      assert.ok(
        seconds >= 1.2 && seconds <= waitedSeconds + 0.5,
        `duration ${seconds} s for a check that took ${waitedSeconds} s`,
      );
    } finally {
      await probe.close();
    }
  } finally {
    await locker.end();
    await db.close();
  }
});

test("closing the probe stops its background repair after the batch in progress", async () => {
  const db = await postgresFixture();
  try {
    await db.seed({ users: 30_000, missing: 30_000 });
    const probe = createProbe({
      env: { ...db.env, REPAIR_INTERVAL: "1", REPAIR_BATCH_SIZE: "1000", REPAIR_MAX_RATE: "2000" },
      settings: { cacheMs: 0 },
      log: () => {},
    });
    const missing = async () => (await db.rows()).filter((row) => isMissing(row.code)).length;
    let left = 30_000;
    for (let i = 0; i < 200 && left === 30_000; i++) {
      await sleep(50);
      left = await missing();
    }
    assert.ok(left < 30_000, "the repair began");
    const closing = Date.now();
    await probe.close();
    assert.ok(Date.now() - closing < 5_000, `closed in ${Date.now() - closing} ms`);
    const stoppedAt = await missing();
    assert.equal(stoppedAt % 1000, 0, `whole batches only: ${stoppedAt} missing`);
    await sleep(1_500);
    assert.equal(await missing(), stoppedAt, "no batch after the close");
    assert.ok(stoppedAt > 0, "stopped before the end");
  } finally {
    await db.close();
  }
});

test("closing the probe while its rate cap holds the next batch back ends the wait", async () => {
  const db = await postgresFixture();
  try {
    await db.seed({ users: 5_000, missing: 5_000 });
    // 1,000 users at 50 a second: after the first batch, a 20 s wait.
    const probe = createProbe({
      env: { ...db.env, REPAIR_INTERVAL: "1", REPAIR_BATCH_SIZE: "1000", REPAIR_MAX_RATE: "50" },
      settings: { cacheMs: 0 },
      log: () => {},
    });
    const missing = async () => (await db.rows()).filter((row) => isMissing(row.code)).length;
    let left = 5_000;
    for (let i = 0; i < 200 && left === 5_000; i++) {
      await sleep(50);
      left = await missing();
    }
    assert.equal(left, 4_000, "one batch committed, the next held back");
    const closing = Date.now();
    await probe.close();
    assert.ok(Date.now() - closing < 5_000, `closed in ${Date.now() - closing} ms`);
    assert.equal(await missing(), 4_000, "no batch after the close");
  } finally {
    await db.close();
  }
});

test("a probe killed mid-repair keeps its committed batches, and the next one finishes the rest", async () => {
  const db = await postgresFixture();
  try {
    await db.seed({ users: 20_000, missing: 20_000 });
    const env = {
      ...db.env,
      REPAIR_INTERVAL: "1",
      REPAIR_BATCH_SIZE: "1000",
      REPAIR_MAX_RATE: "2000",
    };
    const first = await startProbe(env);
    let rows = await db.rows();
    for (let i = 0; i < 300 && rows.every((row) => isMissing(row.code)); i++) {
      await sleep(50);
      rows = await db.rows();
    }
    sendSignal(first.probe, "SIGKILL");
    await first.probe.exited;
    const kept = new Map(
      (await db.rows()).filter((row) => !isMissing(row.code)).map((row) => [row.id, row.code]),
    );
    assert.ok(kept.size > 0 && kept.size < 20_000, `killed mid-way: ${kept.size} repaired`);
    assert.equal(kept.size % 1000, 0, "whole batches only");
    const second = await startProbe(env);
    try {
      let text = "";
      for (let i = 0; i < 600 && text !== "missing=0\n"; i++) {
        text = (await get(`${second.base}/health/invite-codes?format=text`)).body;
        if (text !== "missing=0\n") await sleep(100);
      }
      assert.equal(text, "missing=0\n");
    } finally {
      await stopProbe(second.probe);
    }
    const after = await db.rows();
    assert.equal(new Set(after.map((row) => row.code)).size, 20_000, "every code unique");
    for (const row of after) {
      if (kept.has(row.id)) {
        assert.equal(row.code, kept.get(row.id), "a committed code never changes");
      }
    }
  } finally {
    await db.close();
  }
});

test("self-healing with nothing missing: no repair runs, and the log stays quiet", async () => {
  const db = await postgresFixture();
  const printed: string[] = [];
  try {
    await db.seed({ users: 50 });
    const probe = createProbe({
      env: { ...db.env, REPAIR_INTERVAL: "1" },
      settings: { cacheMs: 0 },
      log: (line) => printed.push(line),
    });
    try {
      assert.equal((await probe.app.request(PROBE_PATH)).status, 200);
      // Three intervals: a repair per round would say so each time.
      await sleep(3_000);
      assert.equal((await probe.app.request(PROBE_PATH)).status, 200);
      assert.deepEqual(printed, [], "nothing to say while every user has a code");
      assert.equal(probe.stats.repairs, 0);
    } finally {
      await probe.close();
    }
  } finally {
    await db.close();
  }
});

test("a column without its unique constraint: 200 with status warn, and the check says why", async () => {
  const db = await postgresFixture();
  try {
    await db.seed({ users: 5, unique: false });
    const probe = createProbe({ env: db.env, settings: { cacheMs: 0 }, log: () => {} });
    try {
      const answer = await probe.app.request(PROBE_PATH);
      assert.equal(answer.status, 200);
      const body = await answer.json();
      assert.equal(body.status, "warn");
      assert.equal(body.checks["invite_codes:unique_constraint"][0].status, "warn");
    } finally {
      await probe.close();
    }
  } finally {
    await db.close();
  }
});

test("a check that outlasts HEALTH_TIMEOUT_MS names HEALTH_TIMEOUT_MS, not --timeout", async () => {
  const db = await postgresFixture();
  const proxy = await outageProxy(new URL(db.env.DATABASE_URL));
  const logged: string[] = [];
  const probe = createProbe({
    env: { DATABASE_URL: proxy.url.href, HEALTH_DETAILS: "1" },
    settings: { cacheMs: 0, timeoutMs: 1_000 },
    log: (line) => logged.push(line),
  });
  try {
    await db.seed({ users: 2 });
    assert.equal((await probe.app.request(PROBE_PATH)).status, 200);
    proxy.stall();
    const stalled = await probe.app.request(`${PROBE_PATH}?format=text`);
    assert.equal(stalled.status, 503);
    const body = await stalled.text();
    assert.match(body, /\(HEALTH_TIMEOUT_MS\)/);
    assert.doesNotMatch(body + logged.join("\n"), /--timeout/);
    assert.ok(logged.some((line) => line.includes("(HEALTH_TIMEOUT_MS)")), logged.join("\n"));
  } finally {
    await probe.close();
    await proxy.close();
    await db.close();
  }
});

test("the listen line writes an IPv6 address in brackets", async () => {
  const port = await freePort();
  const [command, args] = runtimeCommand(HEALTH);
  const probe = launch(command, args, {
    env: {
      DATABASE_URL: "sqlite:////nonexistent/webui.db",
      HEALTH_HOST: "::1",
      HEALTH_PORT: String(port),
    },
  });
  try {
    await waitForHttp(`http://[::1]:${port}/livez`);
    await waitForOutput(probe, "listening on");
    assert.match(probe.output(), literal(`listening on http://[::1]:${port}${PROBE_PATH}`));
  } finally {
    await stopProbe(probe);
  }
});
