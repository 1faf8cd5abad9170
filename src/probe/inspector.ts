/**
 * The probe's view of the database: one inspection at a time, shared by all
 * callers, cached for `cacheMs`. Once that expires, the caller that finds it
 * expired starts a refresh and waits for it; callers that arrive while that
 * refresh runs get the previous answer at once, so a burst of requests never
 * queues behind the database. Staleness is bounded: an answer older than
 * `cacheMs + timeoutMs` (a refresh is bounded by `timeoutMs`) is never served.
 *
 * @module
 */
import type { DatabaseTarget } from "../connect/target.ts";
import type { Database } from "../db/dialect.ts";
import { openDatabase } from "../db/open.ts";
import { closeWithin, Deadline } from "../deadline.ts";
import { describeFailure } from "../errors.ts";
import { failedInspection, inspect, type Inspection } from "../inspect.ts";

/** An inspection and when it finished. */
export interface Observed {
  result: Inspection;
  /** Epoch milliseconds. */
  at: number;
}

/** A cached, shared, time-bounded inspector. */
export interface Inspector {
  /** The latest answer, fresh or at most `cacheMs + timeoutMs` old. */
  latest(): Promise<Observed>;
  /** What `latest()` would give without waiting, or undefined when it would wait. */
  current(): Observed | undefined;
  /** Look now, sharing an inspection already running. */
  refresh(): Promise<Observed>;
  /** Inspections run so far: what the database actually saw. */
  readonly inspections: number;
  /** Inspections that could not read the table (no connection, a timeout, ...). */
  readonly failures: number;
  /** Whether any inspection has finished yet: before that, nobody knows. */
  readonly answered: boolean;
  close(): Promise<void>;
}

/** How the inspector reaches the database. */
export interface InspectorOptions {
  /** The target, or why there is none (a URL it cannot use). */
  target: DatabaseTarget | Error;
  cacheMs: number;
  timeoutMs: number;
  /** Called with each finished inspection (the probe logs failures). */
  onResult?: (result: Inspection) => void;
}

/**
 * Build the inspector.
 *
 * @example
 * ```ts
 * import { resolveTarget } from "../connect/target.ts";
 * const target = resolveTarget({ DATABASE_URL: "sqlite:///data/webui.db" });
 * const inspector = createInspector({ target, cacheMs: 2000, timeoutMs: 3000 });
 * (await inspector.latest()).result.missing; // users without a code, e.g. 0
 * ```
 * @param options Target, cache and time limits.
 */
export function createInspector(options: InspectorOptions): Inspector {
  const { target, cacheMs, timeoutMs } = options;
  // The database is opened once; each use of it is bounded anew, and a
  // check cut short names the probe's own setting.
  const bound = () => Deadline.after(timeoutMs, "HEALTH_TIMEOUT_MS");
  let db: Database | undefined;
  let cached: Observed | undefined;
  let inFlight: Promise<Observed> | undefined;
  let inspections = 0;
  let failures = 0;

  async function inspectNow(): Promise<Inspection> {
    inspections++;
    if (target instanceof Error) return failedInspection(describeFailure(target, []));
    try {
      db ??= await openDatabase(target, { deadline: bound, readOnly: true });
    } catch (error) {
      return failedInspection(describeFailure(error, target.secrets));
    }
    const result = await inspect(db, { secrets: target.secrets, deadline: bound() });
    // Start afresh after an error: the connection may be dead or abandoned.
    // A SQLite file is reopened every time, so a replaced file is seen.
    if (result.status === "error" || target.dialect === "sqlite") {
      const stale = db;
      db = undefined;
      // Not awaited: the next check must not wait on closing a dead connection.
      const kind = result.error?.kind;
      void closeWithin(stale, kind === "timeout" || kind === "connect");
    }
    return result;
  }

  function refresh(): Promise<Observed> {
    inFlight ??= inspectNow()
      .then((result) => {
        if (result.status === "error") failures++;
        cached = { result, at: Date.now() };
        options.onResult?.(result);
        return cached;
      })
      .finally(() => (inFlight = undefined));
    return inFlight;
  }

  function current(): Observed | undefined {
    if (!cached) return undefined;
    const age = Date.now() - cached.at;
    return age < cacheMs || (inFlight && age < cacheMs + timeoutMs) ? cached : undefined;
  }

  return {
    latest() {
      const now = current();
      return now ? Promise.resolve(now) : refresh();
    },
    current,
    refresh,
    get inspections() {
      return inspections;
    },
    get failures() {
      return failures;
    },
    get answered() {
      return cached !== undefined;
    },
    async close() {
      await closeWithin(db);
    },
  };
}
