/**
 * `npm test`: the whole suite under Node, then under Deno, against one real
 * PostgreSQL server (TEST_DATABASE_URL, else an embedded one started here) and
 * real SQLite files. Fails when either runtime fails.
 */
import { spawn } from "node:child_process";
import process from "node:process";
import { fileURLToPath } from "node:url";
import { projectPath } from "./net.ts";
import { startEmbeddedPostgres, type TestServer } from "./postgres.ts";

const only = process.argv[2]; // "node" or "deno" runs one runtime
const files = process.argv.slice(3);
let server: TestServer | undefined;
if (!process.env.TEST_DATABASE_URL) {
  server = await startEmbeddedPostgres();
  process.env.TEST_DATABASE_URL = server.url;
}
process.env.DENO_NO_UPDATE_CHECK = "1";
process.env.PATH = projectPath(fileURLToPath(new URL("..", import.meta.url)));

const runs: [string, string[]][] = [
  ["node", ["--test", "--test-concurrency=1", ...(files.length ? files : ["test/*_test.ts"])]],
  ["deno", ["test", "--allow-all", "--no-check", ...(files.length ? files : ["test/"])]],
];
const failed: string[] = [];
try {
  for (const [runtime, args] of runs) {
    if (only && only !== runtime) continue;
    console.log(`\n=== ${runtime} ${args.join(" ")}`);
    // Not spawnSync: this process must keep draining the embedded server's
    // log pipe, or the server blocks on a full pipe once enough is logged.
    const status = await new Promise<number | null>((resolve) =>
      spawn(runtime, args, { stdio: "inherit" }).on("close", resolve)
    );
    if (status !== 0) failed.push(runtime);
  }
} finally {
  await server?.stop();
}
if (failed.length) {
  console.error(`\nFAILED under: ${failed.join(", ")}`);
  process.exit(1);
}
console.log("\nAll tests passed under both runtimes.");
