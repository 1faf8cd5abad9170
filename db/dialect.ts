/**
 * What both database dialects promise the repair: schema facts, counts and a
 * locked transaction that assigns codes to missing rows. The repair loop in
 * `mod.ts` is written once against this contract; the SQL lives beside it in
 * `postgres.ts` and `sqlite.ts`.
 */

/** The database engines the tool speaks. */
export type DialectName = "postgres" | "sqlite";

/** Where the `"user"` table lives, as resolved from the environment. */
export type DatabaseTarget =
  | {
    dialect: "postgres";
    /** Connection URL in postgres.js form (`postgres://`), password included. */
    url: string;
    /** Schema holding `"user"`; undefined means the connection's current schema. */
    schema?: string;
    /** The URL with the password masked, safe to print. */
    display: string;
    /** Secrets that must never reach any output. */
    secrets: string[];
  }
  | { dialect: "sqlite"; path: string; display: string; secrets: string[] };

/** What the repair needs to know about the table before touching it. */
export interface SchemaFacts {
  dialect: DialectName;
  /** PostgreSQL schema (or SQLite database name) holding the table. */
  schema: string | null;
  table: string;
  column: string;
  /** False only for a SQLite file that is not there (it is never created). */
  databaseExists: boolean;
  tableExists: boolean;
  columnExists: boolean;
  /** Declared type of the column, e.g. `character varying(8)`. */
  columnType: string | null;
  /** Declared maximum length, or null when the type has none. */
  maxLength: number | null;
  /** A unique constraint or unique index on the column alone guards it. */
  unique: boolean;
  /** Some index leads with the column (lookups need no table scan). */
  indexed: boolean;
}

/** Row counts of the table. */
export interface Counts {
  total: number;
  missing: number;
}

/** Opaque position in the table's walk order (a ctid, a rowid); the dialect decides. */
export type Cursor = string | number | bigint;

/** The outcome of one assignment statement. */
export interface AssignResult {
  /** Rows that received a code. */
  assigned: number;
  /** Missing rows found after the cursor (at most the limit). */
  targets: number;
  /** Candidate codes refused because some row already holds them. */
  rejected: number;
  /** The last key that received a code; unchanged when none did. */
  cursor: Cursor | null;
}

/** Operations available inside the repair's locked transaction. */
export interface RepairTransaction {
  countMissing(): Promise<number>;
  /**
   * Clear the code of every user holding a code an earlier user (by
   * `created_at`, then physical order) also holds; returns how many.
   */
  clearDuplicates(): Promise<number>;
  /**
   * Assign `codes` to up to `limit` missing rows after `cursor`, in walk order,
   * skipping codes some row already holds. Only rows still missing change.
   */
  assign(cursor: Cursor | null, limit: number, codes: string[]): Promise<AssignResult>;
}

/**
 * An open connection to one database. Methods other than `facts` need facts
 * showing the table and column exist; facts are never cached, so a long-lived
 * probe sees a migration that adds the column.
 */
export interface Database {
  readonly dialect: DialectName;
  facts(): Promise<SchemaFacts>;
  counts(facts: SchemaFacts): Promise<Counts>;
  /** Users holding a code that another user also holds, less one per code. */
  duplicates(facts: SchemaFacts): Promise<number>;
  /**
   * Run `work` in one transaction holding the repair lock (advisory lock on
   * PostgreSQL, an immediate transaction on SQLite), waiting at most until the
   * deadline. Throwing rolls everything back.
   */
  transaction<T>(facts: SchemaFacts, work: (tx: RepairTransaction) => Promise<T>): Promise<T>;
  /** Refresh planner statistics after a large backfill. */
  analyze(facts: SchemaFacts): Promise<void>;
  /** Close, abandoning anything in flight when `force` is set. */
  close(force?: boolean): Promise<void>;
}

/** Options every dialect receives when it opens. */
export interface OpenOptions {
  /** Epoch milliseconds after which the operation starting now may no longer wait. */
  deadline: () => number;
  /** Open without the right to write (the check and the probe). */
  readOnly?: boolean;
  /** Largest connection pool (the probe keeps it small). */
  maxConnections?: number;
}

/** Why an operation failed, for one-line reports and exit codes. */
export type FailureKind =
  | "config"
  | "connect"
  | "timeout"
  | "lock"
  | "schema"
  | "permission"
  | "conflict"
  | "database";

/** The one error type the tool raises; `cause` keeps the driver's error. */
export class InviteCodeError extends Error {
  readonly kind: FailureKind;
  constructor(kind: FailureKind, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = "InviteCodeError";
    this.kind = kind;
  }
}

export const TABLE = "user";
export const COLUMN = "invite_code";

/**
 * Characters that make a code "blank" when a value holds nothing else: the
 * same set as JavaScript's `\s`, spelled out so both SQL dialects trim the
 * same characters.
 */
export const WHITESPACE_CODE_POINTS: readonly number[] = [
  0x09,
  0x0a,
  0x0b,
  0x0c,
  0x0d,
  0x20,
  0xa0,
  0x1680,
  0x2000,
  0x2001,
  0x2002,
  0x2003,
  0x2004,
  0x2005,
  0x2006,
  0x2007,
  0x2008,
  0x2009,
  0x200a,
  0x2028,
  0x2029,
  0x202f,
  0x205f,
  0x3000,
  0xfeff,
];

/** Milliseconds left before `deadline`, at least 1 so drivers treat it as a limit. */
export function remainingMs(deadline: () => number): number {
  return Math.max(1, Math.floor(deadline() - Date.now()));
}

/** Throw unless the facts show a table and column to work on. */
export function requireColumn(facts: SchemaFacts): void {
  if (!facts.tableExists || !facts.columnExists) {
    throw new InviteCodeError("schema", `table "${TABLE}" or column ${COLUMN} does not exist`);
  }
}
