/**
 * Through PgBouncer in transaction pooling mode (Debian's pgbouncer, which
 * .ci/run installs): the repair and the probe work, and the transaction-scoped
 * advisory lock still keeps replicas apart.
 */
import assert from "node:assert/strict";
import { spawn, spawnSync } from "node:child_process";
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import process from "node:process";
import { after, before, describe, test } from "node:test";
import { freePort } from "../scripts/net.ts";
import {
  type Fixture,
  isMissing,
  launch,
  lines,
  literal,
  postgresFixture,
  ROOT,
  runCli,
  runtimeCommand,
  sendSignal,
  skipping,
  waitForHttp,
} from "./helpers.ts";
import { LOG } from "../src/messages.ts";

/** pgbouncer on PATH (Debian installs it in /usr/sbin, on root's PATH). */
const BINARY = spawnSync("sh", ["-c", "command -v pgbouncer"], { encoding: "utf8" }).stdout.trim();
const required = process.env.REQUIRE_PGBOUNCER === "1";
const skip = BINARY || required ? false : skipping(
  "pgbouncer is not on PATH (apt-get install pgbouncer; REQUIRE_PGBOUNCER=1 fails instead)",
);

/** Start PgBouncer in front of `server` in transaction pooling mode. */
async function startPgBouncer(server: URL) {
  const dir = mkdtempSync(join(tmpdir(), "invite-code-pgbouncer-"));
  chmodSync(dir, 0o755); // as root, pgbouncer switches to the postgres user
  const port = await freePort();
  const user = decodeURIComponent(server.username);
  writeFileSync(join(dir, "userlist.txt"), `"${user}" "${decodeURIComponent(server.password)}"\n`);
  writeFileSync(
    join(dir, "pgbouncer.ini"),
    `[databases]
* = host=${server.hostname} port=${server.port}
[pgbouncer]
listen_addr = 127.0.0.1
listen_port = ${port}
unix_socket_dir =
auth_type = plain
auth_file = ${join(dir, "userlist.txt")}
pool_mode = transaction
default_pool_size = 4
max_client_conn = 200
`,
  );
  const asRoot = process.getuid?.() === 0;
  const child = spawn(
    BINARY!,
    [...(asRoot ? ["-u", "postgres"] : []), join(dir, "pgbouncer.ini")],
    {
      stdio: ["ignore", "pipe", "pipe"],
    },
  );
  let log = "";
  child.stdout!.on("data", (chunk) => (log += chunk));
  child.stderr!.on("data", (chunk) => (log += chunk));
  const exited = new Promise((resolve) => child.on("close", resolve));
  const until = Date.now() + 10_000;
  while (!/listening on 127\.0\.0\.1:\d+/.test(log)) {
    if (Date.now() > until) throw new Error(`pgbouncer did not start: ${log}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  return {
    port,
    async stop() {
      process.kill(child.pid!, "SIGTERM");
      await exited;
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

describe("through PgBouncer (transaction pooling)", {
  skip,
}, () => {
  let db: Fixture;
  let bouncer: Awaited<ReturnType<typeof startPgBouncer>>;
  let env: Record<string, string>;
  before(async () => {
    assert.ok(BINARY, "pgbouncer is required here (apt-get install pgbouncer)");
    db = await postgresFixture();
    const url = new URL(db.env.DATABASE_URL);
    bouncer = await startPgBouncer(url);
    url.port = String(bouncer.port);
    env = { DATABASE_URL: url.href };
  });
  after(async () => {
    await bouncer?.stop();
    await db?.close();
  });

  test("replicas through the pooler: one repairs, none warns, every code unique", async () => {
    await db.seed({ users: 20_000, missing: 15_000 });
    const results = await Promise.all(
      Array.from({ length: 6 }, () => runCli([], env, { timeoutMs: 120_000 })),
    );
    for (const r of results) {
      assert.equal(r.code, 0, r.stderr);
      assert.doesNotMatch(r.stdout, /WARNING/, r.stdout);
    }
    // Exactly one replica generates, all 15,000; every other finds nothing
    // left once it has the lock (without the lock, several would write codes).
    const generated = results.filter((r) => literal(LOG.success(15000)).test(r.stdout));
    assert.equal(generated.length, 1, results.map((r) => r.stdout).join("\n"));
    for (const r of results.filter((r) => !generated.includes(r))) {
      assert.doesNotMatch(r.stdout, /SUCCESS|Found/, `a replica wrote codes too:\n${r.stdout}`);
    }
    const rows = await db.rows();
    assert.ok(rows.every((r) => !isMissing(r.code)));
    assert.equal(new Set(rows.map((r) => r.code)).size, rows.length);
    const check = await runCli(["--check"], env);
    assert.deepEqual(lines(check.stdout), [
      LOG.allHaveCodes(20000),
    ]);
  });

  test("the probe answers through the pooler", async () => {
    const port = await freePort();
    const [command, args] = runtimeCommand(join(ROOT, "health.ts"));
    const probe = launch(command, args, {
      env: { ...env, HEALTH_HOST: "127.0.0.1", HEALTH_PORT: String(port) },
    });
    try {
      const url = `http://127.0.0.1:${port}/health/invite-codes?format=text`;
      await waitForHttp(url);
      const response = await fetch(url);
      assert.equal(response.status, 200);
      assert.equal(await response.text(), "missing=0\n");
    } finally {
      sendSignal(probe, "SIGTERM");
      assert.equal(await probe.exited, 0);
    }
  });
});
