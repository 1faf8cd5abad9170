/**
 * PostgreSQL dialect, on postgres.js. Every statement runs inside a short
 * transaction whose timeouts are set with `set_config(..., true)`, so nothing
 * depends on session state: that keeps it correct behind PgBouncer in
 * transaction pooling mode, which also rules out named prepared statements.
 * How the connection is made (hosts, sockets, TLS) is `../connect/`'s job.
 *
 * @module
 */
import postgres from "postgres";
import {
  absence,
  type Candidates,
  candidatesFor,
  COLUMN,
  type Counts,
  type Cursor,
  type Database,
  type OpenOptions,
  type Pressure,
  remainingMs,
  type RepairTransaction,
  type Schema,
  type SchemaFacts,
  type SharedCodes,
  TABLE,
  type UserTable,
  WHITESPACE_CODE_POINTS,
} from "./dialect.ts";
import { connector } from "../connect/connector.ts";
import type { PostgresTarget } from "../connect/conninfo.ts";
import { errorMessage, InviteCodeError, SQLSTATE } from "../errors.ts";
import { isPermissionError } from "../runtime.ts";
import { LOG } from "../messages.ts";

type Sql = postgres.Sql<Record<string, never>>;

/**
 * The advisory lock that lets one replica repair a schema at a time.
 *
 * @example
 * ```ts
 * repairLockKey("public"); // "invite-code-repair:public"
 * ```
 * @param schema The schema being repaired.
 */
export function repairLockKey(schema: string | null): string {
  return `invite-code-repair:${schema}`;
}

/**
 * The postgres.js options this dialect sets. Its published types lack the
 * `socket` function and host arrays that its code accepts (src/index.js,
 * src/connection.js), hence one cast where they are passed.
 */
interface DriverSettings {
  host: string[];
  port: number[];
  socket: () => Promise<unknown>;
  username: string;
  database: string;
  ssl: false;
  max: number;
  prepare: false;
  fetch_types: false;
  connect_timeout: number;
  keep_alive: number | null;
  idle_timeout: number;
  onnotice: () => void;
  connection: Record<string, string>;
}

/** Quote an identifier; postgres.js's own helper splits names on dots. */
function quoteIdentifier(name: string): string {
  return `"${name.replaceAll('"', '""')}"`;
}

/** SQL that is true when `column`'s code is missing: NULL, empty or blank. */
type MissingTest = (column: string) => string;

/**
 * The missing test for a database in `encoding`. chr() and ascii() take code
 * points only in UTF-8: elsewhere chr() of a non-ASCII value names a byte or
 * fails ("requested character too large for encoding"), and so does ascii()
 * of a non-ASCII first character in a multibyte encoding such as EUC_JP. So
 * outside UTF-8 only ASCII whitespace makes a code blank; that is every
 * whitespace a SQL_ASCII database holds as one character.
 */
function missingTest(encoding: string): MissingTest {
  if (encoding !== "UTF8") {
    const ascii = sqlCharacters(WHITESPACE_CODE_POINTS.filter((c) => c < 0x80));
    return (column) => `(${column} IS NULL OR btrim(${column}, ${ascii}) = '')`;
  }
  const whitespace = sqlCharacters(WHITESPACE_CODE_POINTS);
  // Blank means only whitespace, so its first character is whitespace (or it
  // is empty: ascii('') is 0). Checking that first makes a real code cost one
  // comparison instead of a btrim: the no-op count at 100,000 users went from
  // 164 ms to well under half.
  const firstBlank = [0, ...WHITESPACE_CODE_POINTS].join(", ");
  return (column) =>
    `(${column} IS NULL OR (ascii(${column}) IN (${firstBlank}) AND btrim(${column}, ${whitespace}) = ''))`;
}

function sqlCharacters(codePoints: readonly number[]): string {
  return codePoints.map((c) => `chr(${c})`).join(" || ");
}

const COL = quoteIdentifier(COLUMN);

const FACTS_SQL = `
WITH s AS (SELECT coalesce($1::text, current_schema()) AS name),
t AS (
  SELECT c.oid, c.relkind, c.relhassubclass FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace JOIN s ON n.nspname = s.name
  WHERE c.relname = '${TABLE}' AND c.relkind IN ('r', 'p')
),
a AS (
  SELECT a.attnum, format_type(a.atttypid, a.atttypmod) AS type,
    format_type(a.atttypid, NULL) AS base_type,
    (SELECT ty.typcategory = 'S' FROM pg_type ty WHERE ty.oid = a.atttypid) AS is_text,
    CASE WHEN a.atttypid IN ('varchar'::regtype, 'bpchar'::regtype) AND a.atttypmod > 4
      THEN a.atttypmod - 4 END AS len
  FROM pg_attribute a JOIN t ON a.attrelid = t.oid
  WHERE a.attname = '${COLUMN}' AND NOT a.attisdropped
),
i AS (
  -- Only an index that is valid and ready guards or serves the column: a failed
  -- CREATE UNIQUE INDEX CONCURRENTLY leaves one that is neither, over duplicates.
  SELECT i.* FROM pg_index i JOIN t ON i.indrelid = t.oid JOIN a ON i.indkey[0] = a.attnum
  WHERE i.indexprs IS NULL AND i.indpred IS NULL AND i.indisvalid AND i.indisready
)
SELECT (SELECT name FROM s) AS schema,
  EXISTS (SELECT 1 FROM pg_namespace n JOIN s ON n.nspname = s.name) AS schema_exists,
  current_database() AS database,
  EXISTS (SELECT 1 FROM t) AS table_exists,
  coalesce((SELECT relkind = 'p' OR relhassubclass FROM t), false) AS spans_tables,
  EXISTS (SELECT 1 FROM a) AS column_exists,
  (SELECT type FROM a) AS column_type,
  (SELECT base_type FROM a) AS column_base_type,
  (SELECT is_text FROM a) AS is_text,
  (SELECT len FROM a) AS max_length,
  EXISTS (SELECT 1 FROM i WHERE indisunique AND indnkeyatts = 1) AS is_unique,
  EXISTS (SELECT 1 FROM i) AS indexed,
  (SELECT c.relallvisible >= 0.9 * c.relpages AND c.relpages > 0
   FROM pg_class c JOIN t ON c.oid = t.oid) AS mostly_visible,
  current_setting('server_version_num')::int AS server_version,
  current_setting('server_encoding') AS server_encoding,
  coalesce(inet_server_port(), current_setting('port')::int) AS server_port,
  pg_is_in_recovery() AS standby`;

/** The backfill walks the table with TID range scans, new in PostgreSQL 14. */
const MIN_SERVER_VERSION = 140000;

/**
 * The statement every transaction starts with. It bounds the statement and
 * lock timeouts by the deadline, but never raises a smaller limit the server
 * or role already sets (0 = none). `client_connection_check_interval`
 * (PostgreSQL 14+) makes a backend whose client was killed stop within a
 * second, rather than finish its chunk or keep waiting for the lock.
 */
function transactionSettingsSql(): string {
  // current_setting() shows milliseconds with a unit ("30s", "5min", "1d"),
  // which reads as an interval; the pg_settings view would cost a few ms
  // of building every setting's row, twice per start.
  const timeouts = ["statement_timeout", "lock_timeout"].map((name) =>
    `set_config('${name}', least($1::bigint, coalesce(nullif(
     (extract(epoch FROM current_setting('${name}')::interval) * 1000)::bigint, 0), $1::bigint))::text, true)`
  );
  return `SELECT ${timeouts.join(",\n  ")},
  CASE WHEN current_setting('client_connection_check_interval', true) = '0'
    THEN set_config('client_connection_check_interval', '1000', true) END`;
}

const BOUND_TIMEOUTS_SQL = transactionSettingsSql();
/**
 * For the full count, which every start runs: the planner underprices
 * reading the column from the table, last in a wide row. When the visibility
 * map covers the table, reading the column's index alone takes a third less;
 * otherwise the planner chooses, parallel workers included (bench/README.md).
 */
const INDEX_ONLY_SQL = "SELECT set_config('enable_seqscan', 'off', true)";

/** Replication lag and other sessions at work: what a throttled repair pauses on. */
const PRESSURE_SQL = `SELECT
  coalesce((SELECT max(extract(epoch FROM replay_lag)) FROM pg_stat_replication), 0)::float8 AS lag,
  (SELECT count(*) FROM pg_stat_activity WHERE state = 'active' AND backend_type = 'client backend'
     AND pid <> pg_backend_pid())::int AS active`;

interface FactsRow {
  schema: string | null;
  schema_exists: boolean;
  database: string;
  is_text: boolean | null;
  table_exists: boolean;
  column_exists: boolean;
  column_type: string | null;
  /** The type without its length ("bpchar", not "character(8)"), quoted as SQL needs. */
  column_base_type: string | null;
  max_length: number | null;
  is_unique: boolean;
  indexed: boolean;
  /** The visibility map covers most pages (as of the last VACUUM or ANALYZE). */
  mostly_visible: boolean | null;
  server_version: number;
  server_encoding: string;
  /** Partitioned, or a parent by inheritance: its rows live in several tables. */
  spans_tables: boolean;
  server_port: number;
  standby: boolean;
}

/**
 * Open a PostgreSQL database; no connection is made until the first query.
 *
 * @example
 * ```ts
 * import type { PostgresTarget } from "../connect/conninfo.ts";
 * import { Deadline } from "../deadline.ts";
 * declare const target: PostgresTarget; // as resolveTarget() returns it
 * const db = openPostgres(target, { deadline: () => Deadline.after(5000) });
 * const schema = await db.schema();
 * ```
 * @param target The resolved target.
 * @param options Deadline, read-only mode and pool size.
 */
export function openPostgres(target: PostgresTarget, options: OpenOptions): Database {
  const connection = target.connection;
  // A TLS file libpq would refuse was read at resolve; libpq says so when it connects.
  if ("refused" in connection.tls) throw connection.tls.refused;
  const link = connector(connection, { deadline: options.deadline });
  if (target.ignored.length > 0) options.log?.(LOG.ignoredKeywords(target.ignored.join(", ")));
  // The connector bounds each host by connect_timeout and the deadline; this
  // backstop of postgres.js's own comes a second after it.
  const backstopSeconds = Math.ceil(remainingMs(options.deadline) / 1000) + 1;
  const sql = postgres(
    {
      // Never a URL or host string: see connect/connector.ts. The one host
      // entry only keeps postgres.js from trying hosts itself; the socket
      // function does, and target_session_attrs is the connector's too.
      host: ["postgres"],
      port: [5432],
      socket: link.socket,
      username: connection.user,
      database: connection.database,
      ssl: false,
      // One connection: every caller runs one transaction at a time.
      max: 1,
      prepare: false,
      // Array types are never sent (codes travel as one comma-joined string), and
      // the query that fetches them at connect rejects unhandled when it fails
      // (seen under a 1 ms statement_timeout), which would crash a fail-open tool.
      fetch_types: false,
      connect_timeout: backstopSeconds,
      keep_alive: connection.keepAliveSeconds,
      idle_timeout: 30,
      onnotice: () => {},
      connection: { ...connection.parameters },
    } satisfies DriverSettings as unknown as postgres.Options<Record<string, never>>,
  ) as unknown as Sql;
  const readMode = options.readOnly ? "read only" : "default";

  /** One short transaction with its timeouts bounded by the deadline. */
  async function inTransaction<T>(
    mode: "read only" | "default",
    work: (tx: TransactionSql) => Promise<T>,
  ): Promise<T> {
    try {
      // Read committed whatever the server's default: each statement must see
      // what other replicas committed while this one waited for the lock (a
      // snapshot from before the wait would redo their work and fail with a
      // serialization error). "default" says nothing of read-only: a server
      // or role that defaults to read-only transactions is obeyed.
      const access = mode === "default" ? "" : ` ${mode}`;
      const result = await sql.begin(`isolation level read committed${access}`, async (tx) => {
        await tx.unsafe(BOUND_TIMEOUTS_SQL, [String(remainingMs(options.deadline))]);
        return await work(tx);
      });
      return result as T;
    } catch (error) {
      throw translateError(error);
    }
  }

  function userTable(facts: SchemaFacts, row: FactsRow, missing: MissingTest): UserTable {
    const table = tableOf(facts);
    const serverVersion = row.server_version;
    const chunk: ChunkStatement = {
      sql: assignSql(
        table,
        facts.indexed,
        row.column_base_type ?? "text",
        missing,
        row.spans_tables,
      ),
      walks: !row.spans_tables,
    };
    // The (sub)transactions that wrote this handle's codes: the xmin of the
    // rows each chunk's savepoint updated.
    const writers = new Set<string>();
    return {
      async duplicates(): Promise<SharedCodes> {
        if (facts.unique) return { users: 0, codes: 0 };
        const [row] = await inTransaction(readMode, (tx) =>
          tx.unsafe<SharedCodes[]>(
            `SELECT coalesce(sum(n), 0)::float8 AS users, count(*)::float8 AS codes FROM (
               SELECT count(*) AS n FROM ${table} WHERE NOT ${missing(COL)}
               GROUP BY ${COL} HAVING count(*) > 1) d`,
          ));
        return { users: row.users, codes: row.codes };
      },

      async transaction<T>(work: (tx: RepairTransaction) => Promise<T>): Promise<T> {
        if (serverVersion < MIN_SERVER_VERSION) {
          throw new InviteCodeError(
            "database",
            `PostgreSQL 14 or newer is required (the server is ${
              Math.floor(serverVersion / 10000)
            })`,
          );
        }
        return await inTransaction("default", async (tx) => {
          // Transaction-scoped: released on commit, rollback or a dropped connection.
          await tx.unsafe("SELECT pg_advisory_xact_lock(hashtextextended($1, 0))", [
            repairLockKey(facts.schema),
          ]);
          return await work(repairTransaction(tx, chunk, table, writers, missing));
        });
      },

      async releaseSharedCodes(): Promise<number> {
        if (facts.unique || writers.size === 0) return 0;
        // Rows whose current version this handle wrote (xmin) and whose code
        // another row also holds: only those lose their code.
        const released = await inTransaction("default", (tx) =>
          tx.unsafe(
            `UPDATE ${table} u SET ${COL} = NULL
             WHERE u.xmin::text = ANY(string_to_array($1, ','))
               AND NOT ${missing(`u.${COL}`)}
               AND EXISTS (SELECT 1 FROM ${table} o
                           WHERE o.${COL} = u.${COL}
                             AND (o.tableoid, o.ctid) <> (u.tableoid, u.ctid))`,
            [[...writers].join(",")],
          ));
        writers.clear();
        return released.count;
      },

      async analyze(): Promise<void> {
        // In a transaction of its own, so the deadline bounds it: ANALYZE
        // waits for a lock autovacuum may hold on a freshly updated table.
        // Only the column changed; its statistics alone take half the time
        // (100,000 users: 92 ms against 191), and the row and page counts
        // are refreshed all the same.
        await inTransaction("default", (tx) => tx.unsafe(`ANALYZE ${table} (${COL})`));
      },

      async pressure(): Promise<Pressure> {
        const [row] = await inTransaction(
          "read only",
          (tx) => tx.unsafe<{ lag: number; active: number }[]>(PRESSURE_SQL),
        );
        return { replicationLagSeconds: row.lag, activeSessions: row.active };
      },
    };
  }

  return {
    dialect: "postgres",

    schema(): Promise<Schema> {
      return inTransaction("read only", async (tx): Promise<Schema> => {
        const [row] = await tx.unsafe<FactsRow[]>(FACTS_SQL, [target.schema ?? null]);
        if (!row.schema_exists) {
          // Not "not migrated yet": no migration would put the table where the tool looks.
          throw new InviteCodeError(
            "config",
            target.schema
              ? `DATABASE_SCHEMA names schema "${target.schema}", which database ` +
                `"${row.database}" does not have: check DATABASE_SCHEMA`
              : `the connection's search_path names no schema that database "${row.database}" ` +
                `has: set DATABASE_SCHEMA, or the role's search_path`,
          );
        }
        if (row.column_exists && !row.is_text) {
          throw new InviteCodeError(
            "schema",
            `column ${COLUMN} of "${TABLE}" is ${row.column_type}, not text: invite codes are ` +
              `text (varchar(8) in the invite system's migration); change the column's type`,
          );
        }
        const facts: SchemaFacts = {
          dialect: "postgres",
          schema: row.schema,
          table: TABLE,
          column: COLUMN,
          databaseExists: true,
          tableExists: row.table_exists,
          columnExists: row.column_exists,
          columnType: row.column_type,
          maxLength: row.max_length,
          unique: row.is_unique,
          indexed: row.indexed,
          server: { port: row.server_port, standby: row.standby },
        };
        const reason = absence(facts, target.display);
        if (reason !== null) return { facts, absence: reason };
        if (row.indexed && row.mostly_visible) await tx.unsafe(INDEX_ONLY_SQL);
        const missing = missingTest(row.server_encoding);
        const [counted] = await tx.unsafe<Counts[]>(countsSql(tableOf(facts), missing));
        return {
          facts,
          absence: null,
          table: userTable(facts, row, missing),
          counts: { total: counted.total, missing: counted.missing },
        };
      });
    },

    async close(force = false): Promise<void> {
      const ending = sql.end({ timeout: force ? 0 : 5 });
      await Promise.race([ending, link.hungUp()]);
    },
  };
}

/** A chunk's statement, and whether it walks the table from a cursor. */
interface ChunkStatement {
  sql: string;
  walks: boolean;
}

function repairTransaction(
  tx: TransactionSql,
  chunk: ChunkStatement,
  table: string,
  writers: Set<string>,
  missing: MissingTest,
): RepairTransaction {
  return {
    async countMissing() {
      const [row] = await tx.unsafe<Counts[]>(countsSql(table, missing));
      return row.missing;
    },
    async clearDuplicates() {
      const cleared = await tx.unsafe(
        // A row is (tableoid, ctid): ctids repeat across partitions or child tables.
        `WITH ranked AS (
           SELECT tableoid AS o, ctid AS t,
             row_number() OVER (PARTITION BY ${COL} ORDER BY created_at, tableoid, ctid) AS r
           FROM ${table} WHERE NOT ${missing(COL)})
         UPDATE ${table} u SET ${COL} = NULL FROM ranked
         WHERE u.tableoid = ranked.o AND u.ctid = ranked.t AND ranked.r > 1`,
      );
      return cleared.count;
    },
    async assign(cursor: Cursor | null, limit: number, candidates: Candidates) {
      const drawn = candidatesFor(limit);
      const codes = candidates.drawList(drawn);
      const params = chunk.walks ? [limit, codes, String(cursor ?? "(0,0)")] : [limit, codes];
      let row: AssignRow;
      try {
        // A savepoint lets a unique violation from a concurrent writer
        // retry this chunk instead of aborting the whole transaction.
        [row] = await tx.savepoint((sp) =>
          sp.unsafe<AssignRow[]>(chunk.sql, params)
        ) as AssignRow[];
      } catch (error) {
        throw translateError(error);
      }
      if (row.writer !== null) writers.add(row.writer);
      return {
        assigned: row.assigned,
        targets: row.targets,
        drawn,
        rejected: drawn - row.accepted,
        cursor: row.cursor ?? cursor,
      };
    },
  };
}

type TransactionSql = postgres.TransactionSql<Record<string, never>>;

function tableOf(facts: SchemaFacts): string {
  return `${quoteIdentifier(facts.schema ?? "public")}.${quoteIdentifier(TABLE)}`;
}

function countsSql(table: string, missing: MissingTest): string {
  return `SELECT count(*)::float8 AS total, count(*) FILTER (WHERE ${
    missing(COL)
  })::float8 AS missing
    FROM ${table}`;
}

interface AssignRow {
  /** The xmin of the rows this chunk updated, or null when none. */
  writer: string | null;
  assigned: number;
  targets: number;
  accepted: number;
  cursor: string | null;
}

/**
 * One statement per chunk. It walks the table in physical order (a TID range
 * scan from the cursor, stopping after `limit` missing rows), drops candidate
 * codes some row already holds (an index probe each), zips the two lists by
 * position and updates by ctid: no chunk rescans the table or probes the
 * primary key. Only rows still missing change. Measured at a million users,
 * the cost is that of writing random keys into the unique index (bench/).
 *
 * Candidates are compared as the column's own type (`columnType`, without
 * its length): compared as text, a `char(n)` or `citext` column's index
 * cannot serve the probe, and each probe read the table (50,000 users with
 * 5,000 missing: past a 60 s deadline, against 0.4 s); and text equality is
 * not citext's.
 *
 * A table whose rows live in several tables (partitions, or children by
 * inheritance) repeats ctids from one to the next, so there a row is
 * (tableoid, ctid), and with no one physical order each chunk takes the
 * first rows still missing, from the start, and no cursor.
 */
function assignSql(
  table: string,
  indexed: boolean,
  columnType: string,
  missing: MissingTest,
  spansTables: boolean,
): string {
  const targets = spansTables
    ? `SELECT coalesce(array_agg(t ORDER BY o, t), '{}') AS tids,
    coalesce(array_agg(o ORDER BY o, t), '{}') AS oids FROM (
    SELECT tableoid AS o, ctid AS t FROM ${table} WHERE ${missing(COL)} LIMIT $1
  ) s`
    : `SELECT coalesce(array_agg(t ORDER BY t), '{}') AS tids FROM (
    SELECT ctid AS t FROM ${table} WHERE ctid > $3::tid AND ${missing(COL)} LIMIT $1
  ) s`;
  return `
WITH targets AS MATERIALIZED (
  ${targets}
), free AS MATERIALIZED (
  -- LATERAL ... LIMIT 1 keeps this one index probe per code: as an anti join
  -- the planner may merge against the whole index, which grows every chunk.
  SELECT coalesce(array_agg(c.code ORDER BY c.n), '{}') AS codes
  FROM (
    -- The candidates arrive as one string in which a code may repeat.
    SELECT d.code, min(d.n) AS n FROM unnest(string_to_array($2, ',')) WITH ORDINALITY AS d(code, n)
    GROUP BY d.code
  ) c
  ${
    indexed
      ? `LEFT JOIN LATERAL (
      SELECT true AS taken FROM ${table} x WHERE x.${COL} = c.code::${columnType} LIMIT 1) x
    ON true WHERE x.taken IS NULL`
      // Without an index a probe per code would scan the table each time:
      // one hashed anti join reads the table once per chunk instead. As the
      // column's type here too: compared as text, a citext column took a
      // code that another user held in other case.
      : `WHERE NOT EXISTS (SELECT 1 FROM ${table} x WHERE x.${COL} = c.code::${columnType})`
  }
), pairs AS MATERIALIZED (
  -- unnest of two arrays zips them by position, padding the shorter with NULLs.
  ${
    spansTables
      ? `SELECT p.o, p.t, p.code FROM targets, free,
    unnest(targets.oids, targets.tids, free.codes) AS p(o, t, code)`
      : `SELECT p.t, p.code FROM targets, free, unnest(targets.tids, free.codes) AS p(t, code)`
  }
  WHERE p.t IS NOT NULL AND p.code IS NOT NULL
), updated AS (
  UPDATE ${table} u SET ${COL} = p.code FROM pairs p
  WHERE u.ctid = p.t AND ${spansTables ? "u.tableoid = p.o AND " : ""}${missing(`u.${COL}`)}
  RETURNING u.xmin::text AS writer
)
SELECT (SELECT count(*) FROM updated)::float8 AS assigned,
  (SELECT max(writer) FROM updated) AS writer,
  cardinality(tids)::float8 AS targets,
  cardinality(codes)::float8 AS accepted,
  ${spansTables ? "NULL" : "tids[least(cardinality(tids), cardinality(codes))]::text"} AS cursor
FROM targets, free`;
}

const SQLSTATE_KINDS: Record<string, InviteCodeError["kind"]> = {
  [SQLSTATE.QUERY_CANCELED]: "timeout", // statement_timeout or cancel
  [SQLSTATE.LOCK_NOT_AVAILABLE]: "lock", // lock_timeout
  [SQLSTATE.INSUFFICIENT_PRIVILEGE]: "permission",
  [SQLSTATE.UNIQUE_VIOLATION]: "conflict", // e.g. a concurrent writer took the same code
  [SQLSTATE.READ_ONLY_SQL_TRANSACTION]: "permission",
  [SQLSTATE.INVALID_PASSWORD]: "connect",
  [SQLSTATE.INVALID_AUTHORIZATION]: "connect",
  [SQLSTATE.INVALID_CATALOG_NAME]: "connect",
  [SQLSTATE.ADMIN_SHUTDOWN]: "connect",
  [SQLSTATE.CANNOT_CONNECT_NOW]: "connect",
};

/** Map a postgres.js or socket error to an `InviteCodeError` with one line. */
function translateError(error: unknown): InviteCodeError {
  if (error instanceof InviteCodeError) return error;
  if (isPermissionError(error)) {
    return new InviteCodeError("permission", errorMessage(error), { cause: error });
  }
  const e = error as { code?: string; message?: string; errno?: string };
  const code = String(e?.code ?? "");
  const message = String(e?.message ?? error);
  if (code in SQLSTATE_KINDS) {
    return new InviteCodeError(SQLSTATE_KINDS[code], `${message} (SQLSTATE ${code})`, {
      cause: error,
      code,
    });
  }
  // Every SQLSTATE holds a digit; "EPIPE" (a socket's code on Deno) does not.
  if (/^[0-9A-Z]{5}$/.test(code) && /\d/.test(code)) {
    return new InviteCodeError("database", `${message} (SQLSTATE ${code})`, {
      cause: error,
      code,
    });
  }
  if (code === "CONNECT_TIMEOUT") {
    return new InviteCodeError("connect", "connection timed out", { cause: error, code });
  }
  if (/^(E[A-Z]+|CONNECTION_\w+)$/.test(code)) {
    return new InviteCodeError("connect", `cannot connect to PostgreSQL: ${message}`, {
      cause: error,
      code,
    });
  }
  return new InviteCodeError("database", message, { cause: error });
}
