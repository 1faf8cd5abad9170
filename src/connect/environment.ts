/**
 * The first step of the connection path: Open WebUI's environment becomes a
 * database URL, resolved exactly as Open WebUI resolves it. Everything later
 * on the path reads its variables through the `Env` type owned here.
 *
 * @module
 */
import process from "node:process";

/** Environment variables, as `process.env` holds them. */
export type Env = Record<string, string | undefined>;

/**
 * The database URL Open WebUI would use: `DATABASE_URL`, else one composed
 * from `DATABASE_TYPE`, `_USER`, `_PASSWORD`, `_HOST`, `_PORT`, `_NAME`, else
 * `sqlite+sqlcipher:///${DATA_DIR}/webui.db` with `DATABASE_TYPE=sqlite+sqlcipher`,
 * else `sqlite:///${DATA_DIR}/webui.db`.
 *
 * @example
 * ```ts
 * resolveDatabaseUrl({ DATA_DIR: "/app/backend/data" }); // "sqlite:////app/backend/data/webui.db"
 * ```
 * @param env Where to read the variables; default `process.env`.
 */
export function resolveDatabaseUrl(env: Env = process.env): string {
  if (env.DATABASE_URL) return env.DATABASE_URL;
  const { DATABASE_TYPE, DATABASE_USER, DATABASE_HOST, DATABASE_PORT, DATABASE_NAME } = env;
  if (DATABASE_TYPE && DATABASE_USER && DATABASE_HOST && DATABASE_PORT && DATABASE_NAME) {
    // Open WebUI pastes the parts in raw; encoding them keeps a password with
    // "@" or "/" from corrupting the URL. An IPv6 address gets its brackets.
    const password = env.DATABASE_PASSWORD ? `:${encodeURIComponent(env.DATABASE_PASSWORD)}` : "";
    const host = DATABASE_HOST.includes(":") && !DATABASE_HOST.startsWith("[")
      ? `[${DATABASE_HOST}]`
      : DATABASE_HOST;
    return `${DATABASE_TYPE}://${encodeURIComponent(DATABASE_USER)}${password}@` +
      `${host}:${DATABASE_PORT}/${DATABASE_NAME}`;
  }
  const file = `${env.DATA_DIR || "./data"}/webui.db`;
  // Open WebUI's env.py: the encrypted file sits where the plain one would.
  return DATABASE_TYPE === SQLCIPHER_SCHEME
    ? `${SQLCIPHER_SCHEME}:///${file}`
    : `sqlite:///${file}`;
}

/** The variables Open WebUI composes a server URL from, all or none. */
const SERVER_PARTS = [
  "DATABASE_TYPE",
  "DATABASE_USER",
  "DATABASE_HOST",
  "DATABASE_PORT",
  "DATABASE_NAME",
] as const;

/**
 * When `DATABASE_URL` is unset and some, not all, of the variables Open
 * WebUI composes a server URL from are set: which are missing. Open WebUI
 * then silently uses SQLite; the operator meant a server.
 *
 * @example
 * ```ts
 * unmetServerSettings({ DATABASE_TYPE: "postgresql" }); // "DATABASE_USER, DATABASE_HOST, ..."
 * ```
 * @param env The environment.
 */
export function unmetServerSettings(env: Env): string | null {
  // DATABASE_TYPE=sqlite+sqlcipher alone names the encrypted default file.
  if (env.DATABASE_URL || env.DATABASE_TYPE === SQLCIPHER_SCHEME) return null;
  const unset = SERVER_PARTS.filter((name) => !env[name]);
  if (unset.length === 0 || unset.length === SERVER_PARTS.length) return null;
  const set = SERVER_PARTS.filter((name) => env[name]);
  return `${set.join(", ")} ${set.length === 1 ? "is" : "are"} set but ${unset.join(", ")} ` +
    `${unset.length === 1 ? "is" : "are"} not: Open WebUI composes a database URL only from all ` +
    `five (${SERVER_PARTS.join(", ")}), and otherwise uses SQLite`;
}
/** Open WebUI's scheme (and `DATABASE_TYPE`) for a SQLCipher-encrypted SQLite file. */
export const SQLCIPHER_SCHEME = "sqlite+sqlcipher";

/**
 * Secrets the environment holds, known before any URL is parsed.
 *
 * @param env The environment.
 */
export function envSecrets(env: Env): string[] {
  return [env.DATABASE_PASSWORD, env.PGPASSWORD].filter((s): s is string => !!s);
}
