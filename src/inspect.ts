/**
 * The read-only inspection: what the table looks like now. The probe runs it
 * on a schedule; `--check` and library callers run it once through `check`.
 *
 * @module
 */
import process from "node:process";
import type { Database, SchemaFacts } from "./db/dialect.ts";
import { openDatabase } from "./db/open.ts";
import { closeWithin, Deadline, DEFAULT_TIMEOUT_MS, withDeadline } from "./deadline.ts";
import { describeFailure, type Failure } from "./errors.ts";
import { sharedReason } from "./messages.ts";
import { type Env, envSecrets } from "./connect/environment.ts";
import { resolveTarget } from "./connect/target.ts";

/**
 * What the table looks like now, by `status`: counted (`pass`, `missing`,
 * `duplicates`), not there to count (`absent`), or not looked at (`error`).
 * Every variant has every key, null where it knows nothing, so the JSON made
 * of it has one shape.
 */
export type Inspection =
  | CountedInspection<"pass">
  | CountedInspection<"missing">
  | CountedInspection<"duplicates">
  | AbsentInspection
  | FailedInspection;

/**
 * The table was there and counted: every user has a code of their own
 * (`pass`), or `reason` says how many have none, or share one.
 */
export interface CountedInspection<Status extends "pass" | "missing" | "duplicates"> {
  status: Status;
  reason: Status extends "pass" ? null : string;
  total: number;
  missing: number;
  /** Users holding a code another user also holds (every holder). */
  duplicates: number;
  /** How many codes those users share. */
  sharedCodes: number;
  schema: SchemaFacts;
  durationMs: number;
  error?: undefined;
}

/** Nothing to count: the file, the table or the column is not there (`reason` says which). */
export interface AbsentInspection {
  status: "absent";
  reason: string;
  total: null;
  missing: null;
  duplicates: null;
  sharedCodes: null;
  schema: SchemaFacts;
  durationMs: number;
  error?: undefined;
}

/** The inspection could not look: nothing is known but why. */
export interface FailedInspection {
  status: "error";
  reason: string;
  error: Failure;
  total: null;
  missing: null;
  duplicates: null;
  sharedCodes: null;
  schema: null;
  durationMs: number;
}

/** An inspection that could not look: nothing is known but why. */
export function failedInspection(error: Failure, durationMs = 0): FailedInspection {
  return {
    status: "error",
    reason: error.message,
    error,
    total: null,
    missing: null,
    duplicates: null,
    sharedCodes: null,
    schema: null,
    durationMs,
  };
}

/**
 * Inspect an open database: schema facts, users, missing codes, duplicates.
 * Never throws; past its deadline it abandons the connection (the caller
 * must open a new one) and reports status `error`.
 *
 * @example
 * ```ts
 * import type { Database } from "./db/dialect.ts";
 * declare const db: Database; // an open database
 * const result = await inspect(db, { timeoutMs: 3000 });
 * result.status; // "pass" when every user has a code of their own
 * ```
 * @param db An open database.
 * @param options Secrets to mask in reasons, and the time limit: `timeoutMs`
 *   (default 120 000), or a `deadline` that names its own setting.
 */
export async function inspect(
  db: Database,
  options: { secrets?: readonly string[]; timeoutMs?: number; deadline?: Deadline } = {},
): Promise<Inspection> {
  const started = performance.now();
  const deadline = options.deadline ?? Deadline.after(options.timeoutMs ?? DEFAULT_TIMEOUT_MS);
  let result: Inspection;
  try {
    result = await withDeadline(deadline, db, () => look(db));
  } catch (error) {
    result = failedInspection(describeFailure(error, options.secrets ?? []));
  }
  result.durationMs = Math.round(performance.now() - started);
  return result;
}

async function look(db: Database): Promise<Inspection> {
  const schema = await db.schema();
  if (schema.absence !== null) {
    return {
      status: "absent",
      reason: schema.absence,
      total: null,
      missing: null,
      duplicates: null,
      sharedCodes: null,
      schema: schema.facts,
      durationMs: 0,
    };
  }
  const { total, missing } = schema.counts;
  const shared = await schema.table.duplicates();
  const counted = {
    total,
    missing,
    duplicates: shared.users,
    sharedCodes: shared.codes,
    schema: schema.facts,
    durationMs: 0,
  };
  if (missing > 0) {
    return {
      status: "missing",
      reason: `${missing} of ${total} users have no invite code`,
      ...counted,
    };
  }
  if (shared.users > 0) {
    return { status: "duplicates", reason: sharedReason(shared.users, shared.codes), ...counted };
  }
  return { status: "pass", reason: null, ...counted };
}

/** What `check` reports: an inspection, and the database it looked at. */
export type CheckResult = Inspection & { database: string | null };

/**
 * Read-only check of the configured database. Never throws: a URL it cannot
 * use, a refused connection or a timeout is status `error`.
 *
 * @example
 * ```ts
 * (await check({ env: { DATABASE_URL: "sqlite:///data/webui.db" } })).status; // "pass"
 * ```
 * @param options Where to read the environment, and the time limit in ms.
 */
export async function check(
  options: { env?: Env; timeoutMs?: number } = {},
): Promise<CheckResult> {
  const env = options.env ?? process.env;
  // One deadline for the whole check: opening makes no connection, the first query does.
  const deadline = Deadline.after(options.timeoutMs ?? DEFAULT_TIMEOUT_MS);
  let secrets: readonly string[] = [];
  let db: Database | undefined;
  try {
    secrets = envSecrets(env);
    const target = resolveTarget(env);
    secrets = target.secrets;
    db = await openDatabase(target, { deadline: () => deadline, readOnly: true });
    return { ...await inspect(db, { secrets, deadline }), database: target.display };
  } catch (error) {
    return { ...failedInspection(describeFailure(error, secrets)), database: null };
  } finally {
    await closeWithin(db);
  }
}
