/**
 * `npm run bench`: the repair next to its floor and its predecessor, on an
 * Open WebUI-shaped table, every measurement on a fresh copy after a
 * checkpoint, ratios taken side by side in this one run.
 *
 * BENCH_DATABASE_URL  a PostgreSQL server to use (default: an embedded one)
 * BENCH_USERS         users for the backfill and no-op start (default 1000000)
 * BENCH_SQLITE_USERS  users for SQLite (default 1000000)
 * BENCH_RUNS          runs whose median is taken for short measurements (default 5)
 * BENCH_RUNTIMES      runtimes to measure (default "node,deno")
 * BENCH_PYTHON        the python3 with SQLAlchemy and psycopg2 (default /usr/bin/python3)
 * BENCH_POSTGRES_BIN  a PostgreSQL bin folder to start instead of the embedded
 *                     one (e.g. /usr/lib/postgresql/15/bin, Debian's 15)
 * BENCH_BACKFILL_ROUNDS  rounds of the million-user floors and repairs, interleaved (default 1)
 * BENCH_SECTIONS      which parts to run (default "backfill,start,unindexed,probe,sqlite")
 *
 * Every time is of a whole process, launch to exit, as a container start
 * sees it: the repair (the CLI, `mod.ts`), the original (`original.py`,
 * Python + SQLAlchemy + psycopg2) and the floors (one UPDATE from a one-shot
 * python3 process). Every measured repair is verified: every user has a code,
 * and no code is held twice.
 */
import { spawn, spawnSync } from "node:child_process";
import { copyFileSync, mkdtempSync, rmSync } from "node:fs";
import { cpus, tmpdir, totalmem } from "node:os";
import { join } from "node:path";
import process from "node:process";
import { DatabaseSync } from "node:sqlite";
import { fileURLToPath } from "node:url";
import postgres from "postgres";
import {
  createUserTableSql,
  POSTGRES_SEED,
  seedUsersSql,
  SQLITE_SEED,
} from "../scripts/openwebui.ts";
import { freePort, projectPath } from "../scripts/net.ts";
import { startEmbeddedPostgres } from "../scripts/postgres.ts";

const ROOT = fileURLToPath(new URL("..", import.meta.url));
const env: Record<string, string | undefined> = { ...process.env, PATH: projectPath(ROOT) };
const USERS = Number(env.BENCH_USERS ?? 1_000_000);
const SQLITE_USERS = Number(env.BENCH_SQLITE_USERS ?? 1_000_000);
const RUNS = Number(env.BENCH_RUNS ?? 5);
const RUNTIMES = (env.BENCH_RUNTIMES ?? "node,deno").split(",");
// Debian's python3, which python3-sqlalchemy and python3-psycopg2 install into.
const PYTHON = env.BENCH_PYTHON ?? "/usr/bin/python3";
const SECTIONS = new Set(
  (env.BENCH_SECTIONS ?? "backfill,start,unindexed,probe,sqlite").split(","),
);
const BACKFILL_ROUNDS = Number(env.BENCH_BACKFILL_ROUNDS ?? 1);
const DENO_FLAGS = ["--allow-env", "--allow-net", "--allow-read", "--allow-write"];

interface Row {
  what: string;
  runtime: string;
  ms: number;
  peakMiB?: number;
  reference?: string;
  referenceMs?: number;
  /** Show the ratio as "N x faster" (reference ÷ time) rather than time ÷ reference. */
  speedup?: boolean;
  /** The values are counts (requests/s), not milliseconds. */
  count?: boolean;
  /** Taken round by round rather than from the two columns' medians. */
  ratio?: number;
}
const rows: Row[] = [];

/** Node compile caches of the measured runs, all removed when the bench ends. */
const CACHES = mkdtempSync(join(tmpdir(), "invite-code-bench-cache-"));
process.on("exit", () => rmSync(CACHES, { recursive: true, force: true }));
const freshCache = () => mkdtempSync(join(CACHES, "run-"));
const say = (line: string) => console.error(`[bench] ${line}`);

function command(runtime: string, script: string): [string, string[]] {
  // Reading its own /proc/self/status for peak memory takes Deno's --allow-all.
  const flags = script.endsWith("repair_child.ts") ? ["--allow-all"] : DENO_FLAGS;
  return runtime === "deno" ? ["deno", ["run", ...flags, script]] : ["node", [script]];
}

/**
 * Run a script under a runtime; returns wall milliseconds and its stdout.
 * Asynchronous on purpose: the embedded server logs to a pipe this process
 * must keep draining.
 */
async function timed(runtime: string, script: string, extraEnv: Record<string, string>) {
  const [cmd, args] = command(runtime, join(ROOT, script));
  const started = performance.now();
  const child = spawn(cmd, args, { env: { ...env, DENO_NO_UPDATE_CHECK: "1", ...extraEnv } });
  let stdout = "";
  let stderr = "";
  child.stdout.on("data", (chunk) => (stdout += chunk));
  child.stderr.on("data", (chunk) => (stderr += chunk));
  const status = await new Promise<number | null>((resolve) => child.on("close", resolve));
  const ms = performance.now() - started;
  if (status !== 0) throw new Error(`${cmd} ${script} failed: ${stderr}`);
  return { ms, stdout };
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)];
}

/** The geometric mean of the round-by-round ratios `a[i] / b[i]`. */
function meanRatio(a: number[], b: number[]): number {
  return Math.exp(a.reduce((sum, value, i) => sum + Math.log(value / b[i]), 0) / a.length);
}

/** Median whole-process time of `script`, after one warm-up run. */
async function startTime(
  runtime: string,
  script: string,
  extraEnv: Record<string, string>,
): Promise<number> {
  await timed(runtime, script, extraEnv);
  const times: number[] = [];
  for (let i = 0; i < RUNS; i++) times.push((await timed(runtime, script, extraEnv)).ms);
  return median(times);
}

/** A repair in a process of its own, timed whole from here, then verified. */
async function measuredRepair(
  runtime: string,
  databaseUrl: string,
  extra: Record<string, string> = {},
) {
  const { ms, stdout } = await timed(runtime, "bench/repair_child.ts", {
    DATABASE_URL: databaseUrl,
    ...extra,
  });
  const report = JSON.parse(stdout.trim().split("\n").at(-1)!);
  if (report.status !== "repaired") throw new Error(`repair ended ${report.status}`);
  await verify(databaseUrl);
  return { ms, peakMiB: report.peakMiB as number, generated: report.generated as number };
}

/** Every user has a code and no code is held twice, or throw. */
async function verify(databaseUrl: string): Promise<void> {
  let row: { total: number; distinct_codes: number; missing: number };
  if (databaseUrl.startsWith("sqlite:")) {
    const db = new DatabaseSync(databaseUrl.slice("sqlite://".length));
    row = db.prepare(
      `SELECT count(*) AS total, count(DISTINCT invite_code) AS distinct_codes,
         coalesce(sum(invite_code IS NULL OR trim(invite_code) = ''), 0) AS missing FROM "user"`,
    ).get() as typeof row;
    db.close();
  } else {
    const sql = postgres(databaseUrl, { max: 1, onnotice: () => {} });
    [row] = await sql.unsafe(
      `SELECT count(*)::int AS total, count(DISTINCT invite_code)::int AS distinct_codes,
         count(*) FILTER (WHERE invite_code IS NULL OR btrim(invite_code) = '')::int AS missing
       FROM "user"`,
    );
    await sql.end();
  }
  if (row.missing !== 0 || row.distinct_codes !== row.total) {
    throw new Error(
      `verification failed: ${row.missing} missing, ${row.total - row.distinct_codes} duplicated`,
    );
  }
}

/** Milliseconds of a whole python3 process (a floor or the original). */
async function python(args: string[], extraEnv: Record<string, string>): Promise<number> {
  const started = performance.now();
  // SQLAlchemy takes postgresql://, not the postgres:// the embedded server gives.
  const url = extraEnv.DATABASE_URL?.replace(/^postgres:/, "postgresql:");
  const child = spawn(PYTHON, args, {
    env: { ...env, ...extraEnv, ...(url ? { DATABASE_URL: url } : {}) },
  });
  let stderr = "";
  child.stdout.on("data", () => {});
  child.stderr.on("data", (chunk) => (stderr += chunk));
  const status = await new Promise<number | null>((resolve) => child.on("close", resolve));
  if (status !== 0) throw new Error(`python3 ${args.join(" ")} failed: ${stderr.slice(-300)}`);
  return performance.now() - started;
}

/** A server of the probe's path, started by `serve`. */
interface Served {
  url: string;
  pid: number;
  /** One answer, to serve the same bytes and type from the static route. */
  body: string;
  type: string;
  stop(): void;
}

/** Serve `script` under `runtime` on a free port; resolves once `query` is answered. */
async function serve(
  runtime: string,
  script: string,
  query: string,
  extraEnv: Record<string, string>,
): Promise<Served> {
  const port = String(await freePort());
  const [cmd, args] = command(runtime, join(ROOT, script));
  const server = spawn(cmd, args, {
    env: {
      ...env,
      ...extraEnv,
      HEALTH_HOST: "127.0.0.1",
      HEALTH_PORT: port,
      DENO_NO_UPDATE_CHECK: "1",
    },
    stdio: "ignore",
  });
  const url = `http://127.0.0.1:${port}/health/invite-codes${query}`;
  for (let i = 0; i < 100; i++) {
    const answer = await fetch(url).then(
      async (r) => ({ body: await r.text(), type: r.headers.get("content-type") ?? "" }),
      () => undefined,
    );
    if (answer) return { url, pid: server.pid!, ...answer, stop: () => server.kill("SIGTERM") };
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  server.kill("SIGTERM");
  throw new Error(`${runtime} ${script} did not answer ${url} within 10 s`);
}

/** Whether `command` is on the PATH. */
function installed(command: string): boolean {
  return spawnSync("sh", ["-c", `command -v ${command}`]).status === 0;
}

/** Pairs of server and wrk get a CPU each when there are two (util-linux's taskset). */
const PINNING = cpus().length >= 2 && installed("taskset");

/** Move a process, every thread of it, to one CPU. */
function pin(pid: number, cpu: number): void {
  if (!PINNING) return;
  const pinned = spawnSync("taskset", ["-a", "-p", "-c", String(cpu), String(pid)]);
  if (pinned.status !== 0) throw new Error(`taskset failed: ${String(pinned.stderr).trim()}`);
}

/** Load `url` with wrk (one thread, 25 connections) for `seconds`, on `cpu`. */
async function load(url: string, seconds: number, cpu: number) {
  const wrkArgs = ["-t1", "-c25", `-d${seconds}s`, "--latency", url];
  const wrk = PINNING
    ? spawn("taskset", ["-c", String(cpu), "wrk", ...wrkArgs])
    : spawn("wrk", wrkArgs);
  let out = "";
  wrk.stdout.on("data", (chunk) => (out += chunk));
  await new Promise((resolve) => wrk.on("close", resolve));
  const rps = Number(/Requests\/sec:\s+([\d.]+)/.exec(out)?.[1]);
  const [, value, unit] = /^\s+99%\s+([\d.]+)(us|ms|s)/m.exec(out) ?? [];
  const p99Ms = Number(value) * ({ us: 0.001, ms: 1, s: 1000 }[unit] ?? NaN);
  return { rps, p99Ms };
}

// ---------------------------------------------------------------------------
// PostgreSQL

const onPostgres = ["backfill", "start", "unindexed", "probe"].some((s) => SECTIONS.has(s));
const server = env.BENCH_DATABASE_URL || !onPostgres
  ? undefined
  : await startEmbeddedPostgres({ bin: env.BENCH_POSTGRES_BIN });
const serverUrl = env.BENCH_DATABASE_URL ?? server?.url ?? "postgres://localhost/";
const admin = postgres(serverUrl, { max: 1, onnotice: () => {} });
const urlOf = (database: string) => {
  const url = new URL(serverUrl);
  url.pathname = `/${database}`;
  return url.href;
};

async function createTemplate(name: string, users: number, withCodes = 0) {
  await admin.unsafe(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
  await admin.unsafe(`CREATE DATABASE ${name}`);
  const sql = postgres(urlOf(name), { max: 1, onnotice: () => {} });
  await sql.unsafe(createUserTableSql({ users }));
  await sql.unsafe(seedUsersSql({ users, missing: users - withCodes }, POSTGRES_SEED));
  await sql.unsafe(`VACUUM ANALYZE "user"`);
  await sql.end();
}

const templates = new Map<number, Promise<string>>();
/** The template of `users` users without codes, seeded once. */
function templateOf(users: number): Promise<string> {
  if (!templates.has(users)) {
    const name = `bench_${users}`;
    say(`seeding ${users} PostgreSQL users without codes`);
    templates.set(users, createTemplate(name, users).then(() => name));
  }
  return templates.get(users)!;
}

/** A fresh copy of `template`, checkpointed so no measurement pays for another's writes. */
async function freshCopy(template: string): Promise<string> {
  await admin.unsafe(`DROP DATABASE IF EXISTS bench_run WITH (FORCE)`);
  await admin.unsafe(`CREATE DATABASE bench_run TEMPLATE ${template}`);
  await admin.unsafe(`CHECKPOINT`);
  return urlOf("bench_run");
}

/** One UPDATE on a fresh copy, as a whole python3 + psycopg2 process. */
async function floor(template: string, setup: string, update: string): Promise<number> {
  const url = await freshCopy(template);
  const sql = postgres(url, { max: 1, onnotice: () => {} });
  await sql.unsafe(setup);
  await sql.end();
  const script = `import os, psycopg2
c = psycopg2.connect(os.environ["DATABASE_URL"])
c.cursor().execute(os.environ["FLOOR_SQL"])
c.commit()`;
  return await python(["-c", script], { DATABASE_URL: url, FLOOR_SQL: update });
}

if (onPostgres) {
  try {
    if (SECTIONS.has("backfill")) {
      // One floor against one repair moved by half between days on this
      // machine; rounds of all of them, interleaved, give medians instead.
      const sequentialFloors: number[] = [];
      const scatteredFloors: number[] = [];
      const repairs = new Map<string, { ms: number[]; peakMiB: number[] }>(
        RUNTIMES.map((runtime) => [runtime, { ms: [], peakMiB: [] }]),
      );
      for (let round = 0; round < BACKFILL_ROUNDS; round++) {
        const sequentialFloor = await floor(
          await templateOf(USERS),
          `CREATE SEQUENCE floor_seq`,
          `UPDATE "user" SET invite_code = to_hex(nextval('floor_seq')) WHERE invite_code IS NULL`,
        );
        sequentialFloors.push(sequentialFloor);
        say(`floor (sequential values): ${sequentialFloor.toFixed(0)} ms`);
        // Unique values scattered over the key space, as random codes are: a
        // bijective 32-bit mix of a sequence (one SQL function call per row).
        const scatteredFloor = await floor(
          await templateOf(USERS),
          `CREATE SEQUENCE floor_seq;
     CREATE FUNCTION mix32(h bigint) RETURNS bigint LANGUAGE sql IMMUTABLE AS $$
       SELECT (x >> 16) # x FROM (SELECT ((((y >> 16) # y) * 73244475) % 4294967296) AS x
       FROM (SELECT ((((h >> 16) # h) * 73244475) % 4294967296) AS y) a) b $$`,
          `UPDATE "user" SET invite_code = lpad(to_hex(mix32(nextval('floor_seq'))), 8, '0')
     WHERE invite_code IS NULL`,
        );
        scatteredFloors.push(scatteredFloor);
        say(`floor (scattered values): ${scatteredFloor.toFixed(0)} ms`);
        for (const runtime of RUNTIMES) {
          const report = await measuredRepair(runtime, await freshCopy(await templateOf(USERS)));
          say(
            `${runtime} repair of ${USERS}: ${report.ms.toFixed(0)} ms, peak ${
              report.peakMiB.toFixed(0)
            } MiB`,
          );
          repairs.get(runtime)!.ms.push(report.ms);
          repairs.get(runtime)!.peakMiB.push(report.peakMiB);
        }
      }

      const rounds = BACKFILL_ROUNDS > 1 ? ` (median of ${BACKFILL_ROUNDS}, interleaved)` : "";
      for (const runtime of RUNTIMES) {
        const { ms, peakMiB } = repairs.get(runtime)!;
        for (
          const [reference, floors] of [
            ["floor: one UPDATE, sequential values", sequentialFloors],
            ["floor: one UPDATE, scattered values", scatteredFloors],
          ] as const
        ) {
          rows.push({
            what: `PostgreSQL backfill, ${USERS} users, atomic${rounds}`,
            runtime,
            ms: median(ms),
            peakMiB: Math.max(...peakMiB),
            reference,
            referenceMs: median(floors),
          });
        }
      }

      const atomic = rows.find((r) => r.runtime === RUNTIMES[0])!;
      const batched = await measuredRepair(RUNTIMES[0], await freshCopy(await templateOf(USERS)), {
        BENCH_BATCH_SIZE: "100000",
      });
      rows.push({
        what: `PostgreSQL backfill, ${USERS} users, --batch-size 100000`,
        runtime: RUNTIMES[0],
        ms: batched.ms,
        peakMiB: batched.peakMiB,
        reference: "same, atomic",
        referenceMs: atomic.ms,
      });
    }

    if (SECTIONS.has("start")) {
      const original = join(ROOT, "bench", "original.py");
      const cache = freshCache();
      for (const users of [...new Set([100_000, USERS])]) {
        const template = await templateOf(users);
        say(`no-op start on ${users} users with codes, next to the original`);
        const done = await freshCopy(template);
        await measuredRepair(RUNTIMES[0], done);
        const sql = postgres(done, { max: 1, onnotice: () => {} });
        await sql.unsafe(`VACUUM ANALYZE "user"`);
        await sql.end();
        // Interleaved, run by run, so the original and each runtime share the
        // machine's moments alike; the first round is a warm-up.
        const times: Record<string, number[]> = { original: [] };
        for (const runtime of RUNTIMES) times[runtime] = [];
        for (let i = 0; i <= RUNS; i++) {
          const o = await python([original], { DATABASE_URL: done });
          if (i > 0) times.original.push(o);
          for (const runtime of RUNTIMES) {
            const { ms } = await timed(runtime, "mod.ts", {
              DATABASE_URL: done,
              NODE_COMPILE_CACHE: cache,
            });
            if (i > 0) times[runtime].push(ms);
          }
        }
        for (const runtime of RUNTIMES) {
          // As start.sh and the images run it: Node with a warm compile cache.
          rows.push({
            what: `PostgreSQL no-op start, ${users} users (median of ${RUNS}, interleaved)`,
            runtime,
            ms: median(times[runtime]),
            reference: "the original (Python, SQLAlchemy)",
            referenceMs: median(times.original),
          });
        }
        if (users === 100_000) {
          say("backfill of 100000 users, next to the original");
          const originalBackfill = await python([original], {
            DATABASE_URL: await freshCopy(template),
          });
          for (const runtime of RUNTIMES) {
            const report = await measuredRepair(runtime, await freshCopy(template), {
              NODE_COMPILE_CACHE: cache,
            });
            rows.push({
              what: "PostgreSQL backfill, 100000 users",
              runtime,
              ms: report.ms,
              peakMiB: report.peakMiB,
              reference: "the original (per user, Python)",
              referenceMs: originalBackfill,
              speedup: true,
            });
          }
        }
      }
    }

    if (SECTIONS.has("unindexed")) {
      say("50000 users, 5000 missing, with and without an index on the column");
      for (const indexed of [true, false]) {
        const name = indexed ? "bench_indexed" : "bench_unindexed";
        await admin.unsafe(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
        await admin.unsafe(`CREATE DATABASE ${name}`);
        const sql = postgres(urlOf(name), { max: 1, onnotice: () => {} });
        await sql.unsafe(createUserTableSql({ users: 50_000, unique: indexed }));
        await sql.unsafe(
          seedUsersSql({ users: 50_000, missing: 5_000, unique: indexed }, POSTGRES_SEED),
        );
        await sql.unsafe(`VACUUM ANALYZE "user"`);
        await sql.end();
      }
      const indexedMs = (await measuredRepair(RUNTIMES[0], await freshCopy("bench_indexed"))).ms;
      const unindexed = await measuredRepair(RUNTIMES[0], await freshCopy("bench_unindexed"));
      rows.push({
        what: "PostgreSQL backfill, 50000 users / 5000 missing, no index on the column",
        runtime: RUNTIMES[0],
        ms: unindexed.ms,
        peakMiB: unindexed.peakMiB,
        reference: "same, with the unique index",
        referenceMs: indexedMs,
      });
    }

    if (SECTIONS.has("probe") && !installed("wrk")) {
      say("wrk is not installed (apt-get install wrk): no probe rows");
    } else if (SECTIONS.has("probe")) {
      say("the probe under load (wrk), side by side with a static Hono route served the same way");
      const probeDb = await freshCopy(await templateOf(100_000));
      await measuredRepair(RUNTIMES[0], probeDb);
      // The probe and a static route serving the same bytes and type, loaded
      // at the same time, round after round, each server with its own wrk on
      // a CPU of its own, swapping CPUs every round: what differs is the
      // probe's own work per request. (One after the other, two 10 s runs of
      // the same server differed by a third here; side by side but sharing
      // both CPUs, one round of the static route against itself varied from
      // 0.88x to 1.7x, and the probe's median from 0.78x to 1.05x by run.)
      const ROUNDS = 10;
      const SECONDS = 4;
      const ms = (value: number) => `${value.toFixed(2)} ms`;
      for (const runtime of RUNTIMES) {
        for (const [query, name] of [["", "JSON (the default)"], ["?format=text", "text"]]) {
          const probe = await serve(runtime, "health.ts", query, { DATABASE_URL: probeDb });
          // The same request to both, query included: the static route's
          // router then strips the same query string, and what differs is
          // the probe's reading of it and its answer.
          const staticRoute = await serve(runtime, "bench/static.ts", query, {
            STATIC_BODY: probe.body,
            STATIC_TYPE: probe.type,
          });
          const probeRuns: { rps: number; p99Ms: number }[] = [];
          const staticRuns: { rps: number; p99Ms: number }[] = [];
          try {
            // [probe CPU, static route CPU], swapped every round.
            const placement = (round: number) => (round & 1 ? [1, 0] : [0, 1]);
            // A first round to warm both up, not counted.
            for (let round = -1; round < ROUNDS; round++) {
              const [probeCpu, staticCpu] = placement(round);
              pin(probe.pid, probeCpu);
              pin(staticRoute.pid, staticCpu);
              const [probeRun, staticRun] = await Promise.all([
                load(probe.url, round < 0 ? 2 : SECONDS, probeCpu),
                load(staticRoute.url, round < 0 ? 2 : SECONDS, staticCpu),
              ]);
              if (round < 0) continue;
              probeRuns.push(probeRun);
              staticRuns.push(staticRun);
            }
          } finally {
            probe.stop();
            staticRoute.stop();
          }
          // One CPU can be much slower than the other (1.5x here, from a
          // neighbour): a ratio per round, and their geometric mean over the
          // rounds, cancels that out where the two columns' medians do not.
          const p99 = (runs: { p99Ms: number }[]) => runs.map((r) => r.p99Ms);
          rows.push({
            what: `probe, 100000 users, ${name}, wrk 25 connections each, side by side, ` +
              `${ROUNDS}x${SECONDS} s: median requests/s (p99 ${ms(median(p99(probeRuns)))}, ${
                meanRatio(p99(probeRuns), p99(staticRuns)).toFixed(2)
              }x the static route's)`,
            runtime,
            ms: median(probeRuns.map((r) => r.rps)),
            reference: `static route, same ${probe.body.length} bytes (p99 ${
              ms(median(p99(staticRuns)))
            })`,
            referenceMs: median(staticRuns.map((r) => r.rps)),
            count: true,
            ratio: meanRatio(probeRuns.map((r) => r.rps), staticRuns.map((r) => r.rps)),
          });
        }
      }
    }
  } finally {
    await admin.unsafe(`DROP DATABASE IF EXISTS bench_run WITH (FORCE)`).catch(() => {});
    await admin.end();
    await server?.stop();
  }
}

// ---------------------------------------------------------------------------
// SQLite

if (SECTIONS.has("sqlite")) {
  const dir = mkdtempSync(join(tmpdir(), "invite-code-bench-"));
  try {
    say(`seeding ${SQLITE_USERS} SQLite users without codes`);
    const template = join(dir, "template.db");
    const db = new DatabaseSync(template);
    db.exec(createUserTableSql({ users: SQLITE_USERS }));
    db.exec(seedUsersSql({ users: SQLITE_USERS, missing: SQLITE_USERS }, SQLITE_SEED));
    db.close();
    const copy = () => {
      const path = join(dir, "run.db");
      copyFileSync(template, path);
      return path;
    };

    // One UPDATE from python3's sqlite3 with the repair's 32 MiB page cache:
    // sequential values, and unique values scattered over the key space as
    // random codes are (rowid times an odd constant, modulo 2^32).
    const sqliteFloor = (values: string) =>
      python([
        "-c",
        `import sqlite3, sys
c = sqlite3.connect(sys.argv[1])
c.execute("PRAGMA cache_size = -32768")
c.execute("UPDATE \\"user\\" SET invite_code = ${values} WHERE invite_code IS NULL")
c.commit()`,
        copy(),
      ], {});
    const floors = {
      sequential: await sqliteFloor("printf('%08X', rowid)"),
      scattered: await sqliteFloor("printf('%08X', (rowid * 2654435761) % 4294967296)"),
    };

    for (const runtime of RUNTIMES) {
      const report = await measuredRepair(runtime, `sqlite:///${copy()}`, {
        NODE_COMPILE_CACHE: freshCache(),
      });
      for (const [kind, referenceMs] of Object.entries(floors)) {
        rows.push({
          what: `SQLite backfill, ${SQLITE_USERS} users, atomic`,
          runtime,
          ms: report.ms,
          peakMiB: report.peakMiB,
          reference: `floor: one UPDATE, ${kind} values`,
          referenceMs,
        });
      }
    }
    const done = copy();
    await measuredRepair(RUNTIMES[0], `sqlite:///${done}`);
    for (const runtime of RUNTIMES) {
      rows.push({
        what: `SQLite no-op start, ${SQLITE_USERS} users (median of ${RUNS})`,
        runtime,
        ms: await startTime(runtime, "mod.ts", {
          DATABASE_URL: `sqlite:///${done}`,
          NODE_COMPILE_CACHE: freshCache(),
        }),
        reference: "empty script",
        referenceMs: await startTime(runtime, "bench/empty.ts", {}),
      });
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

// ---------------------------------------------------------------------------

const versions = RUNTIMES.map((r) => {
  const out = spawnSync(r, ["--version"], { encoding: "utf8", env }).stdout.split("\n")[0];
  return `${r} ${out.replace(/^v/, "").replace(/^deno /, "")}`;
}).join(", ");
console.log(
  `Measured ${new Date().toISOString().slice(0, 10)} on ${cpus().length} cores ` +
    `(${cpus()[0]?.model.trim()}), ${(totalmem() / 2 ** 30).toFixed(0)} GiB; ${versions}.\n`,
);
console.log(
  "| measurement | runtime | time | peak RSS | reference | reference time | time ÷ reference |",
);
console.log("|---|---|---:|---:|---|---:|---:|");
function ratio(r: Row): string {
  if (!r.referenceMs) return "";
  if (r.ratio !== undefined) return `${r.ratio.toFixed(2)}x`;
  if (r.count) return `${(r.ms / r.referenceMs).toFixed(2)}x`;
  return r.speedup
    ? `${(r.referenceMs / r.ms).toFixed(0)}x faster`
    : `${(r.ms / r.referenceMs).toFixed(2)}x`;
}
for (const r of rows) {
  const seconds = (ms: number) =>
    r.count
      ? `${ms.toFixed(0)}/s`
      : ms >= 1000
      ? `${(ms / 1000).toFixed(2)} s`
      : `${ms.toFixed(0)} ms`;
  console.log(
    `| ${r.what} | ${r.runtime} | ${seconds(r.ms)} | ${
      r.peakMiB ? `${r.peakMiB.toFixed(0)} MiB` : ""
    } | ` +
      `${r.reference ?? ""} | ${r.referenceMs ? seconds(r.referenceMs) : ""} | ` +
      `${ratio(r)} |`,
  );
}
