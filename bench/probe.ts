/**
 * Section "probe": the probe under load (wrk), side by side with a static
 * Hono route that serves the same bytes, each server pinned with its own wrk
 * to a CPU of its own, swapping every round.
 *
 * @module
 */
import { spawn, spawnSync } from "node:child_process";
import { cpus } from "node:os";
import { join } from "node:path";
import { freePort } from "../scripts/net.ts";
import {
  command,
  env,
  installed,
  meanRatio,
  measuredRepair,
  median,
  ROOT,
  type Row,
  RUNTIMES,
  say,
} from "./common.ts";
import type { BenchServer } from "./server.ts";

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

/** Rows of the probe section; none, with a line saying why, without wrk. */
export async function probe({ templateOf, freshCopy }: BenchServer): Promise<Row[]> {
  const rows: Row[] = [];
  if (!installed("wrk")) {
    say("wrk is not installed (apt-get install wrk): no probe rows");
    return rows;
  }
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
  return rows;
}
