/**
 * Section "start": a no-op start (every user has a code) next to the
 * original's, interleaved run by run, and the 100,000-user backfill next to
 * the original's.
 *
 * @module
 */
import { join } from "node:path";
import postgres from "postgres";
import {
  freshCache,
  measuredRepair,
  median,
  python,
  ROOT,
  type Row,
  RUNS,
  RUNTIMES,
  say,
  timed,
  USERS,
} from "./common.ts";
import type { BenchServer } from "./server.ts";

/** Rows of the no-op start section. */
export async function start({ templateOf, freshCopy }: BenchServer): Promise<Row[]> {
  const rows: Row[] = [];
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
  return rows;
}
