/**
 * invite-code-repair: at container start, give every Open WebUI user without
 * an invite code a unique one, atomically, and never stop the app from
 * starting because of it.
 *
 * @example Library use
 * ```ts
 * import { check, repair } from "./mod.ts";
 * const report = await repair({ env: { DATABASE_URL: "sqlite:///data/webui.db" } });
 * console.log(report.generated, (await check()).status);
 * ```
 *
 * @module
 */
import process from "node:process";
import { realpathSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import {
  type Counts,
  type Cursor,
  type Database,
  type DatabaseTarget,
  InviteCodeError,
  type OpenOptions,
  type RepairTransaction,
  type SchemaFacts,
} from "./db/dialect.ts";

export { InviteCodeError } from "./db/dialect.ts";
export type { Database, DatabaseTarget, FailureKind, SchemaFacts } from "./db/dialect.ts";

/** This release; `--version` prints it. */
export const VERSION = "0.1.0";

/** Environment variables, as `process.env` holds them. */
export type Env = Record<string, string | undefined>;

// ---------------------------------------------------------------------------
// Which database: resolved exactly as Open WebUI resolves it.

const SUPPORTED =
  "supported: postgres://, postgresql:// (also postgresql+psycopg2://, postgresql+psycopg://, " +
  "postgresql+asyncpg://) and sqlite:///path";

/**
 * The database URL Open WebUI would use: `DATABASE_URL`, else one composed
 * from `DATABASE_TYPE`, `_USER`, `_PASSWORD`, `_HOST`, `_PORT`, `_NAME`, else
 * `sqlite:///${DATA_DIR}/webui.db`.
 *
 * @example
 * ```ts
 * resolveDatabaseUrl({ DATA_DIR: "/app/backend/data" }); // "sqlite:////app/backend/data/webui.db"
 * ```
 */
export function resolveDatabaseUrl(env: Env = process.env): string {
  if (env.DATABASE_URL) return env.DATABASE_URL;
  const { DATABASE_TYPE, DATABASE_USER, DATABASE_HOST, DATABASE_PORT, DATABASE_NAME } = env;
  if (DATABASE_TYPE && DATABASE_USER && DATABASE_HOST && DATABASE_PORT && DATABASE_NAME) {
    // Open WebUI pastes the parts in raw; encoding them keeps a password with
    // "@" or "/" from corrupting the URL.
    const password = env.DATABASE_PASSWORD ? `:${encodeURIComponent(env.DATABASE_PASSWORD)}` : "";
    return `${DATABASE_TYPE}://${encodeURIComponent(DATABASE_USER)}${password}@` +
      `${DATABASE_HOST}:${DATABASE_PORT}/${encodeURIComponent(DATABASE_NAME)}`;
  }
  return `sqlite:///${env.DATA_DIR || "./data"}/webui.db`;
}

/**
 * Turn a database URL into a target the dialects can open, or throw an
 * `InviteCodeError` of kind `config` that names what is supported. Passwords
 * are listed in `secrets` and masked in `display`.
 */
export function parseDatabaseUrl(url: string, env: Env = process.env): DatabaseTarget {
  const secrets = envSecrets(env);
  const scheme = /^([A-Za-z][A-Za-z0-9+.-]{0,40}):\/\//.exec(url)?.[1].toLowerCase();
  if (!scheme) throw new InviteCodeError("config", `database URL is not a URL (${SUPPORTED})`);

  if (scheme === "sqlite") {
    const path = url.slice("sqlite:///".length).replace(/\?.*$/s, "");
    if (!url.startsWith("sqlite:///") || !path) {
      throw new InviteCodeError(
        "config",
        `sqlite URL needs a file path: sqlite:///relative/path or sqlite:////absolute/path`,
      );
    }
    if (path.includes("\0")) throw new InviteCodeError("config", "sqlite path contains a NUL byte");
    return { dialect: "sqlite", path, display: `sqlite:///${path}`, secrets };
  }

  if (scheme === "postgres" || scheme === "postgresql" || /^postgresql\+\w+$/.test(scheme)) {
    const normalized = `postgres://${url.slice(scheme.length + 3)}`;
    let parsed: URL;
    try {
      parsed = new URL(normalized);
    } catch {
      throw new InviteCodeError("config", `database URL is not a valid ${scheme}:// URL`);
    }
    for (const secret of [parsed.password, parsed.searchParams.get("password") ?? ""]) {
      if (secret) secrets.push(secret, safeDecode(secret));
    }
    if (parsed.password) parsed.password = "***";
    if (parsed.searchParams.has("password")) parsed.searchParams.set("password", "***");
    const schema = env.DATABASE_SCHEMA || undefined;
    if (
      schema !== undefined &&
      (schema.includes("\0") || new TextEncoder().encode(schema).length > 63)
    ) {
      throw new InviteCodeError(
        "config",
        "DATABASE_SCHEMA must be a PostgreSQL schema name: at most 63 bytes, no NUL",
      );
    }
    return { dialect: "postgres", url: normalized, schema, display: parsed.href, secrets };
  }

  throw new InviteCodeError(
    "config",
    `unsupported database URL scheme "${scheme}://" (${SUPPORTED})`,
  );
}

/** Passwords the environment holds, known before any URL is parsed. */
function envSecrets(env: Env): string[] {
  return [env.DATABASE_PASSWORD, env.PGPASSWORD].filter((s): s is string => !!s);
}

function safeDecode(text: string): string {
  try {
    return decodeURIComponent(text);
  } catch {
    return text;
  }
}

/** Open the dialect for a target; each dialect's driver is loaded only when used. */
export async function openDatabase(
  target: DatabaseTarget,
  options: OpenOptions,
): Promise<Database> {
  if (target.dialect === "postgres") {
    const { openPostgres } = await import("./db/postgres.ts");
    return openPostgres(target, options);
  }
  const { openSqlite } = await import("./db/sqlite.ts");
  return openSqlite(target, options);
}

/** Replace every secret in `text` with `***`; secrets under 3 characters are left alone. */
export function redact(text: string, secrets: readonly string[]): string {
  let out = text;
  for (const secret of secrets) if (secret.length >= 3) out = out.replaceAll(secret, "***");
  return out;
}

// ---------------------------------------------------------------------------
// Schema facts: why a repair may have nothing to work on.

/** Why the repair must skip, or null when table and column are there. */
export function describeAbsence(facts: SchemaFacts): string | null {
  if (!facts.databaseExists) return "database file does not exist yet";
  if (!facts.tableExists) return `table "${facts.table}" does not exist`;
  if (!facts.columnExists) return `column ${facts.column} does not exist in table "${facts.table}"`;
  return null;
}

// ---------------------------------------------------------------------------
// Code generation: cryptographically random, unbiased, from the seed alphabet.

/** The alphabet of invite codes: no 0/O, 1/I/L, to be read aloud and typed safely. */
export const ALPHABET = "23456789ABCDEFGHJKMNPQRSTUVWXYZ";
/** Codes start at this length and grow only when collisions call for it. */
export const MIN_CODE_LENGTH = 6;
/** Codes never grow beyond this length (nor the column's declared length). */
export const MAX_CODE_LENGTH = 8;

// Bytes at or above this multiple of the alphabet size are rejected, so
// `byte % 31` is uniform.
const UNBIASED_LIMIT = 256 - (256 % ALPHABET.length);

/**
 * `count` distinct random codes of `length` characters.
 *
 * @example
 * ```ts
 * generateInviteCodes(3, 6); // ["K7M2QX", "9HTW3C", "PZ4R8N"]
 * ```
 */
export function generateInviteCodes(count: number, length: number = MIN_CODE_LENGTH): string[] {
  const codes = new Set<string>();
  const bytes = new Uint8Array(Math.min(65536, Math.max(64, count * length * 2)));
  let offset = bytes.length;
  let code = "";
  while (codes.size < count) {
    if (offset === bytes.length) {
      crypto.getRandomValues(bytes);
      offset = 0;
    }
    const byte = bytes[offset++];
    if (byte >= UNBIASED_LIMIT) continue;
    code += ALPHABET[byte % ALPHABET.length];
    if (code.length === length) {
      codes.add(code);
      code = "";
    }
  }
  return [...codes];
}

/** One random invite code. */
export function generateInviteCode(length: number = MIN_CODE_LENGTH): string {
  return generateInviteCodes(1, length)[0];
}

/** The longest code the column allows, capped at `MAX_CODE_LENGTH`. */
export function longestCodeFor(facts: SchemaFacts): number {
  const longest = Math.min(MAX_CODE_LENGTH, facts.maxLength ?? MAX_CODE_LENGTH);
  if (longest < MIN_CODE_LENGTH) {
    throw new InviteCodeError(
      "schema",
      `column ${facts.column} is ${facts.columnType}; codes need at least ${MIN_CODE_LENGTH} characters`,
    );
  }
  return longest;
}

// ---------------------------------------------------------------------------
// The repair.

/** How to run a repair or a check. Every field is optional. */
export interface RepairOptions {
  /** Where to read `DATABASE_URL` and friends; default `process.env`. */
  env?: Env;
  /** Commit every this many users instead of once (each batch atomic). */
  batchSize?: number;
  /** Overall deadline in milliseconds; default 120 000. */
  timeoutMs?: number;
  /** Report what a repair would do, change nothing. */
  dryRun?: boolean;
  /** Give new codes to all but the earliest holder of each duplicated code. */
  fixDuplicates?: boolean;
  /** Where log lines go; default stdout. Lines are already redacted. */
  log?: (line: string) => void;
  /** Least time between progress lines; default 5000 ms. */
  progressIntervalMs?: number;
  /** Users per UPDATE statement; default 50 000. Bounds memory. */
  chunkSize?: number;
}

/** What a repair did; `--json` prints it. */
export interface RepairReport {
  status: "ok" | "repaired" | "skipped" | "dry-run" | "failed";
  database: string | null;
  total: number | null;
  missing: number | null;
  generated: number;
  duplicates: number | null;
  schema: SchemaFacts | null;
  durationMs: number;
  error?: { kind: string; message: string };
}

const DEFAULT_TIMEOUT_MS = 120_000;
// Large enough that per-statement work is small beside the writes, small
// enough that a chunk's codes take a few MiB, and few enough savepoints per
// million users (20) to stay under PostgreSQL's 64 cached subtransactions.
const DEFAULT_CHUNK = 50_000;
/** Backfills at least this large refresh the planner's statistics. */
const ANALYZE_AFTER = 10_000;

/**
 * Give every user without an invite code a unique one. Never throws: a
 * failure is logged as the WARNING line and reported with status `failed`.
 */
export async function repair(options: RepairOptions = {}): Promise<RepairReport> {
  const started = performance.now();
  const env = options.env ?? process.env;
  let secrets: readonly string[] = envSecrets(env);
  const log = (line: string) => (options.log ?? console.log)(redact(line, secrets));
  const report: RepairReport = {
    status: "ok",
    database: null,
    total: null,
    missing: null,
    generated: 0,
    duplicates: null,
    schema: null,
    durationMs: 0,
  };
  const deadline = Date.now() + (options.timeoutMs ?? DEFAULT_TIMEOUT_MS);
  let db: Database | undefined;
  try {
    const target = parseDatabaseUrl(resolveDatabaseUrl(env), env);
    secrets = target.secrets;
    report.database = target.display;
    db = await openDatabase(target, { deadline: () => deadline });
    await withDeadline(deadline, db, () => repairOpen(db!, report, options, log, deadline));
  } catch (error) {
    const failure = asFailure(error, secrets);
    report.status = "failed";
    report.error = failure;
    log(`WARNING: Failed to auto-fix invite codes: ${failure.message}`);
  } finally {
    // Forcing the close drops in-flight work; only an expired deadline needs
    // that (withDeadline already did it). Ending gracefully otherwise avoids a
    // postgres.js-under-Deno hang when a socket is destroyed mid-write.
    await closeWithin(db, report.error?.kind === "timeout");
    report.durationMs = Math.round(performance.now() - started);
  }
  return report;
}

async function repairOpen(
  db: Database,
  report: RepairReport,
  options: RepairOptions,
  log: (line: string) => void,
  deadline: number,
): Promise<void> {
  const facts = await db.facts();
  report.schema = facts;
  const absence = describeAbsence(facts);
  if (absence) {
    report.status = "skipped";
    log(`INFO: invite_code column does not exist yet, skipping auto-fix (${absence})`);
    return;
  }
  const longest = longestCodeFor(facts);
  // A quick look without the lock keeps the common start (nothing missing)
  // free of writes and waits.
  const before: Counts = await db.counts(facts);
  report.total = before.total;
  report.missing = before.missing;
  const duplicated = options.fixDuplicates ? await db.duplicates(facts) : 0;
  const nothingToDo = before.missing === 0 && duplicated === 0;
  if (nothingToDo) {
    log(`INFO: All users have invite codes (checked ${before.total} users)`);
  } else if (options.dryRun) {
    report.status = "dry-run";
    log(`INFO: Found ${before.missing} users without invite codes (dry run: nothing changed)`);
  }
  if (nothingToDo || options.dryRun) {
    report.duplicates = await db.duplicates(facts);
    return;
  }

  const state: BackfillState = {
    cursor: null,
    length: MIN_CODE_LENGTH,
    longest,
    generated: 0,
    found: 0,
    chunkSize: options.chunkSize ?? DEFAULT_CHUNK,
    deadline,
    progressIntervalMs: options.progressIntervalMs ?? 5000,
    lastProgress: Date.now(),
    log,
  };
  const budget = options.batchSize ?? Infinity;
  let done = false;
  while (!done) {
    done = await db.transaction(facts, async (tx) => {
      if (state.found === 0) {
        if (options.fixDuplicates) {
          const cleared = await tx.clearDuplicates();
          if (cleared > 0) {
            log(
              `INFO: Cleared the invite codes of ${cleared} users who shared one with an earlier user`,
            );
          }
        }
        // Counted again under the lock: another replica may have done the work.
        state.found = await tx.countMissing();
        if (state.found === 0) return true;
        log(`INFO: Found ${state.found} users without invite codes, generating...`);
      }
      return await assignCodes(tx, state, budget);
    });
  }
  report.generated = state.generated;
  report.missing = state.found;
  if (state.found === 0) {
    log(`INFO: All users have invite codes (checked ${before.total} users)`);
  } else {
    report.status = "repaired";
    log(`SUCCESS: Generated invite codes for ${state.generated} users`);
  }
  if (state.generated >= ANALYZE_AFTER) await db.analyze(facts);
  report.duplicates = await db.duplicates(facts);
}

interface BackfillState {
  cursor: Cursor | null;
  length: number;
  longest: number;
  generated: number;
  found: number;
  chunkSize: number;
  deadline: number;
  progressIntervalMs: number;
  lastProgress: number;
  log: (line: string) => void;
}

/**
 * Walk the table in the dialect's order, assigning codes chunk by chunk, until no row
 * is missing (true) or `budget` users got codes in this transaction (false).
 */
async function assignCodes(
  tx: RepairTransaction,
  state: BackfillState,
  budget: number,
): Promise<boolean> {
  let assigned = 0;
  let conflicts = 0;
  let stalls = 0;
  while (assigned < budget) {
    if (Date.now() >= state.deadline) throw timeoutError(state.deadline);
    const limit = Math.min(state.chunkSize, budget - assigned);
    // A little more than needed, so a few codes already taken still fill the chunk.
    const codes = generateInviteCodes(limit + Math.ceil(limit / 100) + 4, state.length);
    let result;
    try {
      result = await tx.assign(state.cursor, limit, codes);
    } catch (error) {
      // A concurrent writer took one of these codes first: draw new ones.
      if (error instanceof InviteCodeError && error.kind === "conflict" && ++conflicts <= 20) {
        continue;
      }
      throw error;
    }
    if (result.targets === 0) {
      // End of the walk. Rows cleared behind the cursor meanwhile need another pass.
      if (await tx.countMissing() === 0) return true;
      state.cursor = null;
      continue;
    }
    state.cursor = result.cursor;
    state.generated += result.assigned;
    assigned += result.assigned;
    if (result.rejected * 2 > codes.length) {
      if (state.length < state.longest) state.length++;
      else if (result.assigned === 0 && ++stalls > 10) {
        throw new InviteCodeError(
          "database",
          `no free ${state.length}-character codes left: most candidates are taken`,
        );
      }
    }
    const now = Date.now();
    if (now - state.lastProgress >= state.progressIntervalMs) {
      state.lastProgress = now;
      const percent = Math.floor((state.generated * 100) / state.found);
      state.log(
        `INFO: Generated invite codes for ${state.generated} of ${state.found} users (${percent}%)`,
      );
    }
  }
  return false;
}

function timeoutError(deadline: number): InviteCodeError {
  return new InviteCodeError(
    "timeout",
    `timed out at the deadline ${new Date(deadline).toISOString()} (--timeout)`,
  );
}

/**
 * Close `db`, giving up after 3 s: a driver wedged by a dropped connection
 * must not hold a fail-open process open.
 */
export async function closeWithin(db: Database | undefined, force = false): Promise<void> {
  if (!db) return;
  let timer: ReturnType<typeof setTimeout> | undefined;
  await Promise.race([
    db.close(force).catch(() => {}),
    new Promise<void>((resolve) => (timer = setTimeout(resolve, 3000))),
  ]);
  clearTimeout(timer);
}

/** Run `work`, abandoning it and the connection when the deadline passes. */
async function withDeadline<T>(deadline: number, db: Database, work: () => Promise<T>): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const expired = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      // Dropping the connection rolls back whatever was in flight.
      void closeWithin(db, true);
      reject(timeoutError(deadline));
    }, Math.max(0, deadline - Date.now()));
  });
  const running = work();
  running.catch(() => {});
  try {
    return await Promise.race([running, expired]);
  } finally {
    clearTimeout(timer);
  }
}

/** A one-line, secret-free account of any error. */
function asFailure(error: unknown, secrets: readonly string[]): { kind: string; message: string } {
  const kind = error instanceof InviteCodeError ? error.kind : "internal";
  const raw = error instanceof Error ? error.message : String(error);
  const line = raw.replace(/\s+/g, " ").trim().slice(0, 500) || "unknown error";
  return { kind, message: redact(line, secrets) };
}

// ---------------------------------------------------------------------------
// The check: read-only, for `--check`, the probe and library callers.

/** What the table looks like now. */
export interface Inspection {
  status: "pass" | "missing" | "duplicates" | "absent" | "error";
  /** Human reason when status is not `pass`. */
  reason: string | null;
  total: number | null;
  missing: number | null;
  duplicates: number | null;
  schema: SchemaFacts | null;
  durationMs: number;
  error?: { kind: string; message: string };
}

/**
 * Inspect an open database: schema facts, users, missing codes, duplicates.
 * Never throws; past `timeoutMs` it abandons the connection (the caller must
 * open a new one) and reports status `error`.
 */
export async function inspect(
  db: Database,
  options: { secrets?: readonly string[]; timeoutMs?: number } = {},
): Promise<Inspection> {
  const started = performance.now();
  const result: Inspection = {
    status: "pass",
    reason: null,
    total: null,
    missing: null,
    duplicates: null,
    schema: null,
    durationMs: 0,
  };
  const deadline = Date.now() + (options.timeoutMs ?? DEFAULT_TIMEOUT_MS);
  try {
    await withDeadline(deadline, db, async () => {
      const facts = await db.facts();
      result.schema = facts;
      const absence = describeAbsence(facts);
      if (absence) {
        result.status = "absent";
        result.reason = absence;
        return;
      }
      const { total, missing } = await db.counts(facts);
      Object.assign(result, { total, missing, duplicates: await db.duplicates(facts) });
      if (missing > 0) {
        result.status = "missing";
        result.reason = `${missing} of ${total} users have no invite code`;
      } else if (result.duplicates! > 0) {
        result.status = "duplicates";
        result.reason = `${result.duplicates} users hold a code another user also holds`;
      }
    });
  } catch (error) {
    result.status = "error";
    result.error = asFailure(error, options.secrets ?? []);
    result.reason = result.error.message;
  }
  result.durationMs = Math.round(performance.now() - started);
  return result;
}

/** Read-only check of the configured database; never throws. */
export async function check(
  options: RepairOptions = {},
): Promise<Inspection & { database: string | null }> {
  const env = options.env ?? process.env;
  const timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  let target: DatabaseTarget;
  try {
    target = parseDatabaseUrl(resolveDatabaseUrl(env), env);
  } catch (error) {
    const failure = asFailure(error, envSecrets(env));
    return {
      status: "error",
      reason: failure.message,
      error: failure,
      total: null,
      missing: null,
      duplicates: null,
      schema: null,
      durationMs: 0,
      database: null,
    };
  }
  const deadline = Date.now() + timeoutMs;
  const db = await openDatabase(target, { deadline: () => deadline, readOnly: true });
  try {
    const result = await inspect(db, { secrets: target.secrets, timeoutMs });
    return { ...result, database: target.display };
  } finally {
    await closeWithin(db);
  }
}

// ---------------------------------------------------------------------------
// The CLI.

const HELP = `invite-code-repair ${VERSION}: give every Open WebUI user a unique invite code

Usage: node mod.ts [flags]
       deno run --allow-env --allow-net --allow-read --allow-write mod.ts [flags]

With no flag, repairs: users without a code (NULL, empty or blank) get a new
unique one, in one transaction. Failures print a WARNING line and exit 0 so the
app still starts.

Flags:
  --check              read-only: exit 0 when nothing is missing, 1 when users
                       lack codes or codes are duplicated, 2 when it cannot run
  --dry-run            report what a repair would do, change nothing
  --json               print one JSON report on stdout (log lines go to stderr)
  --fix-duplicates     also give new codes to all but the earliest holder
                       (by created_at) of each code that several users share
  --strict             exit 1 when the repair fails (default: fail open, exit 0)
  --batch-size N       commit every N users instead of once (each batch atomic)
  --timeout SECONDS    give up after this long (default 120)
  --help, --version

Database (as Open WebUI resolves it): DATABASE_URL; else DATABASE_TYPE, _USER,
_PASSWORD, _HOST, _PORT, _NAME; else sqlite:///\${DATA_DIR:-./data}/webui.db.
DATABASE_SCHEMA names the PostgreSQL schema holding "user".`;

class UsageError extends Error {}

function parseCli(args: string[]) {
  let parsed;
  try {
    parsed = parseArgs({
      args,
      strict: true,
      allowPositionals: false,
      options: {
        check: { type: "boolean" },
        "dry-run": { type: "boolean" },
        "fix-duplicates": { type: "boolean" },
        json: { type: "boolean" },
        strict: { type: "boolean" },
        "batch-size": { type: "string" },
        timeout: { type: "string" },
        help: { type: "boolean", short: "h" },
        version: { type: "boolean", short: "V" },
      },
    }).values;
  } catch (error) {
    const message = error instanceof Error ? error.message.split(/\. |\n/)[0] : String(error);
    throw new UsageError(message.charAt(0).toLowerCase() + message.slice(1));
  }
  if (parsed.check && parsed["dry-run"]) {
    throw new UsageError("--check and --dry-run exclude each other");
  }
  return {
    ...parsed,
    batchSize: parsed["batch-size"] === undefined
      ? undefined
      : parseNumber("--batch-size", parsed["batch-size"], { integer: true, max: 100_000_000 }),
    timeoutMs: parsed.timeout === undefined
      ? DEFAULT_TIMEOUT_MS
      : parseNumber("--timeout", parsed.timeout, { integer: false, max: 86_400 }) * 1000,
  };
}

function parseNumber(flag: string, raw: string, rule: { integer: boolean; max: number }): number {
  const value = /^\s*\d+(\.\d+)?\s*$/.test(raw) ? Number(raw) : NaN;
  if (!(value > 0 && value <= rule.max) || (rule.integer && !Number.isInteger(value))) {
    const kind = rule.integer ? "a whole number" : "a number";
    const shown = JSON.stringify(raw.length > 40 ? `${raw.slice(0, 40)}...` : raw);
    throw new UsageError(`${flag} needs ${kind} from 1 to ${rule.max}, got ${shown}`);
  }
  return value;
}

/** Run the CLI with `args`; resolves to the exit code. */
export async function main(args: string[], env: Env = process.env): Promise<number> {
  let cli;
  try {
    cli = parseCli(args);
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    console.error(`ERROR: ${redact(message, envSecrets(env))} (see --help)`);
    return 2;
  }
  if (cli.help) {
    console.log(HELP);
    return 0;
  }
  if (cli.version) {
    console.log(VERSION);
    return 0;
  }
  // With --json, stdout carries only the report.
  const log = cli.json
    ? (line: string) => console.error(line)
    : (line: string) => console.log(line);
  const print = (report: object) => cli.json && console.log(JSON.stringify(report));

  if (cli.check) {
    const result = await check({ env, timeoutMs: cli.timeoutMs });
    if (result.status === "pass") {
      log(`INFO: All users have invite codes (checked ${result.total} users)`);
    } else if (result.status === "error") {
      log(`ERROR: Could not check invite codes: ${result.reason}`);
    } else {
      log(`FAIL: ${result.reason}`);
    }
    print(result);
    return result.status === "pass" ? 0 : result.status === "error" ? 2 : 1;
  }

  const report = await repair({
    env,
    log,
    dryRun: cli["dry-run"],
    fixDuplicates: cli["fix-duplicates"],
    batchSize: cli.batchSize,
    timeoutMs: cli.timeoutMs,
  });
  print(report);
  return report.status === "failed" && cli.strict ? 1 : 0;
}

/** `import.meta.main`, also on Node before 24.2 which lacks it. */
export function isEntryPoint(meta: ImportMeta): boolean {
  const main = (meta as ImportMeta & { main?: boolean }).main;
  if (typeof main === "boolean") return main;
  const entry = process.argv[1];
  try {
    return !!entry && realpathSync(entry) === realpathSync(fileURLToPath(meta.url));
  } catch {
    return false;
  }
}

/**
 * Keep a driver error that escapes every promise from crashing the process:
 * postgres.js under Deno can throw from a timer after its socket is gone,
 * once the repair has already failed open. One line on stderr, no stack.
 */
export function containStrayErrors(env: Env = process.env): void {
  const contain = (error: unknown) => {
    const message = error instanceof Error ? error.message : String(error);
    console.error(
      `WARNING: ignored a stray database driver error: ${
        redact(message.replace(/\s+/g, " ").slice(0, 300), envSecrets(env))
      }`,
    );
  };
  process.on("uncaughtException", contain);
  process.on("unhandledRejection", contain);
}

if (isEntryPoint(import.meta)) {
  containStrayErrors();
  process.exit(await main(process.argv.slice(2)));
}
