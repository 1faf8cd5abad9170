/**
 * `npm test`: every test file under Node, then under Deno, one process per
 * file, against one real PostgreSQL server (TEST_DATABASE_URL, else one
 * started here) and real SQLite files.
 *
 *   node scripts/test.ts [node|deno] [test/x_test.ts ...]
 *
 * It cannot pass on nothing: an unknown argument, a runtime that ran no
 * test, or a file that registered none fails the run. Skipped tests are
 * counted and shown; with CI=true any skip fails the run.
 */
import { spawn } from "node:child_process";
import { existsSync, readdirSync } from "node:fs";
import process from "node:process";
import { fileURLToPath } from "node:url";
import { projectPath } from "./net.ts";
import { startEmbeddedPostgres, type TestServer } from "./postgres.ts";

const ROOT = fileURLToPath(new URL("..", import.meta.url));
const RUNTIMES = ["node", "deno"] as const;
type Runtime = typeof RUNTIMES[number];

/** What one file's run reported. */
interface Tally {
  passed: number;
  failed: number;
  skipped: number;
}

const TEST_FILE = /(_test|\.test)\.ts$/;
/** What test/helpers.ts skipping() prints (either runner may put a mark before it). */
const SKIP_LINE = /^.{0,4}SKIP: (.+)$/gm;
/** Why tests were skipped, file by file: what this machine lacks. */
const skipReasons = new Set<string>();

function allTestFiles(): string[] {
  return readdirSync(`${ROOT}/test`).filter((name) => TEST_FILE.test(name)).sort()
    .map((name) => `test/${name}`);
}

function usage(message: string): never {
  console.error(`ERROR: ${message}`);
  console.error("usage: node scripts/test.ts [node|deno] [test/x_test.ts ...]");
  process.exit(2);
}

const args = process.argv.slice(2);
const only = RUNTIMES.includes(args[0] as Runtime) ? args.shift() as Runtime : undefined;
for (const arg of args) {
  if (!TEST_FILE.test(arg) || !existsSync(`${ROOT}/${arg}`)) {
    usage(`not a runtime (node, deno) or a test file: ${JSON.stringify(arg)}`);
  }
}
const files = args.length ? args : allTestFiles();
const runtimes = only ? [only] : [...RUNTIMES];

/** The command that runs one test file under `runtime`. */
function command(runtime: Runtime, file: string): [string, string[]] {
  return runtime === "node"
    ? ["node", ["--test", "--test-concurrency=1", "--test-reporter=spec", file]]
    : ["deno", ["test", "--allow-all", "--no-check", file]];
}

/** Read the closing counts of either runner's report. */
function tally(runtime: Runtime, output: string): Tally {
  // deno-lint-ignore no-control-regex
  const text = output.replace(/\x1b\[[0-9;]*m/g, "");
  if (runtime === "node") {
    const count = (name: string) =>
      Number(new RegExp(`^ℹ ${name} (\\d+)$`, "m").exec(text)?.[1] ?? 0);
    // Node leaves a skipped describe() out of its counts (a file whose only
    // describe is skipped reports 0 tests), but marks it "﹣" as it marks a
    // skipped test: the marks beyond the skipped tests are skipped describes.
    const marked = text.match(/^\s*﹣ /gm)?.length ?? 0;
    const skippedDescribes = Math.max(0, marked - count("skipped"));
    return {
      passed: count("pass"),
      failed: count("fail") + count("cancelled"),
      skipped: count("skipped") + count("todo") + skippedDescribes,
    };
  }
  const summary =
    /^(?:ok|FAILED) \| (\d+) passed(?: \((\d+) steps?\))? \| (\d+) failed(?: \((\d+) steps?\))?(?: \| (\d+) ignored(?: \((\d+) steps?\))?)?/m
      .exec(text);
  if (!summary) return { passed: 0, failed: 1, skipped: 0 };
  const n = (i: number) => Number(summary[i] ?? 0);
  // Deno counts a describe() as a test and the tests inside it as steps;
  // Node counts only the tests. Take the describes out of the sum.
  const describes = describesByResult(text);
  return {
    passed: n(1) + n(2) - describes.ok,
    failed: n(3) + n(4) - describes.FAILED,
    skipped: n(5) + n(6) - describes.ignored,
  };
}

/**
 * Deno's describes, by their result: a line "name ..." whose next line is a
 * deeper "step ...", closed later by "name ... ok" at the same depth.
 */
function describesByResult(text: string): Record<"ok" | "FAILED" | "ignored", number> {
  const lines = text.split("\n").map((line) => line.trimEnd());
  const depth = (line: string) => line.length - line.trimStart().length;
  const open = new Set<string>();
  lines.forEach((line, i) => {
    const next = lines[i + 1] ?? "";
    if (line.endsWith(" ...") && depth(next) > depth(line) && next.includes(" ...")) {
      open.add(line);
    }
  });
  const counts = { ok: 0, FAILED: 0, ignored: 0 };
  for (const line of lines) {
    const closing = / \.\.\. (ok|FAILED|ignored)\b/.exec(line);
    const header = closing && line.slice(0, closing.index + 4);
    if (closing && header && open.delete(header)) {
      counts[closing[1] as keyof typeof counts]++;
    }
  }
  return counts;
}

async function runFile(runtime: Runtime, file: string): Promise<Tally & { code: number | null }> {
  const [cmd, argv] = command(runtime, file);
  let output = "";
  // Not spawnSync: this process must keep draining the embedded server's
  // log pipe, or the server blocks on a full pipe once enough is logged.
  const code = await new Promise<number | null>((resolve) => {
    const child = spawn(cmd, argv, { cwd: ROOT, stdio: ["ignore", "pipe", "pipe"] });
    for (const stream of [child.stdout!, child.stderr!]) {
      stream.on("data", (chunk: Uint8Array) => {
        output += String(chunk);
        process.stdout.write(chunk);
      });
    }
    child.on("error", () => resolve(127));
    child.on("close", resolve);
  });
  const result = tally(runtime, output);
  // deno-lint-ignore no-control-regex
  for (const [, reason] of output.replace(/\x1b\[[0-9;]*m/g, "").matchAll(SKIP_LINE)) {
    skipReasons.add(`${file}: ${reason}`);
  }
  // Node reports a file that registered no test as one passing test named by the file.
  const escaped = file.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
  if (runtime === "node" && new RegExp(`^✔ ${escaped} \\(`, "m").test(output)) result.passed--;
  return { ...result, code };
}

let server: TestServer | undefined;
if (!process.env.TEST_DATABASE_URL) {
  server = await startEmbeddedPostgres();
  process.env.TEST_DATABASE_URL = server.url;
}
process.env.DENO_NO_UPDATE_CHECK = "1";
process.env.PATH = projectPath(ROOT);

const problems: string[] = [];
const totals: Tally = { passed: 0, failed: 0, skipped: 0 };
const summaries: string[] = [];
try {
  for (const runtime of runtimes) {
    const sum: Tally = { passed: 0, failed: 0, skipped: 0 };
    let ran = 0;
    for (const file of files) {
      console.log(`\n=== ${runtime} ${file}`);
      const result = await runFile(runtime, file);
      if (result.passed + result.failed + result.skipped === 0) {
        problems.push(`${runtime}: ${file} registered no test`);
      } else {
        ran++;
      }
      if (result.code !== 0 && result.failed === 0) {
        problems.push(`${runtime}: ${file} exited with status ${result.code}`);
        result.failed = 1;
      }
      for (const key of ["passed", "failed", "skipped"] as const) sum[key] += result[key];
    }
    if (ran < files.length) problems.push(`${runtime}: ran ${ran} of ${files.length} test files`);
    if (sum.failed > 0) problems.push(`${runtime}: ${sum.failed} failed`);
    if (sum.skipped > 0 && process.env.CI === "true") {
      problems.push(`${runtime}: ${sum.skipped} skipped, and nothing may be skipped in CI`);
    }
    summaries.push(
      `${runtime}: ${files.length} files, ${sum.passed} passed, ${sum.failed} failed, ${sum.skipped} skipped`,
    );
    for (const key of ["passed", "failed", "skipped"] as const) totals[key] += sum[key];
  }
} finally {
  await server?.stop();
}
console.log(`\n${summaries.join("\n")}`);
if (skipReasons.size) console.log(`Skipped: ${[...skipReasons].join("; ")}`);
if (problems.length) {
  console.error(`\nFAILED: ${problems.join("; ")}`);
}
console.log(`${totals.passed} passed, ${totals.failed} failed, ${totals.skipped} skipped`);
process.exit(problems.length ? 1 : 0);
