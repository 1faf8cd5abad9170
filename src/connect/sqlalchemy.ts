/**
 * The second step: a database URL read the way SQLAlchemy's `make_url` reads
 * it, so whatever URL connects there connects here. Its own small room,
 * since both the target (which dialect) and the conninfo (which keywords)
 * read the `SqlalchemyUrl` it makes.
 *
 * @module
 */
import { InviteCodeError } from "../errors.ts";

/** What the error for an unusable URL names as supported. */
export const SUPPORTED =
  "supported: postgres://, postgresql:// (also postgresql+psycopg2://, postgresql+psycopg://, " +
  "postgresql+asyncpg://), sqlite:///path and sqlite+sqlcipher:///path";

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
