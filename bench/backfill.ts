/**
 * Section "backfill": the million-user repair, atomic and in batches, next
 * to its floors (one UPDATE with sequential and with scattered values), in
 * BENCH_BACKFILL_ROUNDS interleaved rounds.
 *
 * @module
 */
import {
  BACKFILL_ROUNDS,
  measuredRepair,
  median,
  type Row,
  RUNTIMES,
  say,
  USERS,
} from "./common.ts";
import { type BenchServer, SCATTERED_FLOOR } from "./server.ts";

/** Rows of the backfill section. */
export async function backfill({ templateOf, freshCopy, floor }: BenchServer): Promise<Row[]> {
  const rows: Row[] = [];
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
    const scatteredFloor = await floor(await templateOf(USERS), ...SCATTERED_FLOOR);
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
  return rows;
}
