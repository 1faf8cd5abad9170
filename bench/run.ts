/**
 * `npm run bench`: the repair next to its floor and its predecessor, on an
 * Open WebUI-shaped table, every measurement on a fresh copy after a
 * checkpoint, ratios taken side by side in this one run.
 *
 * BENCH_DATABASE_URL  a PostgreSQL server to use (default: an embedded one)
 * BENCH_USERS         users for the backfill and no-op start (default 1000000)
 * BENCH_BASELINE_USERS users for the per-row comparison (default 20000)
 * BENCH_SQLITE_USERS  users for SQLite (default 1000000)
 * BENCH_RUNS          runs whose median is taken for short measurements (default 5)
 * BENCH_RUNTIMES      runtimes to measure (default "node,deno")
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
import { projectPath } from "../scripts/net.ts";
import { startEmbeddedPostgres } from "../scripts/postgres.ts";

const ROOT = fileURLToPath(new URL("..", import.meta.url));
const env: Record<string, string | undefined> = { ...process.env, PATH: projectPath(ROOT) };
const USERS = Number(env.BENCH_USERS ?? 1_000_000);
const BASELINE_USERS = Number(env.BENCH_BASELINE_USERS ?? 20_000);
const SQLITE_USERS = Number(env.BENCH_SQLITE_USERS ?? 1_000_000);
const RUNS = Number(env.BENCH_RUNS ?? 5);
const RUNTIMES = (env.BENCH_RUNTIMES ?? "node,deno").split(",");
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
}
const rows: Row[] = [];
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

async function measuredRepair(
  runtime: string,
  databaseUrl: string,
  extra: Record<string, string> = {},
) {
  const { stdout } = await timed(runtime, "bench/repair_child.ts", {
    DATABASE_URL: databaseUrl,
    ...extra,
  });
  const report = JSON.parse(stdout.trim().split("\n").at(-1)!);
  if (report.status !== "repaired") throw new Error(`repair ended ${report.status}`);
  return report as { ms: number; peakMiB: number; generated: number };
}

// ---------------------------------------------------------------------------
// PostgreSQL

const server = env.BENCH_DATABASE_URL ? undefined : await startEmbeddedPostgres();
const serverUrl = env.BENCH_DATABASE_URL ?? server!.url;
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

/** A fresh copy of `template`, checkpointed so no measurement pays for another's writes. */
async function freshCopy(template: string): Promise<string> {
  await admin.unsafe(`DROP DATABASE IF EXISTS bench_run WITH (FORCE)`);
  await admin.unsafe(`CREATE DATABASE bench_run TEMPLATE ${template}`);
  await admin.unsafe(`CHECKPOINT`);
  return urlOf("bench_run");
}

/** One UPDATE statement on a fresh copy; returns its milliseconds. */
async function floor(template: string, setup: string, update: string): Promise<number> {
  const sql = postgres(await freshCopy(template), { max: 1, onnotice: () => {} });
  await sql.unsafe(setup);
  const started = performance.now();
  await sql.unsafe(update);
  const ms = performance.now() - started;
  await sql.end();
  return ms;
}

try {
  say(`seeding ${USERS} PostgreSQL users without codes`);
  await createTemplate("bench_missing", USERS);

  const sequentialFloor = await floor(
    "bench_missing",
    `CREATE SEQUENCE floor_seq`,
    `UPDATE "user" SET invite_code = to_hex(nextval('floor_seq')) WHERE invite_code IS NULL`,
  );
  say(`floor (sequential values): ${sequentialFloor.toFixed(0)} ms`);
  // Unique values scattered over the key space, as random codes are: a
  // bijective 32-bit mix of a sequence (one SQL function call per row).
  const scatteredFloor = await floor(
    "bench_missing",
    `CREATE SEQUENCE floor_seq;
     CREATE FUNCTION mix32(h bigint) RETURNS bigint LANGUAGE sql IMMUTABLE AS $$
       SELECT (x >> 16) # x FROM (SELECT ((((y >> 16) # y) * 73244475) % 4294967296) AS x
       FROM (SELECT ((((h >> 16) # h) * 73244475) % 4294967296) AS y) a) b $$`,
    `UPDATE "user" SET invite_code = lpad(to_hex(mix32(nextval('floor_seq'))), 8, '0')
     WHERE invite_code IS NULL`,
  );
  say(`floor (scattered values): ${scatteredFloor.toFixed(0)} ms`);

  for (const runtime of RUNTIMES) {
    const report = await measuredRepair(runtime, await freshCopy("bench_missing"));
    say(
      `${runtime} repair of ${USERS}: ${report.ms.toFixed(0)} ms, peak ${
        report.peakMiB.toFixed(0)
      } MiB`,
    );
    rows.push({
      what: `PostgreSQL backfill, ${USERS} users, atomic`,
      runtime,
      ms: report.ms,
      peakMiB: report.peakMiB,
      reference: "floor: one UPDATE, sequential values",
      referenceMs: sequentialFloor,
    });
    rows.push({
      what: `PostgreSQL backfill, ${USERS} users, atomic`,
      runtime,
      ms: report.ms,
      peakMiB: report.peakMiB,
      reference: "floor: one UPDATE, scattered values",
      referenceMs: scatteredFloor,
    });
  }

  const atomic = rows.find((r) => r.runtime === RUNTIMES[0])!;
  const batched = await measuredRepair(RUNTIMES[0], await freshCopy("bench_missing"), {
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

  say(`no-op start on ${USERS} users with codes`);
  const done = await freshCopy("bench_missing");
  await measuredRepair(RUNTIMES[0], done);
  const sql = postgres(done, { max: 1, onnotice: () => {} });
  await sql.unsafe(`VACUUM ANALYZE "user"`);
  const plan = (await sql.unsafe(
    `EXPLAIN SELECT count(*), count(*) FILTER (WHERE invite_code IS NULL OR btrim(invite_code) = '')
     FROM "user"`,
  )).map((r) => r["QUERY PLAN"]).join(" / ");
  await sql.end();
  say(`no-op count plan: ${plan}`);
  for (const runtime of RUNTIMES) {
    const empty = await startTime(runtime, "bench/empty.ts", {});
    const noop = await startTime(runtime, "mod.ts", { DATABASE_URL: done });
    rows.push({
      what: `PostgreSQL no-op start, ${USERS} users (median of ${RUNS})`,
      runtime,
      ms: noop,
      reference: "empty script",
      referenceMs: empty,
    });
  }

  say(`per-row baseline at ${BASELINE_USERS} users`);
  await createTemplate("bench_small", BASELINE_USERS);
  const baseline = JSON.parse(
    (await timed("node", "bench/baseline.ts", {
      DATABASE_URL: await freshCopy("bench_small"),
    })).stdout,
  ).ms as number;
  const small = await measuredRepair(RUNTIMES[0], await freshCopy("bench_small"));
  rows.push({
    what: `PostgreSQL backfill, ${BASELINE_USERS} users`,
    runtime: RUNTIMES[0],
    ms: small.ms,
    peakMiB: small.peakMiB,
    reference: "original per-row algorithm",
    referenceMs: baseline,
    speedup: true,
  });
} finally {
  await admin.unsafe(`DROP DATABASE IF EXISTS bench_run WITH (FORCE)`).catch(() => {});
  await admin.end();
  await server?.stop();
}

// ---------------------------------------------------------------------------
// SQLite

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

  const floorDb = new DatabaseSync(copy());
  const started = performance.now();
  floorDb.exec(`UPDATE "user" SET invite_code = printf('%08X', rowid) WHERE invite_code IS NULL`);
  const sqliteFloor = performance.now() - started;
  floorDb.close();

  for (const runtime of RUNTIMES) {
    const report = await measuredRepair(runtime, `sqlite:///${copy()}`);
    rows.push({
      what: `SQLite backfill, ${SQLITE_USERS} users, atomic`,
      runtime,
      ms: report.ms,
      peakMiB: report.peakMiB,
      reference: "floor: one UPDATE, sequential values",
      referenceMs: sqliteFloor,
    });
  }
  const done = copy();
  await measuredRepair(RUNTIMES[0], `sqlite:///${done}`);
  for (const runtime of RUNTIMES) {
    rows.push({
      what: `SQLite no-op start, ${SQLITE_USERS} users (median of ${RUNS})`,
      runtime,
      ms: await startTime(runtime, "mod.ts", { DATABASE_URL: `sqlite:///${done}` }),
      reference: "empty script",
      referenceMs: await startTime(runtime, "bench/empty.ts", {}),
    });
  }
} finally {
  rmSync(dir, { recursive: true, force: true });
}

// ---------------------------------------------------------------------------

const versions = RUNTIMES.map((r) => {
  const out = spawnSync(r, ["--version"], { encoding: "utf8" }).stdout.split("\n")[0];
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
  return r.speedup
    ? `${(r.referenceMs / r.ms).toFixed(0)}x faster`
    : `${(r.ms / r.referenceMs).toFixed(2)}x`;
}
for (const r of rows) {
  const seconds = (ms: number) =>
    ms >= 1000 ? `${(ms / 1000).toFixed(2)} s` : `${ms.toFixed(0)} ms`;
  console.log(
    `| ${r.what} | ${r.runtime} | ${seconds(r.ms)} | ${
      r.peakMiB ? `${r.peakMiB.toFixed(0)} MiB` : ""
    } | ` +
      `${r.reference ?? ""} | ${r.referenceMs ? seconds(r.referenceMs) : ""} | ` +
      `${ratio(r)} |`,
  );
}
