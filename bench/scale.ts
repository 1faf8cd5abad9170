/**
 * Section "scale" (opt-in: BENCH_SECTIONS=scale): a million users and
 * BENCH_SCALE_USERS (default ten million) side by side, each against the same
 * floor (one UPDATE writing scattered unique values to the same rows): the
 * atomic repair given an hour, the repair in batches of 100,000, and a
 * default start (--timeout 120) on every runtime, which must end within
 * seconds with its WARNING when the atomic repair cannot finish; and the
 * self-healing probe taking the same users to missing=0 (`heal.ts`).
 *
 * @module
 */
import { measuredRepair, type Row, RUNTIMES, say, SCALE_USERS, timed } from "./common.ts";
import { healOnce } from "./heal.ts";
import { type BenchServer, SCATTERED_FLOOR } from "./server.ts";

/** Rows of the scale section. */
export async function scale(server: BenchServer): Promise<Row[]> {
  const { templateOf, freshCopy, floor } = server;
  const rows: Row[] = [];
  const runtime = RUNTIMES[0];
  for (const users of [...new Set([1_000_000, SCALE_USERS])]) {
    const template = await templateOf(users);
    const floorMs = await floor(template, ...SCATTERED_FLOOR);
    say(`${users}: floor ${floorMs.toFixed(0)} ms`);
    const atomic = await measuredRepair(runtime, await freshCopy(template));
    say(`${users}: atomic ${atomic.ms.toFixed(0)} ms, ${atomic.peakMiB.toFixed(0)} MiB`);
    const batched = await measuredRepair(runtime, await freshCopy(template), {
      BENCH_BATCH_SIZE: "100000",
    });
    say(`${users}: batches ${batched.ms.toFixed(0)} ms, ${batched.peakMiB.toFixed(0)} MiB`);
    for (const [what, run] of [["atomic", atomic], ["--batch-size 100000", batched]] as const) {
      rows.push({
        what: `PostgreSQL backfill, ${users} users, ${what}`,
        runtime,
        ms: run.ms,
        peakMiB: run.peakMiB,
        reference: "floor: one UPDATE, scattered values",
        referenceMs: floorMs,
      });
    }
    // A default start: the CLI with its 120 s deadline, on users all missing, on every runtime.
    for (const startRuntime of RUNTIMES) {
      const start = await timed(startRuntime, "mod.ts", {
        DATABASE_URL: await freshCopy(template),
      });
      const warned = /^WARNING: .*$/m.exec(start.stdout)?.[0] ?? "(no WARNING)";
      say(
        `${users}: default start (${startRuntime}) ${start.ms.toFixed(0)} ms: ${
          warned.slice(0, 160)
        }`,
      );
      rows.push({
        what: `PostgreSQL default start, ${users} users missing: ${
          warned.startsWith("WARNING") ? "stops with its WARNING" : "repairs"
        }`,
        runtime: startRuntime,
        ms: start.ms,
      });
    }
    // What a large deployment is told to use instead: the probe, in the background.
    rows.push(await healOnce(server, users, floorMs));
  }
  return rows;
}
