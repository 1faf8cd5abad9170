/**
 * One measured repair in a process of its own: prints its time and the
 * process's peak resident memory (VmHWM) as JSON.
 */
import { readFileSync } from "node:fs";
import process from "node:process";
import { repair } from "../mod.ts";

const batchSize = process.env.BENCH_BATCH_SIZE ? Number(process.env.BENCH_BATCH_SIZE) : undefined;
const started = performance.now();
const report = await repair({ log: () => {}, batchSize, timeoutMs: 3_600_000 });
const ms = performance.now() - started;
const peakKiB = Number(/VmHWM:\s+(\d+) kB/.exec(readFileSync("/proc/self/status", "utf8"))?.[1]);
console.log(
  JSON.stringify({
    ms,
    peakMiB: peakKiB / 1024,
    status: report.status,
    generated: report.generated,
  }),
);
