/**
 * Opening a SQLCipher 4 file, Open WebUI's `sqlite+sqlcipher://`: the only
 * part of the SQLite dialect that differs for an encrypted database. The
 * library (better-sqlite3-multiple-ciphers, a dependency with its
 * prebuilt binaries inside its npm tarball) is loaded only here, so a plain
 * file never loads it and an install without it still repairs plain files.
 *
 * @module
 */
import { existsSync } from "node:fs";
import { dirname, join } from "node:path";
import process from "node:process";
import { fileURLToPath } from "node:url";
import { InviteCodeError, SQLITE } from "../errors.ts";
import { LOG } from "../messages.ts";
import { resultCode, type SqliteOpener, type SqliteStatement } from "./sqlite.ts";

/** The npm package that reads and writes SQLCipher files. */
export const CIPHER_LIBRARY = "better-sqlite3-multiple-ciphers";

/** What the tool uses of the library's `Database`. */
interface CipherDatabase {
  exec(sql: string): unknown;
  prepare(sql: string): SqliteStatement;
  function(
    name: string,
    options: { deterministic: boolean; directOnly: boolean },
    fn: () => string,
  ): unknown;
  close(): unknown;
  readonly open: boolean;
  readonly inTransaction: boolean;
}

type CipherDatabaseClass = new (
  path: string,
  options: { readonly: boolean; fileMustExist: boolean; timeout: number; nativeBinding?: string },
) => CipherDatabase;

/**
 * The library's class, loaded on first use; a missing package is one line
 * naming it, not a module-resolution stack.
 */
async function loadLibrary(): Promise<CipherDatabaseClass> {
  try {
    // Its package.json "exports" hides its types; CipherDatabase says what is used.
    const specifier: string = CIPHER_LIBRARY;
    const library = await import(specifier) as { default: CipherDatabaseClass };
    return library.default;
  } catch (error) {
    // Node and Deno both give this code for a package that is not installed.
    if ((error as { code?: unknown })?.code === "ERR_MODULE_NOT_FOUND") {
      throw new InviteCodeError("runtime", LOG.cipherLibraryMissing(CIPHER_LIBRARY), {
        cause: error,
      });
    }
    throw error;
  }
}

/**
 * The prebuilt binary for this platform, named to the library, which then
 * skips its own search: that search reads `process.report`, which on Deno
 * needs --allow-sys. Undefined when the package holds none (a binary built
 * from source), and the library looks for itself.
 */
function prebuiltBinary(): string | undefined {
  const lib = dirname(fileURLToPath(import.meta.resolve(CIPHER_LIBRARY)));
  const machine = process.arch === "x64" ? "x86_64" : process.arch === "arm64" ? "aarch64" : "";
  const musl = process.platform === "linux" && existsSync(`/lib/ld-musl-${machine}.so.1`);
  const binary = join(
    lib,
    "..",
    "prebuilds",
    `${musl ? "linuxmusl" : process.platform}-${process.arch}.node`,
  );
  return existsSync(binary) ? binary : undefined;
}

/** A passphrase as an SQL string literal. */
function quoted(passphrase: string): string {
  return `'${passphrase.replaceAll("'", "''")}'`;
}

/**
 * An opener for SQLCipher 4 files with `passphrase`: Open WebUI's
 * sqlcipher3 runs `PRAGMA key` and nothing else, so SQLCipher 4's defaults
 * (PBKDF2-HMAC-SHA512 with 256,000 iterations, HMAC-SHA512, 4 KiB pages)
 * hold; the library is told to use them (`cipher`, `legacy = 4`) before the
 * key. A passphrase SQLCipher refuses is one line that never shows it.
 *
 * @example
 * ```ts
 * const open = await sqlcipherOpener("correct horse");
 * const connection = open("/app/backend/data/webui.db", { readOnly: true, busyTimeoutMs: 5000 });
 * ```
 * @param passphrase `DATABASE_PASSWORD`, used as a passphrase (not a raw key).
 */
export async function sqlcipherOpener(passphrase: string): Promise<SqliteOpener> {
  const Database = await loadLibrary();
  const nativeBinding = prebuiltBinary();
  return (path, { readOnly, busyTimeoutMs }) => {
    const db = new Database(path, {
      readonly: readOnly,
      fileMustExist: true,
      timeout: busyTimeoutMs,
      ...(nativeBinding ? { nativeBinding } : {}),
    });
    try {
      db.exec("PRAGMA cipher = 'sqlcipher'");
      db.exec("PRAGMA legacy = 4");
      db.exec(`PRAGMA key = ${quoted(passphrase)}`);
      // The key is only tried on the first read: a wrong one fails here,
      // before anything could be written.
      db.prepare("SELECT count(*) FROM sqlite_schema").get();
    } catch (error) {
      db.close();
      if (resultCode(error) === SQLITE.NOTADB) {
        throw new InviteCodeError("config", LOG.cipherRejected, { cause: error });
      }
      throw error;
    }
    return {
      exec: (sql) => db.exec(sql),
      prepare: (sql) => db.prepare(sql),
      function: (name, options, fn) => db.function(name, options, fn),
      close: () => db.close(),
      get isOpen() {
        return db.open;
      },
      get isTransaction() {
        return db.inTransaction;
      },
    };
  };
}
