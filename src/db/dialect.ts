/**
 * What every database dialect promises the repair, written once. A dialect
 * opens a `Database`; its `schema()` gives either the reason the repair has
 * nothing to work on, or a `UserTable` handle, so no operation can run on a
 * table or column that is not there. The SQL lives beside this file in
 * `postgres.ts` and `sqlite.ts`.
 *
 * @module
 */
import type { Deadline } from "../deadline.ts";

/** The database engines the tool speaks. */
export type DialectName = "postgres" | "sqlite";

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
  /** PostgreSQL: the server that answered, and whether it is a hot standby (read-only). */
  server?: { port: number; standby: boolean };
}

/**
 * The schema as found: a table to work on and its counts, or why there is
 * none. Counting comes with the look because every caller needs both, and
 * together they take one transaction, which every start runs.
 */
export type Schema =
  | { facts: SchemaFacts; absence: string; table?: undefined; counts?: undefined }
  | { facts: SchemaFacts; absence: null; table: UserTable; counts: Counts };

/** Row counts of the table. */
export interface Counts {
  total: number;
  missing: number;
}

/** Opaque position in the table's walk order (a ctid, a rowid); the dialect decides. */
export type Cursor = string | number | bigint;

/** Random candidate codes of the length the backfill is at, drawn on demand. */
export interface Candidates {
  /** `count` distinct codes. */
  draw(count: number): string[];
  /** `count` codes in one comma-separated string; a code may repeat. */
  drawList(count: number): string;
}

/**
 * How many candidates to look up for `limit` rows: a few more than needed,
 * so a few codes already taken still fill the chunk.
 *
 * @param limit Rows the chunk may fill.
 */
export function candidatesFor(limit: number): number {
  return limit + Math.ceil(limit / 100) + 4;
}

/** The outcome of one assignment statement. */
export interface AssignResult {
  /** Rows that received a code. */
  assigned: number;
  /** Missing rows found after the cursor (at most the limit). */
  targets: number;
  /** Candidate codes drawn and offered. */
  drawn: number;
  /** Candidate codes refused because some row already holds them. */
  rejected: number;
  /** The last key that received a code; unchanged when none did. */
  cursor: Cursor | null;
}

/** The `"user"` table with its `invite_code` column, known to exist. */
export interface UserTable {
  /** Codes that more than one user holds, and how many users hold them. */
  duplicates(): Promise<SharedCodes>;
  /**
   * Run `work` in one transaction holding the repair lock (advisory lock on
   * PostgreSQL, an immediate transaction on SQLite), waiting at most until the
   * deadline. Throwing rolls everything back.
   */
  transaction<T>(work: (tx: RepairTransaction) => Promise<T>): Promise<T>;
  /**
   * After commits: clear the codes this handle's transactions wrote that
   * another row also holds (a concurrent writer's code, invisible while it
   * was uncommitted), so a rerun gives those rows new ones. Never touches a
   * code this handle did not write. Returns how many were cleared.
   */
  releaseSharedCodes(): Promise<number>;
  /** Refresh planner statistics after a large backfill. */
  analyze(): Promise<void>;
  /** How busy the server is, for a throttled repair to pause on. */
  pressure(): Promise<Pressure>;
}

/**
 * How busy the server is, as far as the role may see (grant it pg_monitor to
 * see every session and standby).
 */
export interface Pressure {
  /** The largest replay lag of a standby, in seconds; 0 without standbys. */
  replicationLagSeconds: number;
  /** Other sessions running a statement now. */
  activeSessions: number;
}

/**
 * Codes several users hold: `users` counts every holder, `codes` the codes,
 * so `--fix-duplicates` changes `users - codes` of them (all but the earliest
 * holder of each).
 */
export interface SharedCodes {
  users: number;
  codes: number;
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
   * Give codes from `candidates` to up to `limit` missing rows after
   * `cursor`, in walk order, skipping codes some row already holds. Only
   * rows still missing change. A dialect draws as it needs, in the form
   * that costs it least memory: a chunk's worth in one string, or a few
   * codes at a time.
   */
  assign(cursor: Cursor | null, limit: number, candidates: Candidates): Promise<AssignResult>;
}

/** An open connection to one database; no connection is made until first use. */
export interface Database {
  readonly dialect: DialectName;
  /**
   * Look at the schema now, and count the table when it is there; never
   * cached, so a long-lived probe sees a migration that adds the column.
   */
  schema(): Promise<Schema>;
  /** Close, abandoning anything in flight when `force` is set. */
  close(force?: boolean): Promise<void>;
}

/** Options every dialect receives when it opens. */
export interface OpenOptions {
  /**
   * The deadline bounding what the database does now, asked at each use: the
   * repair moves it after the commit (its upkeep gets a bound of its own), and
   * the probe's inspector, which opens once, bounds each inspection anew.
   */
  deadline: () => Deadline;
  /** Open without the right to write (the check and the probe). */
  readOnly?: boolean;
  /** Where a dialect says something worth an operator's attention. */
  log?: (line: string) => void;
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

/**
 * Milliseconds left before the current deadline, at least 1 so drivers treat it as a limit.
 *
 * @param deadline Gives the deadline that bounds the work now.
 */
export function remainingMs(deadline: () => Deadline): number {
  return deadline().remainingMs();
}

/**
 * Why the repair has nothing to work on, or null when the table and column
 * are there; never null for facts that say the column is not.
 *
 * @param facts What the dialect found.
 * @param where How the database is named in a reason (a SQLite path).
 */
export function absence(facts: SchemaFacts & { columnExists: false }, where: string): string;
export function absence(facts: SchemaFacts, where: string): string | null;
export function absence(facts: SchemaFacts, where: string): string | null {
  return !facts.databaseExists
    ? `database file ${where} does not exist yet`
    : !facts.tableExists
    ? `table "${facts.table}" does not exist`
    : !facts.columnExists
    ? `column ${facts.column} does not exist in table "${facts.table}"`
    : null;
}
