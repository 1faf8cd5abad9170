/**
 * Self-healing: with `REPAIR_INTERVAL` set, the probe also repairs, under the
 * repair's own lock and with its log lines, whenever the column exists and
 * users are missing. A column the app's own migration adds after start, or
 * users created later without a code, get codes without a restart.
 *
 * @module
 */
import { PROBE_LOG } from "../messages.ts";
import { repair, type Throttle } from "../repair.ts";
import type { Env } from "../connect/environment.ts";
import type { Inspector } from "./inspector.ts";
import type { ProbeStats } from "./render.ts";

/** The longest one round may take; the next round goes on where it stopped. */
const ROUND_MS = 3_600_000;

/** A running healer. */
export interface Healer {
  /** Stop: a repair in progress ends after its current batch commits. */
  stop(): Promise<void>;
}

/**
 * Look every `intervalMs` (and once at once), repair when users are missing.
 *
 * @example
 * ```ts
 * import type { Inspector } from "./inspector.ts";
 * import type { ProbeStats } from "./render.ts";
 * declare const inspector: Inspector, stats: ProbeStats; // the probe's
 * const healer = startHealing({
 *   intervalMs: 60_000,
 *   batchSize: 10_000,
 *   throttle: { maxRate: 10_000, maxLagSeconds: 10, maxActiveSessions: 16 },
 *   inspector,
 *   env: process.env,
 *   log: console.log,
 *   stats,
 * });
 * await healer.stop();
 * ```
 * @param options The interval, the inspector to look with, the environment,
 *   where lines go, and the counters to update.
 */
export function startHealing(options: {
  intervalMs: number;
  /** Users committed at a time: a large backlog never holds one long transaction. */
  batchSize: number;
  throttle: Omit<Throttle, "onPause">;
  inspector: Inspector;
  env: Env;
  log: (line: string) => void;
  stats: ProbeStats;
}): Healer {
  const { intervalMs, batchSize, inspector, env, log, stats } = options;
  const throttle: Throttle = {
    ...options.throttle,
    onPause(why) {
      if ((why !== null) !== stats.paused) {
        log(why === null ? PROBE_LOG.resumed() : PROBE_LOG.paused(why));
      }
      stats.paused = why !== null;
    },
  };
  let timer: ReturnType<typeof setTimeout> | undefined;
  // A stop request (the probe closing), not a deadline: a round's own bound is ROUND_MS.
  const stopping = new AbortController();
  let running: Promise<void> = Promise.resolve();

  async function round(): Promise<void> {
    const { result } = await inspector.refresh();
    if (result.status !== "missing") return;
    // In committed batches, paced: the application keeps its database, and
    // whatever a round commits stays done if the probe restarts.
    const report = await repair({
      env,
      log,
      batchSize,
      throttle,
      timeoutMs: ROUND_MS,
      signal: stopping.signal,
    });
    stats.paused = false;
    if (report.generated > 0) {
      stats.repairs++;
      stats.repairedUsers += report.generated;
      stats.lastRepairSeconds = Math.floor(Date.now() / 1000);
    }
    if (!stopping.signal.aborted) await inspector.refresh();
  }

  function schedule(delay: number): void {
    if (stopping.signal.aborted) return;
    timer = setTimeout(() => {
      // One round at a time: the next is scheduled when this one ends.
      running = round().catch(() => {}).finally(() => schedule(intervalMs));
    }, delay);
  }
  schedule(0);
  return {
    async stop() {
      stopping.abort();
      clearTimeout(timer);
      await running;
    },
  };
}
