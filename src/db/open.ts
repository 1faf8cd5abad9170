/**
 * Open the dialect for a target; each dialect's driver is loaded only when
 * used, so a SQLite start never loads postgres.js and the other way round.
 *
 * @module
 */
import type { DatabaseTarget } from "../connect/target.ts";
import type { Database, OpenOptions } from "./dialect.ts";

/**
 * Open `target`; no connection is made until the first query.
 *
 * @example
 * ```ts
 * import { resolveTarget } from "../connect/target.ts";
 * import { Deadline } from "../deadline.ts";
 * const target = resolveTarget({ DATABASE_URL: "sqlite:///data/webui.db" });
 * const db = await openDatabase(target, { deadline: () => Deadline.after(5000) });
 * ```
 * @param target Where the database is.
 * @param options Deadline, read-only mode and where notes go.
 */
export async function openDatabase(
  target: DatabaseTarget,
  options: OpenOptions,
): Promise<Database> {
  if (target.dialect === "postgres") {
    const { openPostgres } = await import("./postgres.ts");
    return openPostgres(target, options);
  }
  const { openSqlite } = await import("./sqlite.ts");
  if (target.cipher) {
    // Only an encrypted file loads the SQLCipher library.
    const { sqlcipherOpener } = await import("./sqlcipher.ts");
    return openSqlite(target, options, await sqlcipherOpener(target.cipher.passphrase));
  }
  return openSqlite(target, options);
}
