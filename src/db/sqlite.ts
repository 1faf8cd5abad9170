/**
 * SQLite dialect, on the `node:sqlite` module built into Node and Deno, or
 * for an encrypted file on the connection `sqlcipher.ts` opens: only the
 * opening differs. The write lock is an immediate transaction with a busy
 * timeout; each chunk is a few set-based statements, so the work stays in C.
 *
 * @module
 */
import { closeSync, openSync, statSync, unlinkSync } from "node:fs";
import { dirname, join } from "node:path";
import process from "node:process";
import {
  absence,
  type AssignResult,
  type Candidates,
  candidatesFor,
  COLUMN,
  type Counts,
  type Cursor,
  type Database,
  type OpenOptions,
  remainingMs,
  type RepairTransaction,
  type Schema,
  type SchemaFacts,
  TABLE,
  type UserTable,
  WHITESPACE_CODE_POINTS,
} from "./dialect.ts";
import type { SqliteTarget } from "../connect/target.ts";
import { errorMessage, InviteCodeError, SQLITE } from "../errors.ts";
import { definesSqlFunctions, importSqlite } from "../runtime.ts";

const DatabaseSyncClass = await importSqlite();

/** A value bound to a statement. */
export type SqliteValue = string | number | bigint | null;

/** What the dialect uses of a prepared statement. */
export interface SqliteStatement {
  get(...params: SqliteValue[]): unknown;
  all(...params: SqliteValue[]): unknown[];
  run(...params: SqliteValue[]): { changes: number | bigint };
}

/**
 * What the dialect uses of a connection: `node:sqlite`'s `DatabaseSync` as
 * it is, or the SQLCipher library's adapted to it.
 */
export interface SqliteConnection {
  exec(sql: string): unknown;
  prepare(sql: string): SqliteStatement;
  /** Absent on Denos whose `node:sqlite` cannot define SQL functions. */
  function?(
    name: string,
    options: { deterministic: boolean; directOnly: boolean },
    fn: () => string,
  ): unknown;
  close(): unknown;
  readonly isOpen: boolean;
  readonly isTransaction: boolean;
}

/** Opens an existing file: the one step an encrypted database does differently. */
export type SqliteOpener = (
  path: string,
  options: { readOnly: boolean; busyTimeoutMs: number },
) => SqliteConnection;

/** A plain file, on `node:sqlite`. */
const openPlain: SqliteOpener = (path, { readOnly }) => {
  try {
    // The path is absolute, so SQLite never reads it as a "file:" URI.
    return new DatabaseSyncClass(path, { readOnly });
  } catch (error) {
    // Opening is all the constructor does, and Deno's gives no result code for it.
    throw translateError(error, SQLITE.CANTOPEN);
  }
};

/** Page cache of the repair's connection, in KiB. */
const REPAIR_CACHE_KIB = 32768;
const TBL = `"${TABLE}"`;
const COL = `"${COLUMN}"`;
// As in postgres.ts: a blank value starts with whitespace, or is empty
// (unicode('') is NULL), so most rows are decided by their first character.
const MISSING = `(${COL} IS NULL OR (coalesce(unicode(${COL}), 0) IN (0, ${
  WHITESPACE_CODE_POINTS.join(", ")
}) AND trim(${COL}, char(${WHITESPACE_CODE_POINTS.join(", ")})) = ''))`;

/**
 * The table as the file holds it. `binaryIndex`: an index leads with the
 * column in BINARY order on a UTF-8 file, so blank codes sit at its two ends.
 */
interface OpenTable {
  handle: SqliteConnection;
  binaryIndex: boolean;
  withoutRowid: boolean;
}

/** What a look at the file found: why there is nothing to work on, or the table. */
type Found =
  | { facts: SchemaFacts; absence: string; open?: undefined }
  | { facts: SchemaFacts; absence: null; open: OpenTable };

/**
 * Open a SQLite file; a file that does not exist is reported, never created.
 *
 * @example
 * ```ts
 * import type { SqliteTarget } from "../connect/target.ts";
 * import { Deadline } from "../deadline.ts";
 * declare const target: SqliteTarget; // as resolveTarget() returns it
 * const db = openSqlite(target, { deadline: () => Deadline.after(5000) });
 * const schema = await db.schema();
 * ```
 * @param target The resolved target (an absolute path).
 * @param options Deadline and read-only mode.
 * @param open How the file is opened: `node:sqlite` unless it is encrypted.
 */
export function openSqlite(
  target: SqliteTarget,
  options: OpenOptions,
  open: SqliteOpener = openPlain,
): Database {
  let db: SqliteConnection | undefined;

  /** The open handle; undefined while the file does not exist. */
  function connection(): SqliteConnection | undefined {
    if (!db) {
      if (!isUsableFile(target)) return undefined;
      // The path is absolute, so SQLite never reads it as a "file:" URI.
      db = run(() =>
        open(target.path, {
          readOnly: options.readOnly ?? false,
          busyTimeoutMs: remainingMs(options.deadline),
        })
      );
    }
    db?.exec(`PRAGMA busy_timeout = ${remainingMs(options.deadline)}`);
    return db;
  }

  /** What the file holds: why the repair has nothing to work on, or the table to open. */
  function facts(): Found {
    const base: SchemaFacts & { columnExists: false } = {
      dialect: "sqlite",
      schema: "main",
      table: TABLE,
      column: COLUMN,
      databaseExists: false,
      tableExists: false,
      columnExists: false,
      columnType: null,
      maxLength: null,
      unique: false,
      indexed: false,
    };
    const absent = (found: SchemaFacts & { columnExists: false }): Found => ({
      facts: found,
      absence: absence(found, target.path),
    });
    const handle = connection();
    if (!handle) return absent(base);
    return run(() => {
      const table = handle.prepare(
        "SELECT wr FROM pragma_table_list WHERE schema = 'main' AND type = 'table' AND name = ?",
      ).get(TABLE) as { wr: number } | undefined;
      if (!table) return absent({ ...base, databaseExists: true });
      const column = handle.prepare(
        `SELECT type FROM pragma_table_info(?) WHERE name = ?`,
      ).get(TABLE, COLUMN) as { type: string } | undefined;
      if (!column) return absent({ ...base, databaseExists: true, tableExists: true });
      if (!holdsText(column.type)) {
        // A code of digits alone ("234567") would be stored as a number there.
        throw new InviteCodeError(
          "schema",
          `column ${COLUMN} of "${TABLE}" is ${column.type}, not text: invite codes are text ` +
            `(varchar(8) in the invite system's migration); change the column's type`,
        );
      }
      const indexes = handle.prepare(
        `SELECT il."unique" AS is_unique,
           (SELECT count(*) FROM pragma_index_info(il.name)) AS columns,
           (SELECT name FROM pragma_index_info(il.name) WHERE seqno = 0) AS first,
           (SELECT coll FROM pragma_index_xinfo(il.name) WHERE seqno = 0) AS coll
         FROM pragma_index_list(?) il WHERE il.partial = 0`,
      ).all(TABLE) as { is_unique: number; columns: number; first: string; coll: string }[];
      const leading = indexes.filter((i) => i.first === COLUMN);
      const { encoding } = handle.prepare("PRAGMA encoding").get() as { encoding: string };
      const length = /\(\s*(\d+)\s*\)/.exec(column.type)?.[1];
      return {
        absence: null,
        open: {
          handle,
          withoutRowid: table.wr === 1,
          binaryIndex: encoding === "UTF-8" && leading.some((i) => i.coll === "BINARY"),
        },
        facts: {
          ...base,
          databaseExists: true,
          tableExists: true,
          columnExists: true,
          columnType: column.type || null,
          maxLength: length ? Number(length) : null,
          unique: leading.some((i) => i.is_unique === 1 && i.columns === 1),
          indexed: leading.length > 0,
        },
      };
    });
  }

  return {
    dialect: "sqlite",

    schema(): Promise<Schema> {
      return explained(target.path, () =>
        promised(() => {
          const found = facts();
          if (found.absence !== null) return { facts: found.facts, absence: found.absence };
          const { handle, binaryIndex } = found.open;
          return {
            facts: found.facts,
            absence: null,
            table: userTable(found.open, found.facts, target.path),
            counts: countsOf(handle, binaryIndex),
          };
        }));
    },

    close(): Promise<void> {
      if (db?.isOpen) db.close();
      db = undefined;
      return Promise.resolve();
    },
  };
}

const COUNTS_BY_SCAN = `SELECT count(*) AS total, coalesce(sum(${MISSING}), 0) AS missing
  FROM ${TBL}`;
// A blank code is empty or starts with whitespace: a byte below "!", or a
// character past ASCII. In an index in BINARY order on UTF-8 text those are
// two ranges at its ends, beside the NULLs, so three range reads replace
// reading every code (a million users: 12 ms against 415 ms, every start).
const COUNTS_BY_INDEX = `SELECT (SELECT count(*) FROM ${TBL}) AS total,
  (SELECT count(*) FROM ${TBL} WHERE ${COL} IS NULL)
  + (SELECT count(*) FROM ${TBL} WHERE ${COL} COLLATE BINARY < '!' AND ${MISSING})
  + (SELECT count(*) FROM ${TBL} WHERE ${COL} COLLATE BINARY >= CAST(X'80' AS TEXT) AND ${MISSING})
  AS missing`;

function countsOf(db: SqliteConnection, binaryIndex: boolean): Counts {
  return run(() =>
    db.prepare(binaryIndex ? COUNTS_BY_INDEX : COUNTS_BY_SCAN).get() as unknown as Counts
  );
}

function userTable(
  { handle: db, binaryIndex, withoutRowid }: OpenTable,
  facts: SchemaFacts,
  path: string,
): UserTable {
  const table: UserTable = {
    duplicates: () =>
      promised(() => {
        if (facts.unique) return { users: 0, codes: 0 };
        const row = db.prepare(
          `SELECT coalesce(sum(n), 0) AS users, count(*) AS codes FROM (
             SELECT count(*) AS n FROM ${TBL} WHERE NOT ${MISSING}
             GROUP BY ${COL} HAVING count(*) > 1)`,
        ).get() as { users: number; codes: number };
        return { users: row.users, codes: row.codes };
      }),

    async transaction<T>(work: (tx: RepairTransaction) => Promise<T>): Promise<T> {
      // The repair walks and updates rows by rowid. Open WebUI's tables have
      // one; a table made WITHOUT ROWID by hand would fail on "no such column".
      if (withoutRowid) {
        throw new InviteCodeError(
          "database",
          `the "${TABLE}" table was created WITHOUT ROWID, which the repair cannot walk`,
        );
      }
      // Codes are random keys: with SQLite's default 2 MiB page cache, most
      // inserts into the unique index miss it. 32 MiB holds the index of a
      // million codes: 1M users in 6-7 s and 133-143 MiB peak on Node,
      // against 10 s with 2 MiB, and no faster with 64 MiB (bench/README.md).
      run(() => db.exec(`PRAGMA cache_size = -${REPAIR_CACHE_KIB}`));
      // Prepared, not exec(): Deno's node:sqlite gives a result code (busy,
      // read-only) only for a statement's errors.
      run(() => db.prepare("BEGIN IMMEDIATE").run());
      try {
        const assigner = run(() => prepareAssign(db, facts));
        const result = await work({
          countMissing: () => promised(() => countsOf(db, binaryIndex).missing),
          clearDuplicates: () =>
            promised(() =>
              Number(
                db.prepare(
                  `UPDATE ${TBL} SET ${COL} = NULL WHERE rowid IN (
                     SELECT k FROM (SELECT rowid AS k, row_number() OVER (
                       PARTITION BY ${COL} ORDER BY created_at, rowid) AS r
                     FROM ${TBL} WHERE NOT ${MISSING}) WHERE r > 1)`,
                ).run().changes,
              )
            ),
          assign: (cursor, limit, codes) => promised(() => assigner(cursor, limit, codes)),
        });
        run(() => db.prepare("COMMIT").run());
        return result;
      } catch (error) {
        if (db.isTransaction) db.exec("ROLLBACK");
        throw error;
      }
    },

    // Writers are serialized by the immediate transaction: no other writer
    // can hold an uncommitted code while the repair picks its codes.
    releaseSharedCodes: () => Promise.resolve(0),

    analyze: () => promised(() => void db.exec("PRAGMA optimize")),
    // A file has no standbys, and its writers wait on the busy timeout.
    pressure: () => Promise.resolve({ replicationLagSeconds: 0, activeSessions: 0 }),
  };
  return {
    ...table,
    transaction: (work) => explained(path, () => table.transaction(work)),
    analyze: () => explained(path, () => table.analyze()),
  };
}

/**
 * Run `work`; SQLite's errors about the file itself come out naming it, and
 * saying which it is: not a database, or a file or folder this user may not write.
 */
async function explained<T>(path: string, work: () => Promise<T>): Promise<T> {
  try {
    return await work();
  } catch (error) {
    throw explainFileError(error, path);
  }
}

function explainFileError(error: unknown, path: string): unknown {
  const code = primary(resultCode(error));
  const message = errorMessage(error instanceof InviteCodeError ? error.cause ?? error : error);
  const options = {
    cause: error instanceof InviteCodeError ? error.cause : error,
    code: resultName(code),
  };
  if (code === SQLITE.NOTADB) {
    return new InviteCodeError(
      "config",
      `${path} is not a SQLite database, or is encrypted (${message})`,
      options,
    );
  }
  if (code === SQLITE.READONLY) {
    // SQLite says "readonly database" also when it may not create its journal beside the file.
    const folder = dirname(path);
    const denied = !writableFile(path)
      ? `${path} is not writable by this user`
      : !writableFolder(folder)
      ? `the folder ${folder} is not writable by this user, and SQLite writes its journal there`
      : null;
    if (denied) return new InviteCodeError("permission", `${denied} (${message})`, options);
  }
  if (code === SQLITE.CANTOPEN) {
    return new InviteCodeError("connect", `cannot open ${path}: ${message}`, options);
  }
  return error;
}

// Tried, not computed from mode bits: access() needs --allow-sys on Deno,
// and only the kernel knows about ACLs and read-only mounts.
function writableFile(path: string): boolean {
  try {
    closeSync(openSync(path, "r+"));
    return true;
  } catch {
    return false;
  }
}

/** Whether a file can be made in `folder`, as SQLite makes its journal: one is made and removed. */
function writableFolder(folder: string): boolean {
  const probe = join(folder, `.invite-code-repair-${process.pid}.tmp`);
  try {
    closeSync(openSync(probe, "wx"));
  } catch {
    return false;
  }
  unlinkSync(probe);
  return true;
}

/**
 * Whether the target is a file SQLite may open (true), or not there yet
 * (false: Open WebUI creates it on its first start). Throws, naming the path,
 * where no database the operator could mean can be: a folder that does not
 * exist, a path that is a directory, a FIFO or a device, or the SQLite
 * fallback of server settings given in part.
 */
function isUsableFile(target: SqliteTarget): boolean {
  const path = target.path;
  const found = statSync(path, { throwIfNoEntry: false });
  if (found?.isFile()) return true;
  if (found?.isDirectory()) {
    throw new InviteCodeError("config", `${path} is a directory, not a SQLite database file`);
  }
  if (found) {
    throw new InviteCodeError(
      "config",
      `${path} is not a regular file (a FIFO, socket or device), so not a SQLite database`,
    );
  }
  // Only existence counts here; a path SQLite cannot read is its own error later.
  const folder = dirname(path);
  if (!statSync(folder, { throwIfNoEntry: false })?.isDirectory()) {
    throw new InviteCodeError(
      "config",
      `the folder of the SQLite database ${path} does not exist, so this is no database the ` +
        `app uses: check DATABASE_URL (or DATA_DIR)`,
    );
  }
  if (target.unmetServerSettings) {
    throw new InviteCodeError(
      "config",
      `${target.unmetServerSettings}, here ${path}, which does not exist: set the missing ` +
        `variables, or DATABASE_URL`,
    );
  }
  return false;
}

/**
 * Whether a column of this declared type keeps text as text: SQLite's
 * affinity rules, in their order (INT first; then CHAR, CLOB, TEXT; then
 * BLOB or no type, which keeps values as given).
 */
function holdsText(declared: string): boolean {
  const type = declared.toUpperCase();
  if (type.includes("INT")) return false;
  if (/CHAR|CLOB|TEXT/.test(type)) return true;
  return type === "" || type.includes("BLOB");
}

/** Run synchronous SQLite work, translating its errors. */
function run<T>(work: () => T): T {
  try {
    return work();
  } catch (error) {
    throw translateError(error);
  }
}

/** Synchronous work as a promise, so both dialects share one interface. */
function promised<T>(work: () => T): Promise<T> {
  try {
    return Promise.resolve(run(work));
  } catch (error) {
    return Promise.reject(error);
  }
}

/** Gives one chunk its codes; see `RepairTransaction.assign`. */
type Assigner = (cursor: Cursor | null, limit: number, candidates: Candidates) => AssignResult;

/**
 * The smallest rowid. A walk from no cursor takes rows from it on (`>=`),
 * and from a cursor the rows after it (`>`): rowids may be negative or zero
 * (an INTEGER PRIMARY KEY is the rowid), and may be this very value.
 */
const FIRST_ROWID = -9223372036854775808n;

/** A walk's statement prepared for both comparisons `after()` may ask for. */
function prepareWalk(db: SqliteConnection, sql: (op: string) => string) {
  return { ">=": db.prepare(sql(">=")), ">": db.prepare(sql(">")) };
}

/** The statement text for "rows after the cursor", and the value to bind, for either kind of walk. */
function after(cursor: Cursor | null): { op: ">=" | ">"; from: Cursor } {
  return cursor === null ? { op: ">=", from: FIRST_ROWID } : { op: ">", from: cursor };
}
/** Hands out candidate codes, one per row, inside the UPDATE. */
const CANDIDATE = "invite_code_candidate";
/** Candidates drawn at a time inside the UPDATE: few enough to die young in the JS heap. */
const CANDIDATE_BATCH = 1024;

/** The chunk assigner for one repair transaction. */
function prepareAssign(db: SqliteConnection, facts: SchemaFacts): Assigner {
  return facts.unique && definesSqlFunctions(db)
    ? assignUnderUniqueIndex(db)
    : assignWithLookups(db, facts.indexed);
}

/**
 * With a unique index, SQLite itself refuses a code some row holds: UPDATE
 * OR IGNORE leaves that row missing for the next pass, so no candidate is
 * looked up. A chunk is the range of rowids holding the next `limit` missing
 * rows, updated in one pass that takes each code from a function drawing
 * candidates a batch at a time: no row and no code is copied into a table or
 * a JSON text, and no chunk's worth of codes lives long enough in the JS
 * heap to be kept (bench/README.md).
 */
function assignUnderUniqueIndex(
  db: SqliteConnection & Required<Pick<SqliteConnection, "function">>,
): Assigner {
  let candidates: Candidates | undefined;
  let batch: string[] = [];
  let next = 0;
  let used = 0;
  // directOnly: no trigger or view in the file can call it.
  db.function(CANDIDATE, { deterministic: false, directOnly: true }, () => {
    // A programming error, not a failure of the database: only the UPDATE
    // below calls it, and only while it runs (described as "internal").
    if (!candidates) throw new Error(`${CANDIDATE}() is only for the repair's own UPDATE`);
    if (next === batch.length) {
      batch = candidates.draw(CANDIDATE_BATCH);
      next = 0;
    }
    used++;
    return batch[next++];
  });
  const range = prepareWalk(db, (op) =>
    `SELECT max(k) AS last, count(*) AS found FROM (
       SELECT rowid AS k FROM ${TBL} WHERE rowid ${op} ? AND ${MISSING} ORDER BY rowid LIMIT ?)`);
  const update = prepareWalk(db, (op) =>
    `UPDATE OR IGNORE ${TBL} SET ${COL} = ${CANDIDATE}()
     WHERE rowid ${op} ? AND rowid <= ? AND ${MISSING}`);
  const first = prepareWalk(
    db,
    (op) =>
      `SELECT rowid AS k FROM ${TBL} WHERE rowid ${op} ? AND ${MISSING} ORDER BY rowid LIMIT 1`,
  );
  const single = db.prepare(`UPDATE ${TBL} SET ${COL} = ? WHERE rowid = ? AND ${MISSING}`);
  /**
   * OR IGNORE passes over a CHECK or NOT NULL failure as it does over a
   * code some row holds: when a chunk gave nobody a code, one row without it
   * says which, so a constraint is named rather than taken for crowded codes.
   */
  const whyNone = (op: ">=" | ">", from: Cursor, offered: Candidates): number => {
    const row = first[op].get(from) as { k: number } | undefined;
    if (!row) return 0;
    db.exec("SAVEPOINT invite_code_single");
    try {
      const changed = Number(single.run(offered.draw(1)[0], row.k).changes);
      db.exec("RELEASE invite_code_single");
      return changed;
    } catch (error) {
      db.exec("ROLLBACK TO invite_code_single; RELEASE invite_code_single");
      const code = resultCode(error);
      if (takenElsewhere(code)) return 0;
      throw new InviteCodeError(
        "schema",
        `the database refuses the codes the repair gives: ${errorMessage(error)}`,
        { cause: error, code: resultName(code) },
      );
    }
  };
  return (cursor, limit, offered) => {
    const { op, from } = after(cursor);
    const { last, found } = range[op].get(from, limit) as { last: number | null; found: number };
    if (last === null) return { assigned: 0, targets: 0, drawn: 0, rejected: 0, cursor };
    candidates = offered;
    used = 0;
    try {
      let assigned = Number(update[op].run(from, last).changes);
      if (assigned === 0) assigned = whyNone(op, from, offered);
      // A refused code shows as a row left unassigned.
      return { assigned, targets: found, drawn: used, rejected: used - assigned, cursor: last };
    } finally {
      candidates = undefined;
      batch = [];
      next = 0;
    }
  };
}

/**
 * Without a unique index (or without SQL functions, on older Denos) a code
 * is looked up before it is given: the next missing rows in rowid order and
 * the candidate codes no row holds are numbered into two temporary tables,
 * then one UPDATE joins them by number. Without any index on the column a
 * lookup per code would scan the table, so the codes in use are copied once
 * into an indexed temporary table and kept current as codes are handed out.
 */
function assignWithLookups(db: SqliteConnection, indexed: boolean): Assigner {
  db.exec(`CREATE TEMP TABLE IF NOT EXISTS invite_targets (n INTEGER PRIMARY KEY, k INTEGER)`);
  db.exec(`CREATE TEMP TABLE IF NOT EXISTS invite_free (n INTEGER PRIMARY KEY, code TEXT)`);
  let inUse = `SELECT 1 FROM ${TBL} x WHERE x.${COL} = c.value`;
  if (!indexed) {
    db.exec(`CREATE TEMP TABLE IF NOT EXISTS invite_codes_taken (code TEXT PRIMARY KEY)`);
    db.exec(`DELETE FROM temp.invite_codes_taken`);
    db.exec(
      `INSERT OR IGNORE INTO temp.invite_codes_taken
       SELECT ${COL} FROM ${TBL} WHERE ${COL} IS NOT NULL`,
    );
    inUse = `SELECT 1 FROM temp.invite_codes_taken t WHERE t.code = c.value`;
  }
  const clear = () => db.exec(`DELETE FROM temp.invite_targets; DELETE FROM temp.invite_free`);
  const targets = prepareWalk(db, (op) =>
    `INSERT INTO temp.invite_targets (n, k)
     SELECT row_number() OVER (ORDER BY rowid), rowid FROM (
       SELECT rowid FROM ${TBL} WHERE rowid ${op} ? AND ${MISSING} ORDER BY rowid LIMIT ?)`);
  const free = db.prepare(
    `INSERT INTO temp.invite_free (n, code)
     SELECT row_number() OVER (ORDER BY c.key), c.value FROM json_each(?) c
     WHERE NOT EXISTS (${inUse})`,
  );
  const update = db.prepare(
    `UPDATE ${TBL} SET ${COL} = f.code
     FROM temp.invite_targets t JOIN temp.invite_free f ON f.n = t.n
     WHERE ${TBL}.rowid = t.k AND ${MISSING}`,
  );
  const remember = indexed ? undefined : db.prepare(
    `INSERT OR IGNORE INTO temp.invite_codes_taken
     SELECT f.code FROM temp.invite_free f JOIN temp.invite_targets t ON t.n = f.n`,
  );
  const last = db.prepare(`SELECT k FROM temp.invite_targets WHERE n = ?`);

  return (cursor, limit, candidates) => {
    const codes = candidates.draw(candidatesFor(limit));
    clear();
    const { op, from } = after(cursor);
    const found = Number(targets[op].run(from, limit).changes);
    const accepted = Number(free.run(JSON.stringify(codes)).changes);
    const count = Math.min(found, accepted);
    const assigned = count === 0 ? 0 : Number(update.run().changes);
    if (count > 0) remember?.run();
    const row = count > 0 ? last.get(count) as { k: number } : undefined;
    return {
      assigned,
      targets: found,
      drawn: codes.length,
      rejected: codes.length - accepted,
      cursor: row ? row.k : cursor,
    };
  };
}

/** A result code's name in the table (`SQLITE.BUSY`), without its prefix. */
type ResultName = keyof typeof SQLITE;

function isResultName(name: string): name is ResultName {
  return Object.hasOwn(SQLITE, name);
}

/**
 * A SQLite error's result code, from either driver: `node:sqlite` gives the
 * extended code as a number (`errcode`), the SQLCipher library and a
 * translated error its name (`code`, "SQLITE_CONSTRAINT_UNIQUE"). An
 * extended name the table lacks ("SQLITE_BUSY_SNAPSHOT") gives its primary
 * code. Undefined when the error carries none.
 *
 * @param error Whatever a driver threw.
 */
export function resultCode(error: unknown): number | undefined {
  const { errcode, code } = (error ?? {}) as { errcode?: unknown; code?: unknown };
  if (typeof errcode === "number") return errcode;
  if (typeof code !== "string" || !code.startsWith("SQLITE_")) return undefined;
  const name = code.slice("SQLITE_".length);
  const primaryName = name.split("_")[0];
  return isResultName(name)
    ? SQLITE[name]
    : isResultName(primaryName)
    ? SQLITE[primaryName]
    : undefined;
}

/** The primary result code of an extended one: its low byte. */
function primary(code: number | undefined): number | undefined {
  return code === undefined ? undefined : code & 0xff;
}

/** The name an `InviteCodeError` carries for `code`: its own, else its primary code's. */
function resultName(code: number | undefined): string | undefined {
  const names = Object.keys(SQLITE).filter(isResultName);
  const name = names.find((n) => SQLITE[n] === code) ??
    names.find((n) => SQLITE[n] === primary(code));
  return name === undefined ? undefined : `SQLITE_${name}`;
}

/**
 * Whether a write was refused because another row holds the value: SQLite
 * says "UNIQUE constraint failed" for a unique index and a primary key alike.
 */
function takenElsewhere(code: number | undefined): boolean {
  return code === SQLITE.CONSTRAINT_UNIQUE || code === SQLITE.CONSTRAINT_PRIMARYKEY;
}

/**
 * Map a SQLite error (either driver's) to an `InviteCodeError` with one line
 * and the result code's name.
 *
 * @param error What the driver threw.
 * @param fallback The code to take when the driver gave none.
 */
function translateError(error: unknown, fallback?: number): InviteCodeError {
  if (error instanceof InviteCodeError) return error;
  const message = errorMessage(error);
  const code = resultCode(error) ?? fallback;
  const options = { cause: error, code: resultName(code) };
  if (takenElsewhere(code)) return new InviteCodeError("conflict", message, options);
  switch (primary(code)) {
    case SQLITE.BUSY:
    case SQLITE.LOCKED:
      return new InviteCodeError("lock", `database is locked: ${message}`, options);
    case SQLITE.READONLY:
      return new InviteCodeError("permission", message, options);
    case SQLITE.CANTOPEN:
      return new InviteCodeError("connect", message, options);
  }
  return new InviteCodeError("database", message, options);
}
