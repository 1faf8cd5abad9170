/**
 * Which database: resolved exactly as Open WebUI resolves it, and read the
 * way SQLAlchemy's `make_url` reads it, so whatever URL connects there
 * connects here.
 *
 * @module
 */
import { resolve } from "node:path";
import process from "node:process";
import type { DatabaseTarget } from "./db/dialect.ts";
import { postgresTarget } from "./db/libpq.ts";
import { InviteCodeError } from "./errors.ts";

/** Environment variables, as `process.env` holds them. */
export type Env = Record<string, string | undefined>;

const SUPPORTED =
  "supported: postgres://, postgresql:// (also postgresql+psycopg2://, postgresql+psycopg://, " +
  "postgresql+asyncpg://) and sqlite:///path";

/**
 * The database URL Open WebUI would use: `DATABASE_URL`, else one composed
 * from `DATABASE_TYPE`, `_USER`, `_PASSWORD`, `_HOST`, `_PORT`, `_NAME`, else
 * `sqlite:///${DATA_DIR}/webui.db`.
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
  return `sqlite:///${env.DATA_DIR || "./data"}/webui.db`;
}

/** A URL as SQLAlchemy's `make_url` splits it. */
export interface SqlalchemyUrl {
  /** The scheme, driver included: `postgresql+psycopg2`. */
  drivername: string;
  username: string | null;
  password: string | null;
  host: string | null;
  port: number | null;
  database: string | null;
  /** Query parameters; a key given more than once holds every value. */
  query: Record<string, string | string[]>;
}

// SQLAlchemy's own grammar (sqlalchemy/engine/url.py, _parse_url), 1.4 and
// 2.0 alike: the username stops at ":" or "/", the password at the first
// "@", and "[...]" holds an IPv6 host. Anchored at the start only, as
// Python's re.match is.
const SQLALCHEMY_URL = new RegExp(
  String.raw`^(?<name>[\w+]+)://` +
    String.raw`(?:(?<username>[^:/]*)(?::(?<password>[^@]*))?@)?` +
    String.raw`(?:(?:\[(?<ipv6host>[^/?]+)\]|(?<ipv4host>[^/:?]+))?(?::(?<port>[^/?]*))?)?` +
    String.raw`(?:/(?<database>[^?]*))?` +
    String.raw`(?:\?(?<query>.*))?`,
  "s",
);

/**
 * Split a URL exactly as SQLAlchemy's `make_url` does: only the username and
 * password are percent-decoded (as Python's `unquote`), the query as
 * Python's `parse_qsl` (blank values dropped, `+` is a space).
 *
 * @example
 * ```ts
 * parseSqlalchemyUrl("postgresql://u:p#w@[::1]:5432/db").password; // "p#w"
 * ```
 * @param url The URL as the operator wrote it.
 */
export function parseSqlalchemyUrl(url: string): SqlalchemyUrl {
  const groups = SQLALCHEMY_URL.exec(url)?.groups;
  if (!groups) throw new InviteCodeError("config", `database URL is not a URL (${SUPPORTED})`);
  let port: number | null = null;
  if (groups.port !== undefined) {
    // Python's int() accepts surrounding whitespace and underscores between digits.
    const digits = groups.port.trim().replace(/(?<=\d)_(?=\d)/g, "");
    if (!/^[+-]?\d+$/.test(digits)) {
      throw new InviteCodeError("config", "database URL has a port that is not a number");
    }
    port = Number(digits);
  }
  return {
    drivername: groups.name,
    username: groups.username === undefined ? null : pythonUnquote(groups.username),
    password: groups.password === undefined ? null : pythonUnquote(groups.password),
    host: groups.ipv4host ?? groups.ipv6host ?? null,
    port,
    database: groups.database ?? null,
    query: groups.query === undefined ? {} : parseQsl(groups.query),
  };
}

/**
 * Python's `urllib.parse.unquote`: `%XX` runs decode as UTF-8 (invalid bytes
 * become U+FFFD); a `%` that starts no escape stays as it is.
 *
 * @param text Percent-encoded text.
 */
export function pythonUnquote(text: string): string {
  if (!text.includes("%")) return text;
  return text.replace(/(?:%[0-9A-Fa-f]{2})+/g, (run) => {
    const bytes = new Uint8Array(run.length / 3);
    for (let i = 0; i < bytes.length; i++) bytes[i] = parseInt(run.slice(i * 3 + 1, i * 3 + 3), 16);
    return new TextDecoder("utf-8").decode(bytes);
  });
}

/** Python's `parse_qsl` with its defaults: "&" separates, blank values are dropped. */
function parseQsl(query: string): Record<string, string | string[]> {
  const result: Record<string, string | string[]> = {};
  for (const field of query.split("&")) {
    if (!field) continue;
    const eq = field.indexOf("=");
    if (eq < 0) continue; // parse_qsl drops a field without "=" unless strict
    const value = field.slice(eq + 1);
    if (!value) continue;
    const key = pythonUnquote(field.slice(0, eq).replaceAll("+", " "));
    const decoded = pythonUnquote(value.replaceAll("+", " "));
    const held = result[key];
    result[key] = held === undefined ? decoded : [...[held].flat(), decoded];
  }
  return result;
}

/**
 * Turn a database URL into a target the dialects can open, or throw an
 * `InviteCodeError` of kind `config` that names what is supported. Secrets
 * are listed in `secrets` and masked in `display`.
 *
 * @example
 * ```ts
 * parseDatabaseUrl("sqlite:///data/webui.db", {}).display; // "sqlite:////abs/cwd/data/webui.db"
 * ```
 * @param url The database URL.
 * @param env Where libpq's `PG*` variables and `DATABASE_SCHEMA` come from.
 */
export function parseDatabaseUrl(url: string, env: Env = process.env): DatabaseTarget {
  const scheme = /^([A-Za-z][A-Za-z0-9+.-]{0,40}):\/\//.exec(url)?.[1].toLowerCase();
  if (!scheme) throw new InviteCodeError("config", `database URL is not a URL (${SUPPORTED})`);
  if (scheme === "sqlite") return sqliteTarget(url);
  if (scheme === "postgres" || scheme === "postgresql" || /^postgresql\+\w+$/.test(scheme)) {
    return postgresTarget(parseSqlalchemyUrl(url), env, envSecrets(env));
  }
  throw new InviteCodeError(
    "config",
    `unsupported database URL scheme "${scheme}://" (${SUPPORTED})`,
  );
}

/**
 * The target the environment names: `parseDatabaseUrl(resolveDatabaseUrl(env))`.
 *
 * @example
 * ```ts
 * resolveTarget({ DATABASE_URL: "postgresql://webui:pw@db/openwebui" }).dialect; // "postgres"
 * ```
 * @param env Where to read the variables; default `process.env`.
 */
export function resolveTarget(env: Env = process.env): DatabaseTarget {
  return parseDatabaseUrl(resolveDatabaseUrl(env), env);
}

function sqliteTarget(url: string): DatabaseTarget {
  const path = url.slice("sqlite:///".length).replace(/\?.*$/s, "");
  if (!url.startsWith("sqlite:///") || !path) {
    throw new InviteCodeError(
      "config",
      "sqlite URL needs a file path: sqlite:///relative/path or sqlite:////absolute/path",
    );
  }
  if (path.includes("\0")) throw new InviteCodeError("config", "sqlite path contains a NUL byte");
  // SQLAlchemy hands the path to sqlite3 relative to the working directory;
  // an absolute path in every message shows where the tool looked.
  const absolute = resolve(path);
  return { dialect: "sqlite", path: absolute, display: `sqlite:///${absolute}`, secrets: [] };
}

/**
 * Secrets the environment holds, known before any URL is parsed.
 *
 * @param env The environment.
 */
export function envSecrets(env: Env): string[] {
  return [env.DATABASE_PASSWORD, env.PGPASSWORD].filter((s): s is string => !!s);
}
