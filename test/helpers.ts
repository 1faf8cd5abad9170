/**
 * Test fixtures: real PostgreSQL databases and real SQLite files shaped like
 * Open WebUI's, and the CLI run as a subprocess the way start.sh runs it.
 */
import assert from "node:assert/strict";
import { type ChildProcess, spawn } from "node:child_process";
import { type AddressInfo, connect, createServer, type Server, type Socket } from "node:net";
import { mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import process from "node:process";
import { DatabaseSync } from "node:sqlite";
import { fileURLToPath } from "node:url";
import postgres from "postgres";
import {
  createUserTableSql,
  POSTGRES_SEED,
  seedUsersSql,
  type Shape,
  SQLITE_SEED,
} from "../scripts/openwebui.ts";
import { sampleOf } from "../scripts/metrics.ts";
import { freePort } from "../scripts/net.ts";
import { WARNING_PREFIX } from "../src/messages.ts";
import { DENO_PERMISSIONS } from "../src/runtime.ts";
import { resolveTarget } from "../src/connect/target.ts";
import type { AssignResult } from "../src/db/dialect.ts";
import { openDatabase } from "../src/db/open.ts";
import { Deadline } from "../src/deadline.ts";

export type { Shape };

export const isDeno = "Deno" in globalThis;
export const ROOT = fileURLToPath(new URL("..", import.meta.url));
export const MOD = join(ROOT, "mod.ts");

export { DENO_PERMISSIONS, sampleOf };

/** The command that runs `script` under the runtime running this test. */
export function runtimeCommand(script: string, args: string[] = []): [string, string[]] {
  return isDeno
    ? [process.execPath, ["run", ...DENO_PERMISSIONS, "--no-prompt", script, ...args]]
    : [process.execPath, [script, ...args]];
}

/** What a finished subprocess said. */
export interface Ran {
  code: number | null;
  signal: string | null;
  stdout: string;
  stderr: string;
}

/** A clean environment: nothing from the developer's shell leaks into a test. */
export function baseEnv(extra: Record<string, string | undefined> = {}): Record<string, string> {
  const env: Record<string, string> = {
    PATH: process.env.PATH ?? "",
    HOME: process.env.HOME ?? "/tmp",
    DENO_NO_UPDATE_CHECK: "1",
    NO_COLOR: "1",
  };
  if (process.env.DENO_DIR) env.DENO_DIR = process.env.DENO_DIR;
  for (const [key, value] of Object.entries(extra)) if (value !== undefined) env[key] = value;
  return env;
}

/** Run `command args` to the end (or until `timeoutMs`, then SIGKILL). */
export function run(
  command: string,
  args: string[],
  options: { env?: Record<string, string | undefined>; cwd?: string; timeoutMs?: number } = {},
): Promise<Ran> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, {
      env: baseEnv(options.env),
      cwd: options.cwd ?? ROOT,
      stdio: ["ignore", "pipe", "pipe"],
    });
    let stdout = "";
    let stderr = "";
    child.stdout!.on("data", (chunk) => (stdout += chunk));
    child.stderr!.on("data", (chunk) => (stderr += chunk));
    const timer = setTimeout(() => child.kill("SIGKILL"), options.timeoutMs ?? 60_000);
    child.on("error", reject);
    child.on("close", (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stdout, stderr });
    });
  });
}

/** Run `mod.ts` with CLI `args` as a subprocess. */
export function runCli(
  args: string[],
  env: Record<string, string | undefined>,
  options: { cwd?: string; timeoutMs?: number } = {},
): Promise<Ran> {
  const [command, argv] = runtimeCommand(MOD, args);
  return run(command, argv, { env, ...options });
}

/**
 * The test server's password, as TEST_DATABASE_URL writes it and as it is
 * sent: no output of the tool may hold either.
 */
export function serverPasswords(): string[] {
  const serverUrl = process.env.TEST_DATABASE_URL;
  if (!serverUrl) throw new Error("TEST_DATABASE_URL is not set: run the suite with `npm test`");
  const written = new URL(serverUrl).password;
  return [...new Set([written, decodeURIComponent(written)])].filter(Boolean);
}

/** Fail when any of `secrets` shows in what a run printed. */
export function assertNoSecrets(output: Ran | string, secrets: Iterable<string>): void {
  const texts = typeof output === "string" ? [output] : [output.stdout, output.stderr];
  for (const text of texts) {
    for (const secret of secrets) {
      assert.ok(!text.includes(secret), `leaked in: ${text.slice(0, 300)}`);
    }
  }
}

/**
 * `runCli` for a file of failure paths: each run's output is checked for
 * every secret in `secrets` (a set the file's tests may add to) before the
 * test sees it, so each test vouches for its own output.
 */
export function cliWithoutSecrets(secrets: Set<string>) {
  return async (
    args: string[],
    env: Record<string, string | undefined>,
    timeoutMs?: number,
  ): Promise<Ran> => {
    const result = await runCli(args, env, { timeoutMs });
    assertNoSecrets(result, secrets);
    return result;
  };
}

/** Start `mod.ts` with CLI `args` and keep it running. */
export function startCli(args: string[], env: Record<string, string>): Running {
  const [command, argv] = runtimeCommand(MOD, args);
  return launch(command, argv, { env });
}

/** Lines of output, without the trailing empty one. */
export function lines(text: string): string[] {
  return text.split("\n").filter((line) => line !== "");
}

/** A row as the tests look at it. */
export interface Row {
  id: string;
  code: string | null;
}

/** A real database of one dialect, seeded on demand. */
export interface Fixture {
  dialect: "postgres" | "sqlite";
  /** Environment that points mod.ts at this database. */
  env: Record<string, string>;
  /** The password in `env`, which must never be printed. */
  password: string | null;
  seed(shape: Shape): Promise<void>;
  rows(): Promise<Row[]>;
  exec(statement: string): Promise<void>;
  close(): Promise<void>;
}

/**
 * A fresh PostgreSQL database on the test server, dropped on close; in
 * `encoding` when given (with the C locale, which every encoding accepts).
 */
export async function postgresFixture(encoding?: string): Promise<Fixture> {
  const serverUrl = process.env.TEST_DATABASE_URL;
  if (!serverUrl) throw new Error("TEST_DATABASE_URL is not set: run the suite with `npm test`");
  const name = `t_${crypto.randomUUID().replaceAll("-", "").slice(0, 16)}`;
  const admin = postgres(serverUrl, { max: 1, onnotice: () => {} });
  await admin.unsafe(
    `CREATE DATABASE ${name}` +
      (encoding ? ` TEMPLATE template0 ENCODING '${encoding}' LOCALE 'C'` : ""),
  );
  const url = new URL(serverUrl);
  url.pathname = `/${name}`;
  const sql = postgres(url.href, { max: 1, onnotice: () => {} });
  return {
    dialect: "postgres",
    env: { DATABASE_URL: url.href },
    password: decodeURIComponent(url.password) || null,
    async seed(shape) {
      await sql.unsafe(`DROP TABLE IF EXISTS "user"`);
      if (shape.table === false) return;
      await sql.unsafe(createUserTableSql(shape));
      await sql.unsafe(seedUsersSql(shape, POSTGRES_SEED));
      await sql.unsafe(`VACUUM ANALYZE "user"`);
    },
    async rows() {
      return await sql.unsafe<Row[]>(`SELECT id, invite_code AS code FROM "user" ORDER BY id`);
    },
    async exec(statement) {
      await sql.unsafe(statement);
    },
    async close() {
      await sql.end();
      await admin.unsafe(`DROP DATABASE ${name} WITH (FORCE)`);
      await admin.end();
    },
  };
}

/** A fresh Open WebUI-style data folder: `<dir>/data/webui.db`, found through DATA_DIR. */
export function sqliteFixture(): Promise<Fixture> {
  const dir = mkdtempSync(join(tmpdir(), "invite-code-sqlite-"));
  const dataDir = join(dir, "data");
  mkdirSync(dataDir);
  const path = join(dataDir, "webui.db");
  const open = () => new DatabaseSync(path);
  return Promise.resolve({
    dialect: "sqlite",
    env: { DATA_DIR: dataDir },
    password: null,
    seed(shape) {
      rmSync(path, { force: true });
      if (shape.table === false) {
        open().close();
        return Promise.resolve();
      }
      const db = open();
      db.exec(createUserTableSql(shape));
      db.exec(seedUsersSql(shape, SQLITE_SEED));
      db.close();
      return Promise.resolve();
    },
    rows() {
      const db = open();
      try {
        return Promise.resolve(
          db.prepare(`SELECT id, invite_code AS code FROM "user" ORDER BY id`)
            .all() as unknown as Row[],
        );
      } finally {
        db.close();
      }
    },
    exec(statement) {
      const db = open();
      try {
        db.exec(statement);
      } finally {
        db.close();
      }
      return Promise.resolve();
    },
    close() {
      rmSync(dir, { recursive: true, force: true });
      return Promise.resolve();
    },
  });
}

/** Both dialects, for tests that must hold on each. */
export const FIXTURES: [string, () => Promise<Fixture>][] = [
  ["postgres", postgresFixture],
  ["sqlite", sqliteFixture],
];

/** Codes that are blank or missing, as the tool defines them. */
export function isMissing(code: string | null): boolean {
  return code === null || /^\s*$/.test(code);
}

/** How many of `rows` have no code. */
export function countMissing(rows: { code: string | null }[]): number {
  return rows.filter((r) => isMissing(r.code)).length;
}

/** After a repair: every code unique, nobody missing, and every code held before unchanged. */
export function assertUniqueAndKept(
  before: { code: string | null }[],
  after: { code: string | null }[],
): void {
  const codes = after.map((r) => r.code);
  assert.equal(new Set(codes).size, codes.length, "every code unique");
  assert.ok(codes.every((c) => !isMissing(c)), "nobody missing");
  for (const [i, row] of before.entries()) {
    if (!isMissing(row.code)) {
      assert.equal(after[i].code, row.code, "an existing code never changes");
    }
  }
}

/** A superuser connection to the test server (to `database` when given), for roles and lock checks. */
export function serverAdmin(database?: string): postgres.Sql {
  const url = new URL(process.env.TEST_DATABASE_URL!);
  if (database) url.pathname = `/${database}`;
  return postgres(url.href, { max: 1, onnotice: () => {} });
}

async function advisoryLocksHeld(): Promise<number> {
  const sql = serverAdmin();
  try {
    const [row] = await sql`SELECT count(*)::int AS n FROM pg_locks WHERE locktype = 'advisory'`;
    return row.n;
  } finally {
    await sql.end();
  }
}

/** Wait until no advisory lock is held (a killed client's backend finishes its statement first). */
export async function waitForLocksReleased(timeoutMs = 30_000): Promise<void> {
  const until = Date.now() + timeoutMs;
  while ((await advisoryLocksHeld()) > 0) {
    if (Date.now() > until) throw new Error("an advisory lock outlived its client");
    await sleep(100);
  }
}

/** A code the tool generates: 6 to 8 characters from the alphabet. */
export const GENERATED_CODE = /^[23456789ABCDEFGHJKMNPQRSTUVWXYZ]{6,8}$/;

/** A long-running subprocess (the probe, start.sh) and its output so far. */
export interface Running {
  child: ChildProcess;
  output(): string;
  /** Resolves with the exit code (or signal name) when the process ends. */
  exited: Promise<number | string | null>;
}

/** Start `command args` and keep it running. */
export function launch(
  command: string,
  args: string[],
  options: { env?: Record<string, string | undefined>; cwd?: string } = {},
): Running {
  const child = spawn(command, args, {
    env: baseEnv(options.env),
    cwd: options.cwd ?? ROOT,
    stdio: ["ignore", "pipe", "pipe"],
  });
  let output = "";
  child.stdout!.on("data", (chunk) => (output += chunk));
  child.stderr!.on("data", (chunk) => (output += chunk));
  const exited = new Promise<number | string | null>((resolve) =>
    child.on("close", (code, signal) => resolve(code ?? signal))
  );
  return { child, output: () => output, exited };
}

/**
 * Send `signal` to a launched process. Deno's `child.kill()` makes the close
 * event report the signal even when the child handled it and exited 0;
 * `process.kill(pid)` leaves the real exit status visible on both runtimes.
 */
export function sendSignal(running: Running, signal: "SIGTERM" | "SIGINT" | "SIGKILL"): void {
  try {
    process.kill(running.child.pid!, signal);
  } catch (error) {
    // Already gone: the test's own assertions on the exit say what that means.
    if ((error as { code?: string }).code !== "ESRCH") throw error;
  }
}

/** What a skipped test prints, so that both runtimes show why (Deno's report omits it). */
export const SKIP_PREFIX = "SKIP: ";

/**
 * The reason a test file skips for what the machine lacks: printed once as
 * `SKIP: <reason>` (scripts/test.ts gathers these lines), and returned for
 * `{ skip }`.
 */
export function skipping(reason: string): string {
  console.log(`${SKIP_PREFIX}${reason}`);
  return reason;
}

/** Resolve after `ms` milliseconds. */
export const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Reads one sample of an in-process probe's /metrics: `await metric("invite_codes_missing")`. */
export function metricsOf(app: { request(path: string): Response | Promise<Response> }) {
  return async (name: string): Promise<number> =>
    Number(sampleOf(await (await app.request("/metrics")).text(), name));
}

/** Wait until a launched process has printed `text`. */
export async function waitForOutput(
  running: Running,
  text: string,
  timeoutMs = 60_000,
): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (!running.output().includes(text)) {
    if (Date.now() > until) throw new Error(`no "${text}" in:\n${running.output()}`);
    await sleep(20);
  }
}

/** Poll `url` until it answers, or fail after `timeoutMs`. */
export async function waitForHttp(url: string, timeoutMs = 15_000): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (Date.now() < until) {
    try {
      await (await fetch(url)).body?.cancel();
      return;
    } catch {
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  }
  throw new Error(`${url} did not answer within ${timeoutMs} ms`);
}

/** A listener that accepts connections and never says a word, as a hung server does. */
export interface SilentListener {
  port: number;
  /** Every connection it accepted, in order. */
  accepted: Socket[];
  close(): void;
}

/** Listen on 127.0.0.1 at a free port, accept, and never answer. */
export async function silentListener(): Promise<SilentListener> {
  const accepted: Socket[] = [];
  const server = createServer((socket) => accepted.push(socket));
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return {
    port: (server.address() as AddressInfo).port,
    accepted,
    close() {
      for (const socket of accepted) socket.destroy();
      server.close();
    },
  };
}

/**
 * A TCP proxy to `target` that can be cut and restored: a real outage, seen
 * from the client, without stopping the shared test server.
 */
export async function outageProxy(target: URL): Promise<{
  port: number;
  /** `target` reached through the proxy. */
  url: URL;
  down(): Promise<void>;
  up(): Promise<void>;
  /** The network goes silent: connections stay open, and nothing more gets through. */
  stall(): void;
  close(): Promise<void>;
}> {
  const sockets = new Set<Socket>();
  let server: Server | undefined;
  const port = await freePort();
  const up = () =>
    new Promise<void>((resolve) => {
      server = createServer((client) => {
        const upstream = connect(Number(target.port), target.hostname);
        for (const s of [client, upstream]) {
          sockets.add(s);
          s.on("error", () => {});
          s.on("close", () => sockets.delete(s));
        }
        client.pipe(upstream).pipe(client);
      }).listen(port, "127.0.0.1", () => resolve());
    });
  const down = () =>
    new Promise<void>((resolve) => {
      for (const s of sockets) s.destroy();
      server ? server.close(() => resolve()) : resolve();
      server = undefined;
    });
  const stall = () => {
    for (const s of sockets) {
      s.unpipe();
      s.pause();
    }
  };
  await up();
  const url = new URL(target);
  url.port = String(port);
  return { port, url, up, down, stall, close: down };
}

/** A RegExp matching `text` literally. */
export function literal(text: string, flags = ""): RegExp {
  return new RegExp(text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&"), flags);
}

/** The fail-open WARNING line, starting a line, followed by `rest`. */
export function warned(rest: RegExp = /(?:)/): RegExp {
  return new RegExp(`^${literal(WARNING_PREFIX).source}${rest.source}`, "m");
}

/**
 * One chunk of the repair's work on the database `env` names, offering only
 * `code`, rolled back: what the dialect makes of a code some row holds.
 */
export async function assignOnly(env: Record<string, string>, code: string): Promise<AssignResult> {
  const deadline = Deadline.after(10_000);
  const db = await openDatabase(resolveTarget(env), { deadline: () => deadline });
  try {
    const schema = await db.schema();
    if (schema.absence !== null) assert.fail(schema.absence);
    const offered = {
      draw: (count: number) => Array.from({ length: count }, () => code),
      drawList: (count: number) => Array.from({ length: count }, () => code).join(","),
    };
    let result: AssignResult | undefined;
    await assert.rejects(
      schema.table.transaction(async (tx) => {
        result = await tx.assign(null, 10, offered);
        throw new Error("roll back");
      }),
      /roll back/,
    );
    assert.ok(result);
    return result;
  } finally {
    await db.close();
  }
}
