/**
 * Every difference between Node and Deno, in one place: which runtime this
 * is, whether a module is the entry point, how a Hono app is served, how
 * `node:sqlite` is loaded quietly, which Deno permissions the tool needs,
 * and what a missing one looks like.
 *
 * @module
 */
import process from "node:process";
import { realpathSync } from "node:fs";
import type { Duplex } from "node:stream";
import { fileURLToPath } from "node:url";
import { SQLCIPHER_SCHEME } from "./connect/environment.ts";
import { LOG } from "./messages.ts";

/** The runtime running this process. */
export const RUNTIME: "deno" | "node" = "Deno" in globalThis ? "deno" : "node";

/**
 * Whether this runtime's `node:tls` honours the `crl` option. Deno's drops it
 * (deno 2.9: a revoked certificate is accepted), so revocation lists are
 * refused there rather than silently unchecked.
 */
export const TLS_CHECKS_REVOCATION: boolean = RUNTIME === "node";

/**
 * The Deno permissions the repair and the probe need: read the environment,
 * reach PostgreSQL, read and write a SQLite file. README, start.sh, deno.json
 * and the tests use exactly these.
 */
export const DENO_PERMISSIONS = [
  "--allow-env",
  "--allow-net",
  "--allow-read",
  "--allow-write",
] as const;

/**
 * The one more Deno permission an encrypted SQLite file needs: its library
 * is native code. Given only for such a file (start.sh does the same).
 */
export const CIPHER_PERMISSION = "--allow-ffi";

/**
 * The Deno permissions for the database `env` names: `DENO_PERMISSIONS`,
 * and `CIPHER_PERMISSION` for Open WebUI's `sqlite+sqlcipher` (a set
 * `DATABASE_URL` wins, else `DATABASE_TYPE`).
 *
 * @example
 * ```ts
 * denoPermissionsFor({ DATABASE_TYPE: "sqlite+sqlcipher" }).at(-1); // "--allow-ffi"
 * ```
 * @param env The environment the repair or the probe will read.
 */
export function denoPermissionsFor(env: Record<string, string | undefined>): string[] {
  const encrypted = env.DATABASE_URL
    ? env.DATABASE_URL.startsWith(`${SQLCIPHER_SCHEME}://`)
    : env.DATABASE_TYPE === SQLCIPHER_SCHEME;
  return encrypted ? [...DENO_PERMISSIONS, CIPHER_PERMISSION] : [...DENO_PERMISSIONS];
}

/**
 * Whether the module with this `import.meta` is the program's entry point:
 * `import.meta.main`, also on Node before 24.2, which lacks it.
 *
 * @example
 * ```ts
 * if (isEntryPoint(import.meta)) console.log("run as a command");
 * ```
 * @param meta The module's `import.meta`.
 */
export function isEntryPoint(meta: ImportMeta): boolean {
  const main = (meta as ImportMeta & { main?: boolean }).main;
  if (typeof main === "boolean") return main;
  const entry = process.argv[1];
  try {
    return !!entry && realpathSync(entry) === realpathSync(fileURLToPath(meta.url));
  } catch {
    return false;
  }
}

interface DenoNamespace {
  serve(
    options: { hostname: string; port: number; onListen?: () => void },
    handler: (request: Request) => Response | Promise<Response>,
  ): { shutdown(): Promise<void> };
  permissions: { querySync(descriptor: { name: string }): { state: string } };
  errors: { NotCapable?: new () => Error; PermissionDenied: new () => Error };
}

function deno(): DenoNamespace | undefined {
  return (globalThis as { Deno?: DenoNamespace }).Deno;
}

/**
 * Serve `fetch` on `hostname:port` with the runtime's own server; resolves
 * once it listens, with a function that stops it.
 *
 * @example
 * ```ts
 * const stop = await serveFetch(() => new Response("ok"), "127.0.0.1", 8081);
 * await stop();
 * ```
 * @param fetch A Hono app's `fetch`.
 * @param hostname Address to listen on.
 * @param port Port to listen on.
 */
export async function serveFetch(
  fetch: (request: Request) => Response | Promise<Response>,
  hostname: string,
  port: number,
): Promise<() => Promise<void>> {
  const denoNamespace = deno();
  if (denoNamespace) {
    let listening: () => void = () => {};
    const ready = new Promise<void>((resolve) => (listening = resolve));
    const server = denoNamespace.serve({ hostname, port, onListen: listening }, fetch);
    await ready;
    return () => server.shutdown();
  }
  const { serve } = await import("@hono/node-server");
  const server = serve({ fetch, hostname, port });
  // Node's parser refuses a method it does not know (FOO) before any handler
  // runs, with a bare 400; the probe answers every other method with 405.
  server.on("clientError", (error: Error & { code?: string }, socket: Duplex) => {
    if (!socket.writable) return socket.destroy();
    socket.end(
      error.code === "HPE_INVALID_METHOD"
        ? "HTTP/1.1 405 Method Not Allowed\r\nAllow: GET, HEAD\r\n" +
          "Content-Type: text/plain; charset=UTF-8\r\nContent-Length: 19\r\n" +
          "Connection: close\r\n\r\nmethod not allowed\n"
        : "HTTP/1.1 400 Bad Request\r\nConnection: close\r\n\r\n",
    );
  });
  await new Promise<void>((resolve, reject) => {
    server.once("listening", resolve);
    server.once("error", reject);
  });
  return () =>
    new Promise((resolve) => {
      server.close(() => resolve());
      (server as { closeAllConnections?: () => void }).closeAllConnections?.();
    });
}

/**
 * Whether this runtime's `node:sqlite` can define SQL functions: Node has
 * `DatabaseSync.prototype.function` since 22.13, Deno only since a release
 * after 2.5 (denoland/docs#2548), and older Denos need another way.
 *
 * @example
 * ```ts
 * const DatabaseSync = await importSqlite();
 * const db = new DatabaseSync(":memory:");
 * definesSqlFunctions(db); // true on Node 22.13+ and recent Deno
 * ```
 * @param db An open `DatabaseSync`.
 */
export function definesSqlFunctions<T extends { function?: unknown }>(
  db: T,
): db is T & { function: NonNullable<T["function"]> } {
  return typeof db.function === "function";
}

/**
 * `node:sqlite`'s `DatabaseSync`, without the ExperimentalWarning Node 24
 * prints on every start. Only warnings of that type, and only while the
 * module loads, are dropped (its only warning then); other warnings pass.
 */
export async function importSqlite(): Promise<typeof import("node:sqlite").DatabaseSync> {
  const emitWarning = process.emitWarning;
  process.emitWarning = ((warning: string | Error, ...rest: unknown[]) => {
    // Only node:sqlite is loaded meanwhile: the experimental feature is SQLite.
    if (warningType(warning, rest[0]) === "ExperimentalWarning") return;
    (emitWarning as (...args: unknown[]) => void).call(process, warning, ...rest);
  }) as typeof process.emitWarning;
  try {
    return (await import("node:sqlite")).DatabaseSync;
  } finally {
    process.emitWarning = emitWarning;
  }
}

/** A warning's type, as `process.emitWarning` takes it: a string, or in the options or the Error. */
function warningType(warning: string | Error, typeOrOptions: unknown): string | undefined {
  if (typeof typeOrOptions === "string") return typeOrOptions;
  const type = (typeOrOptions as { type?: unknown } | undefined)?.type;
  if (typeof type === "string") return type;
  return warning instanceof Error ? warning.name : undefined;
}

/** The command line that runs `script` with the permissions it needs. */
export function runCommand(script: string): string {
  return RUNTIME === "deno" ? `deno run ${DENO_PERMISSIONS.join(" ")} ${script}` : `node ${script}`;
}

/**
 * Whether `error` is Deno refusing a permission the process was not given.
 *
 * @param error Anything thrown.
 */
export function isPermissionError(error: unknown): boolean {
  const errors = deno()?.errors;
  if (!errors || !(error instanceof Error)) return false;
  return (errors.NotCapable !== undefined && error instanceof errors.NotCapable) ||
    error instanceof errors.PermissionDenied;
}

/**
 * The one line for a missing Deno permission, naming the flags to pass, or
 * null when the process has the environment access it needs to start.
 *
 * @param script The entry point, for the command the line suggests.
 */
export function missingPermissions(script: string): string | null {
  const denoNamespace = deno();
  if (!denoNamespace) return null;
  const state = denoNamespace.permissions.querySync({ name: "env" }).state;
  if (state === "granted") return null;
  return LOG.needsEnvPermission(runCommand(script));
}

/**
 * The one line for a permission Deno refused during the run.
 *
 * @param error The refusal.
 * @param script The entry point, for the command the line suggests.
 */
export function permissionLine(error: unknown, script: string): string {
  const what = error instanceof Error ? error.message.split(",")[0].replace(/\.$/, "") : "";
  return `${what}: run ${runCommand(script)}`;
}

/**
 * Keep a driver error that escapes every promise from crashing the process:
 * postgres.js under Deno can throw from a timer after its socket is gone.
 * Each is reported through `report`, which decides what it means.
 *
 * @param report Called with each stray error.
 */
export function containStrayErrors(report: (error: unknown) => void): void {
  process.on("uncaughtException", report);
  process.on("unhandledRejection", report);
}

/** Exit now with `code`. Only the entry points call this. */
export function exit(code: number): never {
  process.exit(code);
}
