/**
 * SQLite dialect, on the `node:sqlite` module built into Node and Deno. Calls
 * are in-process, so a prepared statement per row costs no round trip; the
 * write lock is an immediate transaction with a busy timeout.
 */
import { existsSync } from "node:fs";
import process from "node:process";
import type { DatabaseSync as DatabaseSyncType, StatementSync } from "node:sqlite";
import {
  COLUMN,
  type Counts,
  type Cursor,
  type Database,
  type DatabaseTarget,
  InviteCodeError,
  type OpenOptions,
  remainingMs,
  type RepairTransaction,
  requireColumn,
  type SchemaFacts,
  TABLE,
  WHITESPACE_CODE_POINTS,
} from "./dialect.ts";

const DatabaseSync = await importQuietly();

/** Node 24 warns on every start that node:sqlite is experimental; operators need not see it. */
async function importQuietly(): Promise<typeof DatabaseSyncType> {
  const emitWarning = process.emitWarning;
  process.emitWarning = ((warning: string | Error, ...rest: unknown[]) => {
    if (String(warning).includes("SQLite is an experimental feature")) return;
    (emitWarning as (...args: unknown[]) => void).call(process, warning, ...rest);
  }) as typeof process.emitWarning;
  try {
    return (await import("node:sqlite")).DatabaseSync;
  } finally {
    process.emitWarning = emitWarning;
  }
}

type SqliteTarget = Extract<DatabaseTarget, { dialect: "sqlite" }>;

const TBL = `"${TABLE}"`;
const COL = `"${COLUMN}"`;
const MISSING = `(${COL} IS NULL OR trim(${COL}, char(${WHITESPACE_CODE_POINTS.join(", ")})) = '')`;

/** Open a SQLite file; a file that does not exist is reported, never created. */
export function openSqlite(target: SqliteTarget, options: OpenOptions): Database {
  let db: DatabaseSyncType | undefined;

  /** The open handle; undefined while the file does not exist. */
  function connection(): DatabaseSyncType | undefined {
    if (!db && existsSync(target.path)) {
      db = run(() => new DatabaseSync(target.path, { readOnly: options.readOnly ?? false }));
    }
    db?.exec(`PRAGMA busy_timeout = ${remainingMs(options.deadline)}`);
    return db;
  }

  function open(): DatabaseSyncType {
    const handle = connection();
    if (!handle) throw new InviteCodeError("schema", `database file ${target.path} does not exist`);
    return handle;
  }

  function facts(): SchemaFacts {
    const base: SchemaFacts = {
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
    const db = connection();
    if (!db) return base;
    return run(() => {
      const table = db.prepare(
        "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?",
      ).get(TABLE);
      if (!table) return { ...base, databaseExists: true };
      const column = db.prepare(
        `SELECT type FROM pragma_table_info(?) WHERE name = ?`,
      ).get(TABLE, COLUMN) as { type: string } | undefined;
      if (!column) return { ...base, databaseExists: true, tableExists: true };
      const indexes = db.prepare(
        `SELECT il."unique" AS is_unique,
           (SELECT count(*) FROM pragma_index_info(il.name)) AS columns,
           (SELECT name FROM pragma_index_info(il.name) WHERE seqno = 0) AS first
         FROM pragma_index_list(?) il WHERE il.partial = 0`,
      ).all(TABLE) as { is_unique: number; columns: number; first: string }[];
      const leading = indexes.filter((i) => i.first === COLUMN);
      const length = /\(\s*(\d+)\s*\)/.exec(column.type)?.[1];
      return {
        ...base,
        databaseExists: true,
        tableExists: true,
        columnExists: true,
        columnType: column.type || null,
        maxLength: length ? Number(length) : null,
        unique: leading.some((i) => i.is_unique === 1 && i.columns === 1),
        indexed: leading.length > 0,
      };
    });
  }

  function counts(facts: SchemaFacts): Counts {
    requireColumn(facts);
    const db = open();
    return run(() =>
      db.prepare(
        `SELECT count(*) AS total, coalesce(sum(${MISSING}), 0) AS missing FROM ${TBL}`,
      ).get() as unknown as Counts
    );
  }

  return {
    dialect: "sqlite",

    facts: () => promised(facts),
    counts: (facts) => promised(() => counts(facts)),

    duplicates: (facts) =>
      promised(() => {
        requireColumn(facts);
        if (facts.unique) return 0;
        const db = open();
        const row = run(() =>
          db.prepare(
            `SELECT coalesce(sum(n - 1), 0) AS duplicates FROM (
               SELECT count(*) AS n FROM ${TBL} WHERE NOT ${MISSING}
               GROUP BY ${COL} HAVING count(*) > 1)`,
          ).get() as { duplicates: number }
        );
        return row.duplicates;
      }),

    async transaction<T>(
      facts: SchemaFacts,
      work: (tx: RepairTransaction) => Promise<T>,
    ): Promise<T> {
      requireColumn(facts);
      const db = open();
      run(() => db.exec("BEGIN IMMEDIATE"));
      try {
        const statements = run(() => prepareRepair(db, facts.indexed));
        const result = await work({
          countMissing: () => promised(() => counts(facts).missing),
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
          assign: (cursor, limit, codes) => promised(() => statements.assign(cursor, limit, codes)),
        });
        run(() => db.exec("COMMIT"));
        return result;
      } catch (error) {
        if (db.isTransaction) db.exec("ROLLBACK");
        throw error;
      }
    },

    analyze: () => promised(() => void open().exec("PRAGMA optimize")),

    close(): Promise<void> {
      if (db?.isOpen) db.close();
      db = undefined;
      return Promise.resolve();
    },
  };
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

/**
 * Statements for one repair transaction. Without an index on the column a
 * per-code lookup would scan the table, so the codes in use are copied once
 * into an indexed temporary table and kept current as codes are handed out.
 */
function prepareRepair(db: DatabaseSyncType, indexed: boolean) {
  const firstTargets = db.prepare(
    `SELECT rowid AS k FROM ${TBL} WHERE ${MISSING} ORDER BY rowid LIMIT ?`,
  );
  const nextTargets = db.prepare(
    `SELECT rowid AS k FROM ${TBL} WHERE rowid > ? AND ${MISSING} ORDER BY rowid LIMIT ?`,
  );
  const update = db.prepare(
    `UPDATE ${TBL} SET ${COL} = ? WHERE rowid = ? AND ${MISSING}`,
  );
  let taken: StatementSync;
  let remember: StatementSync | undefined;
  if (indexed) {
    taken = db.prepare(`SELECT 1 FROM ${TBL} WHERE ${COL} = ? LIMIT 1`);
  } else {
    db.exec(`CREATE TEMP TABLE IF NOT EXISTS invite_codes_taken (code TEXT PRIMARY KEY)`);
    db.exec(`DELETE FROM temp.invite_codes_taken`);
    db.exec(
      `INSERT OR IGNORE INTO temp.invite_codes_taken
       SELECT ${COL} FROM ${TBL} WHERE ${COL} IS NOT NULL`,
    );
    taken = db.prepare(`SELECT 1 FROM temp.invite_codes_taken WHERE code = ?`);
    remember = db.prepare(`INSERT OR IGNORE INTO temp.invite_codes_taken VALUES (?)`);
  }

  return {
    assign(cursor: Cursor | null, limit: number, codes: string[]) {
      const rows = (cursor === null ? firstTargets.all(limit) : nextTargets.all(cursor, limit)) as {
        k: number;
      }[];
      const free = codes.filter((code) => taken.get(code) === undefined);
      let assigned = 0;
      let last: Cursor | null = cursor;
      const pairs = Math.min(rows.length, free.length);
      for (let i = 0; i < pairs; i++) {
        const changes = Number(update.run(free[i], rows[i].k).changes);
        if (changes > 0) remember?.run(free[i]);
        assigned += changes;
        last = rows[i].k;
      }
      return { assigned, targets: rows.length, rejected: codes.length - free.length, cursor: last };
    },
  };
}

/** Map a node:sqlite error to an `InviteCodeError` with one line. */
function translateError(error: unknown): InviteCodeError {
  if (error instanceof InviteCodeError) return error;
  const e = error as { message?: string; errcode?: number; errstr?: string };
  const message = String(e?.message ?? error);
  const code = (e?.errcode ?? 0) & 0xff;
  if (code === 5 || code === 6) {
    return new InviteCodeError("lock", `database is locked: ${message}`, { cause: error });
  }
  if (code === 8) return new InviteCodeError("permission", message, { cause: error });
  if (code === 14) return new InviteCodeError("connect", message, { cause: error });
  if (/UNIQUE constraint failed/.test(message)) {
    return new InviteCodeError("conflict", message, { cause: error });
  }
  return new InviteCodeError("database", message, { cause: error });
}
