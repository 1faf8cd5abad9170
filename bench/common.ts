/**
 * What every bench section shares: the settings read from the environment,
 * the stopwatch (a whole process, launch to exit), the verification every
 * measured repair passes, and the table row each section adds.
 *
 * @module
 */
import { spawn, spawnSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import process from "node:process";
import { DatabaseSync } from "node:sqlite";
import { fileURLToPath } from "node:url";
import postgres from "postgres";
import { projectPath } from "../scripts/net.ts";

export const ROOT = fileURLToPath(new URL("..", import.meta.url));
export const env: Record<string, string | undefined> = { ...process.env, PATH: projectPath(ROOT) };
export const USERS = Number(env.BENCH_USERS ?? 1_000_000);
export const SQLITE_USERS = Number(env.BENCH_SQLITE_USERS ?? 1_000_000);
export const SCALE_USERS = Number(env.BENCH_SCALE_USERS ?? 10_000_000);
export const RUNS = Number(env.BENCH_RUNS ?? 5);
export const RUNTIMES = (env.BENCH_RUNTIMES ?? "node,deno").split(",");
// Debian's python3, which python3-sqlalchemy and python3-psycopg2 install into.
const PYTHON = env.BENCH_PYTHON ?? "/usr/bin/python3";
export const BACKFILL_ROUNDS = Number(env.BENCH_BACKFILL_ROUNDS ?? 1);
const DENO_FLAGS = ["--allow-env", "--allow-net", "--allow-read", "--allow-write"];

/** One row of the table the bench prints. */
export interface Row {
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
/** Node compile caches of the measured runs, all removed when the bench ends. */
const CACHES = mkdtempSync(join(tmpdir(), "invite-code-bench-cache-"));
process.on("exit", () => rmSync(CACHES, { recursive: true, force: true }));
export const freshCache = () => mkdtempSync(join(CACHES, "run-"));
export const say = (line: string) => console.error(`[bench] ${line}`);

/** The command that runs `script` under `runtime`. */
export function command(runtime: string, script: string): [string, string[]] {
  // Reading its own /proc/self/status for peak memory takes Deno's --allow-all.
  const flags = script.endsWith("repair_child.ts") ? ["--allow-all"] : DENO_FLAGS;
  return runtime === "deno" ? ["deno", ["run", ...flags, script]] : ["node", [script]];
}

/**
 * Run a script under a runtime; returns wall milliseconds and its stdout.
 * Asynchronous on purpose: the embedded server logs to a pipe this process
 * must keep draining.
 */
export async function timed(runtime: string, script: string, extraEnv: Record<string, string>) {
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

export function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)];
}

/** The geometric mean of the round-by-round ratios `a[i] / b[i]`. */
export function meanRatio(a: number[], b: number[]): number {
  return Math.exp(a.reduce((sum, value, i) => sum + Math.log(value / b[i]), 0) / a.length);
}

/** Median whole-process time of `script`, after one warm-up run. */
export async function startTime(
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
export async function measuredRepair(
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

/** The encrypted files' passphrase. */
export const BENCH_PASSPHRASE = "bench passphrase";

let builtShell: string | undefined;
/** The SQLCipher 4 shell scripts/sqlcipher.sh builds from source (once; cached). */
export function sqlcipherShell(): string {
  if (!builtShell) {
    const built = spawnSync("bash", [join(ROOT, "scripts", "sqlcipher.sh")], { encoding: "utf8" });
    if (built.status !== 0) throw new Error(`scripts/sqlcipher.sh failed: ${built.stderr}`);
    builtShell = built.stdout.trim();
  }
  return builtShell;
}

/** Every user has a code and no code is held twice, or throw. */
export async function verify(databaseUrl: string): Promise<void> {
  let row: { total: number; distinct_codes: number; missing: number };
  if (databaseUrl.startsWith("sqlite+sqlcipher:")) {
    // Judged by the SQLCipher shell, not the library the repair used.
    const ran = spawnSync(sqlcipherShell(), [databaseUrl.slice("sqlite+sqlcipher://".length)], {
      input: `PRAGMA key = '${BENCH_PASSPHRASE}';
        SELECT count(*), count(DISTINCT invite_code),
          coalesce(sum(invite_code IS NULL OR trim(invite_code) = ''), 0) FROM "user";`,
      encoding: "utf8",
    });
    const [total, distinct, missing] = (ran.stdout.trim().split("\n").at(-1) ?? "").split("|")
      .map(Number);
    row = { total, distinct_codes: distinct, missing };
  } else if (databaseUrl.startsWith("sqlite:")) {
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
export async function python(args: string[], extraEnv: Record<string, string>): Promise<number> {
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

/** Whether `command` is on the PATH. */
export function installed(command: string): boolean {
  return spawnSync("sh", ["-c", `command -v ${command}`]).status === 0;
}
