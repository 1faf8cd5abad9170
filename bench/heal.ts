/**
 * Section "heal" (opt-in: BENCH_SECTIONS=heal; the scale section runs it
 * too): the self-healing probe (`health.ts` with REPAIR_INTERVAL) takes
 * BENCH_SCALE_USERS users, all missing, to missing=0 in its committed
 * batches, its rate cap off (REPAIR_MAX_RATE=0) and its pauses on. The
 * backlog is read from its own metrics, as an operator's Prometheus would.
 *
 * @module
 */
import { spawn } from "node:child_process";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { sampleOf } from "../scripts/metrics.ts";
import { freePort } from "../scripts/net.ts";
import { command, env, ROOT, type Row, RUNTIMES, say, SCALE_USERS, verify } from "./common.ts";
import type { BenchServer } from "./server.ts";

/** How often the backlog is read and, once a minute, printed. */
const POLL_MS = 1_000;

/**
 * One probe healing `users` users; `floorMs` is the scale section's floor
 * for the same rows, when it measured one.
 *
 * @param server The bench server.
 * @param users All of them missing.
 * @param floorMs One UPDATE writing scattered values to the same rows.
 */
export async function healOnce(
  { templateOf, freshCopy }: BenchServer,
  users: number,
  floorMs?: number,
): Promise<Row> {
  const runtime = RUNTIMES[0];
  const databaseUrl = await freshCopy(await templateOf(users));
  const port = String(await freePort());
  const [cmd, args] = command(runtime, join(ROOT, "health.ts"));
  const started = performance.now();
  const probe = spawn(cmd, args, {
    env: {
      ...env,
      DATABASE_URL: databaseUrl,
      HEALTH_HOST: "127.0.0.1",
      HEALTH_PORT: port,
      REPAIR_INTERVAL: "1",
      REPAIR_MAX_RATE: "0",
      DENO_NO_UPDATE_CHECK: "1",
    },
    stdio: "ignore",
  });
  let peakKiB = 0;
  try {
    let missing = Number.NaN;
    let lastSaid = 0;
    while (missing !== 0) {
      await new Promise((resolve) => setTimeout(resolve, POLL_MS));
      if (probe.exitCode !== null) throw new Error(`the probe exited with ${probe.exitCode}`);
      const metrics = await fetch(`http://127.0.0.1:${port}/metrics`).then(
        (r) => r.text(),
        () => "",
      );
      missing = sampleOf(metrics, "invite_codes_missing") ?? missing;
      const status = readFileSync(`/proc/${probe.pid}/status`, "utf8");
      peakKiB = Math.max(peakKiB, Number(/^VmHWM:\s+(\d+)/m.exec(status)?.[1] ?? 0));
      if (performance.now() - lastSaid >= 60_000) {
        lastSaid = performance.now();
        say(
          `${users}: probe healing, ${missing} missing after ${
            ((lastSaid - started) / 1000).toFixed(0)
          } s`,
        );
      }
    }
  } finally {
    probe.kill("SIGTERM");
  }
  const ms = performance.now() - started;
  await verify(databaseUrl);
  say(`${users}: probe healed in ${ms.toFixed(0)} ms, ${(peakKiB / 1024).toFixed(0)} MiB`);
  return {
    what: `PostgreSQL self-healing probe, ${users} users missing, to missing=0 (REPAIR_MAX_RATE=0)`,
    runtime,
    ms,
    peakMiB: peakKiB / 1024,
    ...(floorMs === undefined
      ? {}
      : { reference: "floor: one UPDATE, scattered values", referenceMs: floorMs }),
  };
}

/** Rows of the heal section. */
export async function heal(server: BenchServer): Promise<Row[]> {
  return [await healOnce(server, SCALE_USERS)];
}
