/**
 * Which database: the connection path from start to finish, in one place.
 * Open WebUI's environment gives a URL (`environment.ts`), read as SQLAlchemy
 * reads it (`sqlalchemy.ts`); a SQLite URL becomes a file path here, a
 * PostgreSQL one libpq's keywords (`conninfo.ts`) and each host's password
 * (`passfile.ts`), which the connector (`connector.ts`) later turns into a
 * socket for the driver. Each step only reads what the steps before it made.
 *
 * @module
 */
import { resolve } from "node:path";
import process from "node:process";
import { InviteCodeError } from "../errors.ts";
import { type PostgresTarget, postgresTarget } from "./conninfo.ts";
import { type Env, envSecrets, resolveDatabaseUrl, unmetServerSettings } from "./environment.ts";
import { withPasswords } from "./passfile.ts";
import { parseSqlalchemyUrl, SUPPORTED } from "./sqlalchemy.ts";

/** A SQLite file, as resolved from the environment. */
export interface SqliteTarget {
  dialect: "sqlite";
  /** Absolute path of the file. */
  path: string;
  /** Safe to print. */
  display: string;
  /** Secrets that must never reach any output. */
  secrets: string[];
  /**
   * Set when server settings were given but not all of them: the file is
   * Open WebUI's fallback, and its absence means a misconfiguration.
   */
  unmetServerSettings?: string;
}

/** Where the `"user"` table lives, as resolved from the environment. */
export type DatabaseTarget = PostgresTarget | SqliteTarget;

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
  // SQLAlchemy's make_url keeps trailing whitespace in the URL's last part
  // (its pattern's [^?]* takes a line break), so Open WebUI would look for a
  // database, a SQLite file or a setting with "\n" in its name. Said plainly
  // here, rather than as a server's "does not exist" with the break hidden.
  const trailing = /\s+$/.exec(url)?.[0];
  if (trailing) {
    throw new InviteCodeError(
      "config",
      `the database URL ends with ${
        /[\r\n]/.test(trailing) ? "a line break" : "whitespace"
      }, which SQLAlchemy, and so Open WebUI, keeps as part of its last part (the database ` +
        `name, file or last setting): remove it (a secret or file written with a newline?)`,
    );
  }
  // Case-sensitive, as SQLAlchemy's dialect names are: Open WebUI cannot use POSTGRESQL://.
  const scheme = /^([A-Za-z][A-Za-z0-9+.-]{0,40}):\/\//.exec(url)?.[1];
  if (!scheme) throw new InviteCodeError("config", `database URL is not a URL (${SUPPORTED})`);
  if (scheme === "sqlite") return sqliteTarget(url);
  if (scheme === "postgres" || scheme === "postgresql" || /^postgresql\+\w+$/.test(scheme)) {
    return withPasswords(postgresTarget(parseSqlalchemyUrl(url), env, envSecrets(env)), env);
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
  const target = parseDatabaseUrl(resolveDatabaseUrl(env), env);
  const unmet = unmetServerSettings(env);
  return target.dialect === "sqlite" && unmet ? { ...target, unmetServerSettings: unmet } : target;
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
