/**
 * libpq's password file (`~/.pgpass`, `passfile`, `PGPASSFILE`): the
 * password libpq would send to each host, looked up host by host as
 * `connectOptions2()` in libpq's fe-connect.c does, read as its
 * `passwordFromFile()` reads it.
 *
 * @module
 */
import { Buffer } from "node:buffer";
import { readFileSync } from "node:fs";
import { redact } from "../errors.ts";
import {
  type Conninfo,
  DEFAULT_SOCKET_DIR,
  type Endpoint,
  type PostgresTarget,
} from "./conninfo.ts";
import type { Env } from "./environment.ts";
import { homeFile, look } from "./files.ts";

/**
 * The target with the password libpq would send to each of its hosts: the
 * `password` keyword for all, else each host's line in the password file.
 * Every password found joins the secrets, and the display is masked again.
 *
 * @example
 * ```ts
 * import { postgresTarget } from "./conninfo.ts";
 * import { parseSqlalchemyUrl } from "./sqlalchemy.ts";
 * const env = { HOME: "/home/u" }; // /home/u/.pgpass (mode 0600) holds "a:5432:db:u:pw-for-a"
 * const url = parseSqlalchemyUrl("postgresql://u@a/db");
 * withPasswords(postgresTarget(url, env, []), env).connection.attempts[0].password; // "pw-for-a"
 * ```
 * @param target The target as the keywords make it.
 * @param env Where `HOME` comes from.
 */
export function withPasswords(target: PostgresTarget, env: Env): PostgresTarget {
  const { connection } = target;
  // The password keyword, when given, is already every host's.
  if (target.conninfo.password) return target;
  const { attempts, database, user } = connection;
  const list = attempts.map((attempt) => attempt.endpoint);
  const passwords = passwordsFromFile(target.conninfo, env, list, database, user);
  const secrets = [...target.secrets];
  for (const password of passwords) {
    if (password && !secrets.includes(password)) secrets.push(password);
  }
  return {
    ...target,
    connection: {
      ...connection,
      attempts: attempts.map((attempt, i) => ({ ...attempt, password: passwords[i] })),
    },
    secrets,
    display: redact(target.display, secrets),
  };
}

/**
 * The password the file holds for each endpoint (undefined where none), in
 * the endpoints' order. A file that is not a plain file, or that group or
 * others may access, is ignored as libpq ignores it.
 *
 * @example
 * ```ts
 * import { endpoints } from "./conninfo.ts";
 * const conninfo = { host: "a,b", passfile: "/run/pgpass" };
 * passwordsFromFile(conninfo, {}, endpoints(conninfo), "db", "u"); // one entry per host
 * ```
 * @param conninfo The keywords (`passfile`).
 * @param env Where `HOME` comes from.
 * @param list The endpoints, each looked up on its own.
 * @param database The database name sent.
 * @param username The user name sent.
 */
export function passwordsFromFile(
  conninfo: Conninfo,
  env: Env,
  list: readonly Endpoint[],
  database: string,
  username: string,
): (string | undefined)[] {
  const none = list.map(() => undefined);
  if (!database || !username) return none;
  const file = conninfo.passfile || homeFile(env, ".pgpass");
  const { stats } = look("passfile", file);
  if (!stats?.isFile() || (stats.mode & 0o077) !== 0) return none;
  let text: string;
  try {
    text = readFileSync(file, "latin1");
  } catch {
    return none;
  }
  // libpq matches bytes; latin1 keeps one character per byte both ways.
  const lines = text.split("\n");
  const utf8 = (value: string) => Buffer.from(value, "utf8").toString("latin1");
  return list.map((endpoint) => {
    const host = passfileHost(endpoint.host || endpoint.hostaddr);
    const wanted = [host, String(endpoint.port), database, username].map(utf8);
    for (const line of lines) {
      const password = matchLine(line, wanted);
      if (password !== undefined) return Buffer.from(password, "latin1").toString("utf8");
    }
    return undefined;
  });
}

/** 'localhost' stands for no host and for the default socket directory, and only those. */
function passfileHost(host: string): string {
  return host === "" || host === DEFAULT_SOCKET_DIR ? "localhost" : host;
}

/** libpq's line match: a comment, or four fields that match, then the password. */
function matchLine(rawLine: string, wanted: readonly string[]): string | undefined {
  if (rawLine.startsWith("#")) return undefined;
  const line = rawLine.replace(/[\r\n]+$/, "");
  if (line.length === 0) return undefined;
  let rest: string | undefined = line;
  for (const token of wanted) {
    rest = matchField(rest, token);
    if (rest === undefined) return undefined;
  }
  // The password ends at the first unescaped ':'; a backslash escapes the next character.
  let password = "";
  for (let i = 0; i < rest.length && rest[i] !== ":"; i++) {
    if (rest[i] === "\\" && i + 1 < rest.length) i++;
    password += rest[i];
  }
  return password;
}

/**
 * libpq's `pwdfMatchesString`: `*` alone matches anything; otherwise the
 * field, with backslash escapes, must equal `token`. Returns what follows
 * the field's ':', or undefined when it does not match.
 */
function matchField(text: string, token: string): string | undefined {
  if (text.startsWith("*:")) return text.slice(2);
  let i = 0;
  let t = 0;
  while (i < text.length) {
    let escaped = false;
    if (text[i] === "\\") {
      i++;
      escaped = true;
    }
    if (i >= text.length) return undefined;
    if (text[i] === ":" && t === token.length && !escaped) return text.slice(i + 1);
    if (t === token.length || text[i] !== token[t]) return undefined;
    i++;
    t++;
  }
  return undefined;
}
