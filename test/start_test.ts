/**
 * start.sh as a container runs it, under the runtime running this test,
 * through the original start.sh's three scenarios.
 */
import assert from "node:assert/strict";
import { chmodSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import process from "node:process";
import { after, before, describe, test } from "node:test";
import postgres from "postgres";
import { freePort } from "../scripts/net.ts";
import {
  type Fixture,
  FIXTURES,
  isDeno,
  launch,
  lines,
  literal,
  postgresFixture,
  ROOT,
  run,
  type Running,
  sendSignal,
  silentListener,
  sleep,
  waitForHttp,
  waitForOutput,
} from "./helpers.ts";
import { LOG, PROBE_LOG, PROBE_STARTING, START_LOG, WARNING_PREFIX } from "../src/messages.ts";
import { repairLockKey } from "../src/db/postgres.ts";
import { PROBE_PATH } from "../health.ts";
import { DENO_PERMISSIONS } from "../src/runtime.ts";
import { FLAGS_FROM_START_SH } from "../src/cli.ts";

const START = join(ROOT, "start.sh");
const MIGRATE = `node --no-warnings ${join(ROOT, "test", "fixtures", "add_invite_code_column.ts")}`;
// An app that shows its arguments, then waits for SIGTERM.
const APP = [
  "sh",
  "-c",
  `trap 'echo "app got SIGTERM"; exit 0' TERM; echo "app started with $# args: [$1] [$2]"; ` +
  `while :; do sleep 0.1; done`,
  "app",
  "two words",
  `it's "quoted"`,
];
const APP_LINE = `app started with 2 args: [two words] [it's "quoted"]`;

function startSh(args: string[], env: Record<string, string>): Running {
  return launch("sh", [START, ...args], {
    env: { INVITE_CODE_RUNTIME: isDeno ? "deno" : "node", ...env },
  });
}

/** Run start.sh with the app until the app is up, SIGTERM it, return the lines. */
async function startAndStop(env: Record<string, string>): Promise<string[]> {
  const running = startSh(APP, env);
  await waitForOutput(running, APP_LINE);
  sendSignal(running, "SIGTERM");
  assert.equal(await running.exited, 0, "the app received SIGTERM and exited cleanly");
  return lines(running.output());
}

for (const [dialect, open] of FIXTURES) {
  describe(`start.sh on ${dialect}`, () => {
    let db: Fixture;
    before(async () => (db = await open()));
    after(() => db.close());

    test("all users have codes: the check, then the app with its arguments", async () => {
      await db.seed({ users: 10 });
      assert.deepEqual((await startAndStop(db.env)).slice(1), [
        "Checking for users without invite codes...",
        LOG.allHaveCodes(10),
        APP_LINE,
        "app got SIGTERM",
      ]);
    });

    test("users missing codes: Found, SUCCESS, then the app", async () => {
      await db.seed({ users: 10, missing: 4 });
      const output = await startAndStop(db.env);
      assert.match(
        output[0],
        isDeno
          ? /^Using deno 2\.\d+\.\d+ for invite codes$/
          : /^Using node v\d+\.\d+\.\d+ for invite codes$/,
      );
      assert.deepEqual(output.slice(1), [
        "Checking for users without invite codes...",
        LOG.found(4),
        LOG.success(4),
        APP_LINE,
        "app got SIGTERM",
      ]);
    });

    test("the column created by the migration step itself", async () => {
      await db.seed({ users: 10, column: false });
      assert.deepEqual((await startAndStop({ ...db.env, MIGRATE_CMD: MIGRATE })).slice(1), [
        "Running database migrations...",
        "Checking for users without invite codes...",
        LOG.found(10),
        LOG.success(10),
        APP_LINE,
        "app got SIGTERM",
      ]);
    });

    test("a failing migration is a warning, and the app still starts", async () => {
      await db.seed({ users: 3 });
      const output = await startAndStop({ ...db.env, MIGRATE_CMD: "exit 3" });
      assert.deepEqual(output.slice(1, 4), [
        "Running database migrations...",
        "WARNING: Database migrations failed (MIGRATE_CMD exited non-zero), continuing",
        "Checking for users without invite codes...",
      ]);
      assert.ok(output.includes(APP_LINE));
    });
  });
}

describe("start.sh and the probe", () => {
  let db: Fixture;
  before(async () => (db = await FIXTURES[1][1]()));
  after(() => db.close());

  test("with no command it serves the probe, which stops on SIGTERM", async () => {
    await db.seed({ users: 6, missing: 6 });
    const port = await freePort();
    const running = startSh([], { ...db.env, HEALTH_HOST: "127.0.0.1", HEALTH_PORT: String(port) });
    const url = `http://127.0.0.1:${port}/health/invite-codes?format=text`;
    // The probe listens before the repair: it may first see the 6 missing.
    await waitForBody(url, "missing=0\n", 30_000);
    sendSignal(running, "SIGTERM");
    // 0 from the probe; 143 when the repair's last steps (its upkeep after
    // the commit, its exit) were still running as the signal came.
    const status = await running.exited;
    assert.ok(status === 0 || status === 143, `exit status ${status}`);
    assert.match(running.output(), literal(LOG.success(6)));
    assert.match(running.output(), literal(PROBE_LOG.stopping("SIGTERM")));
  });

  test("Node's compile cache in a folder whose path has a space: used, and the repair runs", async () => {
    await db.seed({ users: 3, missing: 3 });
    const parent = mkdtempSync(join(tmpdir(), "invite-code cache "));
    const cache = join(parent, "node cache");
    try {
      const output = await startAndStop({
        ...db.env,
        INVITE_CODE_RUNTIME: "node",
        NODE_COMPILE_CACHE: cache,
      });
      assert.deepEqual(output.slice(1, 4), [
        "Checking for users without invite codes...",
        LOG.found(3),
        LOG.success(3),
      ]);
      assert.ok(readdirSync(cache).length > 0, "the cache was written");
    } finally {
      rmSync(parent, { recursive: true, force: true });
    }
  });

  test("with HEALTH_PORT and a command, the probe runs beside the app", async () => {
    await db.seed({ users: 2 });
    const port = await freePort();
    const running = startSh(APP, {
      ...db.env,
      HEALTH_HOST: "127.0.0.1",
      HEALTH_PORT: String(port),
    });
    try {
      await waitForOutput(running, APP_LINE);
      const url = `http://127.0.0.1:${port}/health/invite-codes?format=text`;
      await waitForHttp(url, 30_000);
      assert.equal(await (await fetch(url)).text(), "missing=0\n");
    } finally {
      sendSignal(running, "SIGTERM");
      await running.exited;
    }
    // The probe follows the app out, here as at a container's end.
    const until = Date.now() + 5000;
    let alive = true;
    while (alive && Date.now() < until) {
      alive = await fetch(`http://127.0.0.1:${port}/livez`).then((r) =>
        r.body?.cancel().then(() =>
          true
        ), () => false) ?? false;
      await new Promise((resolve) =>
        setTimeout(resolve, 100)
      );
    }
    assert.equal(alive, false, "the probe exited with the app");
  });

  test("a bad setting of the tool's own is one WARNING line, and the repair and the app run", async () => {
    await db.seed({ users: 3 });
    const cases: [Record<string, string>, RegExp][] = [
      // Not a runtime: picked as if unset.
      [{ INVITE_CODE_RUNTIME: "bun" }, literal(START_LOG.badRuntime("bun"))],
      // A port the probe beside the app cannot take.
      [
        { HEALTH_HOST: "127.0.0.1", HEALTH_PORT: "http" },
        new RegExp(`${literal(PROBE_LOG.notStarted("")).source}.*HEALTH_PORT`),
      ],
    ];
    for (const [settings, warning] of cases) {
      const output = await startAndStop({ ...db.env, ...settings });
      assert.equal(output.filter((line) => warning.test(line)).length, 1, output.join("\n"));
      assert.ok(output.includes(LOG.allHaveCodes(3)), `the repair ran: ${output.join("\n")}`);
      assert.doesNotMatch(output.join("\n"), /^ERROR|^\s+at /m);
    }
    // A flag the repair does not know: one WARNING naming INVITE_CODE_FLAGS, no ERROR, the app runs.
    const flagged = await startAndStop({ ...db.env, INVITE_CODE_FLAGS: "--bogus" });
    const said = flagged.filter((line) => /^(WARNING|ERROR)/.test(line));
    assert.equal(said.length, 1, flagged.join("\n"));
    assert.match(
      said[0],
      new RegExp(`^${literal(LOG.failed("INVITE_CODE_FLAGS: ")).source}.*--bogus`),
    );
    assert.ok(flagged.includes(APP_LINE), flagged.join("\n"));
    // Spelled in capitals or with spaces, a runtime is still that runtime.
    const spelled = await startAndStop({ ...db.env, INVITE_CODE_RUNTIME: " Node " });
    assert.match(spelled[0], /^Using node v\d+/);
    assert.doesNotMatch(spelled.join("\n"), /WARNING/);
  });

  test("INVITE_CODE_FLAGS are words, never file name patterns", async () => {
    // Globbed, "--timeout *" would become "--timeout <a file name here>".
    const cwd = mkdtempSync(join(tmpdir(), "invite-code-glob-"));
    writeFileSync(join(cwd, "7"), "");
    try {
      const running = launch("sh", [START, ...APP], {
        cwd,
        env: {
          INVITE_CODE_RUNTIME: isDeno ? "deno" : "node",
          ...db.env,
          INVITE_CODE_FLAGS: "--timeout *",
        },
      });
      await waitForOutput(running, APP_LINE);
      sendSignal(running, "SIGTERM");
      assert.equal(await running.exited, 0);
      assert.match(running.output(), /--timeout needs .*, got "\*"/);
    } finally {
      rmSync(cwd, { recursive: true, force: true });
    }
  });

  test("start.sh's own settings set but empty are their defaults: a capable runtime, no migration, no flags, no probe beside the app", async () => {
    await db.seed({ users: 5, missing: 2 });
    const empty = Object.fromEntries(
      [
        "INVITE_CODE_RUNTIME",
        "INVITE_CODE_FLAGS",
        "MIGRATE_CMD",
        "HEALTH_PORT",
        "NODE_COMPILE_CACHE",
      ]
        .map((name) => [name, ""]),
    );
    const output = await startAndStop({ ...db.env, ...empty });
    assert.match(output[0], /^Using (deno|node) v?\d+\.\d+\.\d+ for invite codes$/);
    assert.deepEqual(output.slice(1), [
      "Checking for users without invite codes...",
      LOG.found(2),
      LOG.success(2),
      APP_LINE,
      "app got SIGTERM",
    ]);
  });

  test("start.sh speaks the contract's WARNING prefix and Deno permissions", () => {
    const script = readFileSync(START, "utf8");
    assert.ok(script.includes(`warning="${WARNING_PREFIX.trimEnd()}"`), "WARNING prefix");
    assert.ok(script.includes(`deno_permissions="${DENO_PERMISSIONS.join(" ")}"`), "permissions");
    assert.ok(
      script.includes(`export ${FLAGS_FROM_START_SH}=1`),
      "INVITE_CODE_FLAGS marked as start.sh's",
    );
  });

  test("no capable runtime: one line naming the versions that work, and the app still starts", async () => {
    // A node that is too old (as Debian bookworm's own is, or one minor short), first on the PATH.
    for (const version of ["v20.11.1", "v22.17.0"]) {
      const bin = mkdtempSync(join(tmpdir(), "invite-code-old-node-"));
      writeFileSync(join(bin, "node"), `#!/bin/sh\necho ${version}\n`);
      chmodSync(join(bin, "node"), 0o755);
      const running = launch("sh", [START, ...APP], { env: { PATH: `${bin}:/usr/bin` } });
      try {
        await waitForOutput(running, APP_LINE);
        sendSignal(running, "SIGTERM");
        assert.equal(await running.exited, 0);
      } finally {
        rmSync(bin, { recursive: true, force: true });
      }
      assert.deepEqual(lines(running.output()).slice(0, 2), [
        "Checking for users without invite codes...",
        LOG.failed(
          `no capable runtime: needs Node >= 22.18 or Deno >= 2.2 (found: node ${version})`,
        ),
      ]);
      assert.doesNotMatch(running.output(), /^\s+at /m, "no stack trace");
    }
  });

  /** A folder of fake runtimes: each answers --version with its line, and says how it was run. */
  function fakeRuntimes(versions: Record<string, string>): string {
    const bin = mkdtempSync(join(tmpdir(), "invite-code-fake-runtimes-"));
    for (const [name, version] of Object.entries(versions)) {
      writeFileSync(
        join(bin, name),
        `#!/bin/sh\n[ "$1" = --version ] && { echo "${version}"; exit 0; }\n` +
          `echo "fake ${name} ran $*"\n`,
      );
      chmodSync(join(bin, name), 0o755);
    }
    return bin;
  }

  test("the documented minimums themselves, Node 22.18.0 and Deno 2.2.0, are accepted", async () => {
    const cases: [Record<string, string>, string][] = [
      [{ node: "v22.18.0" }, "node v22.18.0"],
      // Beside a node one minor short: Deno 2.2.0 is the capable one.
      [
        { node: "v22.17.9", deno: "deno 2.2.0 (stable, release, x86_64-unknown-linux-gnu)" },
        "deno 2.2.0",
      ],
    ];
    for (const [versions, using] of cases) {
      const bin = fakeRuntimes(versions);
      try {
        const running = launch("sh", [START, ...APP], { env: { PATH: `${bin}:/usr/bin:/bin` } });
        await waitForOutput(running, APP_LINE);
        sendSignal(running, "SIGTERM");
        assert.equal(await running.exited, 0);
        const printed = lines(running.output());
        assert.deepEqual(printed.slice(0, 2), [
          `Using ${using} for invite codes`,
          "Checking for users without invite codes...",
        ]);
        const runtime = using.split(" ")[0];
        assert.match(
          printed[2],
          new RegExp(`^fake ${runtime} ran .*mod\\.ts$`),
          printed.join("\n"),
        );
        assert.doesNotMatch(running.output(), /WARNING/);
      } finally {
        rmSync(bin, { recursive: true, force: true });
      }
    }
  });

  test("Node 22.17.x and Deno 2.1.x are refused: one WARNING line, and the app still starts", async () => {
    const deno = "deno 2.1.9 (stable, release, x86_64-unknown-linux-gnu)";
    const bin = fakeRuntimes({ node: "v22.17.9", deno });
    try {
      const running = launch("sh", [START, ...APP], { env: { PATH: `${bin}:/usr/bin:/bin` } });
      await waitForOutput(running, APP_LINE);
      sendSignal(running, "SIGTERM");
      assert.equal(await running.exited, 0);
      assert.deepEqual(lines(running.output()), [
        "Checking for users without invite codes...",
        LOG.failed(
          `no capable runtime: needs Node >= 22.18 or Deno >= 2.2 (found: node v22.17.9 deno ${deno})`,
        ),
        APP_LINE,
        "app got SIGTERM",
      ]);
    } finally {
      rmSync(bin, { recursive: true, force: true });
    }
  });

  test("a repair that exits non-zero (a crash, an OOM kill): the app still starts", async () => {
    const bin = mkdtempSync(join(tmpdir(), "invite-code-killed-node-"));
    // A capable node that is killed as the OOM killer kills: SIGKILL, status 137.
    writeFileSync(
      join(bin, "node"),
      '#!/bin/sh\n[ "$1" = --version ] && { echo v24.9.0; exit 0; }\nkill -9 $$\n',
    );
    chmodSync(join(bin, "node"), 0o755);
    try {
      const running = launch("sh", [START, ...APP], {
        env: {
          DATABASE_URL: "sqlite:///x.db",
          INVITE_CODE_RUNTIME: "node",
          PATH: `${bin}:${process.env.PATH}`,
        },
      });
      await waitForOutput(running, APP_LINE);
      sendSignal(running, "SIGTERM");
      assert.equal(await running.exited, 0, running.output());
      assert.ok(
        lines(running.output()).includes(LOG.failed("the repair exited with status 137")),
        running.output(),
      );
    } finally {
      rmSync(bin, { recursive: true, force: true });
    }
  });

  test("without INVITE_CODE_RUNTIME, Deno is preferred when both are capable", async () => {
    const bin = mkdtempSync(join(tmpdir(), "invite-code-fake-deno-"));
    writeFileSync(
      join(bin, "deno"),
      '#!/bin/sh\n[ "$1" = --version ] && { echo "deno 2.9.6 (stable)"; exit 0; }\n' +
        'echo "fake deno ran $*"\n',
    );
    chmodSync(join(bin, "deno"), 0o755);
    try {
      const running = launch("sh", [START, ...APP], {
        env: { INVITE_CODE_RUNTIME: undefined, PATH: `${bin}:${process.env.PATH}` },
      });
      await waitForOutput(running, APP_LINE);
      sendSignal(running, "SIGTERM");
      assert.equal(await running.exited, 0);
      assert.ok(
        lines(running.output()).includes("Using deno 2.9.6 for invite codes"),
        running.output(),
      );
      assert.match(running.output(), /^fake deno ran run --allow-env/m);
    } finally {
      rmSync(bin, { recursive: true, force: true });
    }
  });

  test("a signal sent as a step starts still reaches it (sh drops one sent right after a fork)", async () => {
    // start.sh's own functions, run by sh with the signal already caught when
    // forward() forks the step: the freshly forked child still has the
    // shell's trap handler until it execs, and a plain kill then is lost
    // (the step ran to its end: a 60 s migration held a stopping pod).
    const source = readFileSync(START, "utf8");
    const functions = ["signal_child", "on_signal", "forward"].map((name) => {
      const body = new RegExp(`^${name}\\(\\) \\{[\\s\\S]*?^\\}`, "m").exec(source)?.[0];
      assert.ok(body, `start.sh defines ${name}`);
      return body;
    });
    const script = `own_group="setsid -w"; child=""; signalled=TERM
${functions.join("\n")}
trap 'on_signal TERM' TERM
forward sleep 5; echo "rc=$?"`;
    const started = Date.now();
    const ran = await run("sh", ["-c", script], { timeoutMs: 20_000 });
    assert.equal(ran.stdout.trim(), "rc=143", ran.stderr);
    assert.ok(Date.now() - started < 4000, `the step stopped in ${Date.now() - started} ms`);
  });

  for (const [signal, status] of [["SIGTERM", 143], ["SIGINT", 130]] as const) {
    test(`${signal} during a slow migration: start.sh stops within 5 s and the app never starts`, async () => {
      // A shell's background job ignores SIGINT: passed on as such, the
      // migration ran its 60 s to the end.
      const running = startSh(APP, { DATA_DIR: "/nonexistent", MIGRATE_CMD: "sleep 60" });
      await waitForOutput(running, "Running database migrations...");
      const sent = Date.now();
      sendSignal(running, signal);
      assert.equal(await running.exited, status);
      assert.ok(Date.now() - sent < 5000, `stopped in ${Date.now() - sent} ms`);
      assert.doesNotMatch(running.output(), /Checking for users|app started/);
    });
  }
});

describe("start.sh stopped during the repair", () => {
  let db: Fixture;
  before(async () => (db = await FIXTURES[0][1]()));
  after(() => db.close());

  for (const [signal, status] of [["SIGTERM", 143], ["SIGINT", 130]] as const) {
    test(`${signal} reaches the repair: it rolls back, start.sh exits within 5 s`, async () => {
      await db.seed({ users: 150_000, missing: 150_000 });
      const running = startSh(APP, db.env);
      await waitForOutput(running, LOG.found(150_000));
      const sent = Date.now();
      sendSignal(running, signal);
      assert.equal(await running.exited, status);
      assert.ok(Date.now() - sent < 5000, `stopped in ${Date.now() - sent} ms`);
      assert.doesNotMatch(running.output(), /app started|SUCCESS/);
      const rows = await db.rows();
      assert.equal(rows.filter((r) => r.code === null).length, 150_000, "rolled back whole");
    });
  }
});

describe("the probe listens from its first second", () => {
  test("with no command, against a database that drops packets: /livez 200, readiness 503 starting", async () => {
    const silent = await silentListener();
    const port = await freePort();
    const base = `http://127.0.0.1:${port}`;
    const started = Date.now();
    const running = startSh([], {
      DATABASE_URL: `postgresql://webui:pw@127.0.0.1:${silent.port}/openwebui`,
      HEALTH_HOST: "127.0.0.1",
      HEALTH_PORT: String(port),
      // The probe's own first check waits as long: its answer is not known yet.
      HEALTH_TIMEOUT_MS: "30000",
      INVITE_CODE_FLAGS: "--timeout 60",
    });
    try {
      // Before: the repair ran first, and /livez was silent until its deadline.
      await waitForHttp(`${base}/livez`, 15_000);
      const live = await fetch(`${base}/livez`);
      assert.equal(live.status, 200);
      assert.equal(await live.text(), "ok\n");
      assert.ok(Date.now() - started < 15_000);
      const ready = await fetch(`${base}${PROBE_PATH}?format=text`);
      assert.equal(ready.status, 503);
      assert.equal(await ready.text(), `missing=unknown (${PROBE_STARTING})\n`);
      const json = await (await fetch(`${base}${PROBE_PATH}`)).json();
      assert.equal(json.status, "fail");
      assert.equal(json.output, PROBE_STARTING);
      // The repair still waits, and says so after a few seconds.
      await waitForOutput(
        running,
        LOG.waitingForDatabase(`postgresql://webui:***@127.0.0.1:${silent.port}/openwebui`),
        20_000,
      );
      assert.doesNotMatch(running.output(), /Failed to auto-fix/);
      assert.equal((await fetch(`${base}/livez`)).status, 200);
      const sent = Date.now();
      sendSignal(running, "SIGTERM");
      assert.equal(await running.exited, 143);
      assert.ok(Date.now() - sent < 8000, `stopped in ${Date.now() - sent} ms`);
    } finally {
      sendSignal(running, "SIGKILL");
      silent.close();
    }
  });

  test("beside the app, while another replica holds the lock: /livez 200, readiness 503, then missing=0", async () => {
    const db = await postgresFixture();
    const holder = postgres(db.env.DATABASE_URL, { max: 1, onnotice: () => {} });
    const port = await freePort();
    const base = `http://127.0.0.1:${port}`;
    try {
      await db.seed({ users: 20, missing: 20 });
      await holder`SELECT pg_advisory_lock(hashtextextended(${repairLockKey("public")}, 0))`;
      const running = startSh(APP, {
        ...db.env,
        HEALTH_HOST: "127.0.0.1",
        HEALTH_PORT: String(port),
        HEALTH_CACHE_MS: "0",
      });
      try {
        await waitForHttp(`${base}/livez`, 15_000);
        assert.equal((await fetch(`${base}/livez`)).status, 200);
        await waitForBody(`${base}${PROBE_PATH}?format=text`, "missing=20\n", 15_000);
        await waitForOutput(running, LOG.waitingForLock(), 20_000);
        assert.ok(!running.output().includes(APP_LINE), "the app waits for the repair");
        const ready = await fetch(`${base}${PROBE_PATH}`);
        assert.equal(ready.status, 503);
        await ready.body?.cancel();
        await holder`SELECT pg_advisory_unlock_all()`;
        await waitForOutput(running, APP_LINE);
        assert.ok(lines(running.output()).includes(LOG.success(20)));
        await waitForBody(`${base}${PROBE_PATH}?format=text`, "missing=0\n", 15_000);
      } finally {
        sendSignal(running, "SIGTERM");
        await running.exited;
      }
    } finally {
      await holder.end();
      await db.close();
    }
  });
});

/** Poll `url` until its body is `expected` (the probe may first see the state before the repair). */
async function waitForBody(url: string, expected: string, timeoutMs: number): Promise<void> {
  const until = Date.now() + timeoutMs;
  let last = "";
  while (Date.now() < until) {
    try {
      last = await (await fetch(url)).text();
      if (last === expected) return;
    } catch (error) {
      last = String(error);
    }
    await sleep(100);
  }
  assert.fail(`${url} answered ${JSON.stringify(last)}, not ${JSON.stringify(expected)}`);
}
