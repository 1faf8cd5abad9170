/**
 * The read-only inspection: what the table looks like now. The probe runs it
 * on a schedule; `--check` and library callers run it once through `check`.
 *
 * @module
 */
import process from "node:process";
import type { Database, SchemaFacts } from "./db/dialect.ts";
import { openDatabase } from "./db/open.ts";
import { closeWithin, DEFAULT_TIMEOUT_MS, withDeadline } from "./deadline.ts";
import { describeFailure, type Failure } from "./errors.ts";
import { sharedReason } from "./messages.ts";
import { type Env, envSecrets } from "./connect/environment.ts";
import { resolveTarget } from "./connect/target.ts";

/** What the table looks like now. */
export interface Inspection {
  status: "pass" | "missing" | "duplicates" | "absent" | "error";
  /** Human reason when status is not `pass`. */
  reason: string | null;
  total: number | null;
  missing: number | null;
  /** Users holding a code another user also holds (every holder). */
  duplicates: number | null;
  /** How many codes those users share. */
  sharedCodes: number | null;
  schema: SchemaFacts | null;
  durationMs: number;
  error?: Failure;
}

/** An inspection that could not look: nothing is known but why. */
export function failedInspection(error: Failure, durationMs = 0): Inspection {
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
 * Never throws; past `timeoutMs` it abandons the connection (the caller must
 * open a new one) and reports status `error`.
 *
 * @example
 * ```ts
 * const result = await inspect(db, { timeoutMs: 3000 });
 * result.status; // "pass"
 * ```
 * @param db An open database.
 * @param options Secrets to mask in reasons, the time limit, and the setting that sets it
 *   (named in a timeout's reason; default `--timeout`).
 */
export async function inspect(
  db: Database,
  options: { secrets?: readonly string[]; timeoutMs?: number; timeoutSetting?: string } = {},
): Promise<Inspection> {
  const started = performance.now();
  const deadline = Date.now() + (options.timeoutMs ?? DEFAULT_TIMEOUT_MS);
  let result: Inspection;
  try {
    result = await withDeadline(deadline, db, () => look(db), options.timeoutSetting);
  } catch (error) {
    result = failedInspection(describeFailure(error, options.secrets ?? []));
  }
  result.durationMs = Math.round(performance.now() - started);
  return result;
}

async function look(db: Database): Promise<Inspection> {
  const schema = await db.schema();
  const result: Inspection = {
    status: "pass",
    reason: null,
    total: null,
    missing: null,
    duplicates: null,
    sharedCodes: null,
    schema: schema.facts,
    durationMs: 0,
  };
  if (schema.absence !== null) {
    return { ...result, status: "absent", reason: schema.absence };
  }
  const { total, missing } = schema.counts;
  const shared = await schema.table.duplicates();
  const duplicates = shared.users;
  Object.assign(result, { total, missing, duplicates, sharedCodes: shared.codes });
  if (missing > 0) {
    return {
      ...result,
      status: "missing",
      reason: `${missing} of ${total} users have no invite code`,
    };
  }
  if (duplicates > 0) {
    return {
      ...result,
      status: "duplicates",
      reason: sharedReason(duplicates, shared.codes),
    };
  }
  return result;
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
  const timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  const deadline = Date.now() + timeoutMs;
  let secrets: readonly string[] = [];
  let db: Database | undefined;
  try {
    secrets = envSecrets(env);
    const target = resolveTarget(env);
    secrets = target.secrets;
    db = await openDatabase(target, { deadline: () => deadline, readOnly: true });
    return { ...await inspect(db, { secrets, timeoutMs }), database: target.display };
  } catch (error) {
    return { ...failedInspection(describeFailure(error, secrets)), database: null };
  } finally {
    await closeWithin(db);
  }
}
