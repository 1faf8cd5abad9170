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
 * BENCH_SECTIONS      which parts to run (default "backfill,start,unindexed,probe,sqlite,sqlcipher";
 *                     "scale" is opt-in: 1M and BENCH_SCALE_USERS side by side;
 *                     so is "heal": the self-healing probe on BENCH_SCALE_USERS)
 * BENCH_SCALE_USERS   users for the scale section's second size (default 10000000)
 *
 * One file a section (`backfill.ts`, `start.ts`, `unindexed.ts`, `probe.ts`,
 * `sqlite.ts`, `sqlcipher.ts`, `scale.ts`, `heal.ts`); the stopwatch and the verification are in `common.ts`, the
 * PostgreSQL server and its templates and floors in `server.ts`.
 *
 * Every time is of a whole process, launch to exit, as a container start
 * sees it: the repair (the CLI, `mod.ts`), the original (`original.py`,
 * Python + SQLAlchemy + psycopg2) and the floors (one UPDATE from a one-shot
 * python3 process). Every measured repair is verified: every user has a code,
 * and no code is held twice.
 */
import { spawnSync } from "node:child_process";
import { cpus, totalmem } from "node:os";
import { backfill } from "./backfill.ts";
import { env, type Row, RUNTIMES } from "./common.ts";
import { heal } from "./heal.ts";
import { probe } from "./probe.ts";
import { scale } from "./scale.ts";
import { type BenchServer, benchServer } from "./server.ts";
import { sqlcipher } from "./sqlcipher.ts";
import { sqlite } from "./sqlite.ts";
import { start } from "./start.ts";
import { unindexed } from "./unindexed.ts";

const SECTIONS = new Set(
  (env.BENCH_SECTIONS ?? "backfill,start,unindexed,probe,sqlite,sqlcipher").split(","),
);
const ON_POSTGRES: Record<string, (server: BenchServer) => Promise<Row[]>> = {
  backfill,
  start,
  unindexed,
  probe,
  scale,
  heal,
};

const rows: Row[] = [];
const postgresSections = Object.keys(ON_POSTGRES).filter((name) => SECTIONS.has(name));
if (postgresSections.length > 0) {
  const server = await benchServer();
  try {
    for (const name of postgresSections) rows.push(...await ON_POSTGRES[name](server));
  } finally {
    await server.close();
  }
}
if (SECTIONS.has("sqlite")) rows.push(...await sqlite());
if (SECTIONS.has("sqlcipher")) rows.push(...await sqlcipher());

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
