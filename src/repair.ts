/**
 * The repair: give every user without an invite code a unique one, in one
 * transaction (or one per batch), under the dialect's lock, and report what
 * happened without ever throwing.
 *
 * @module
 */
import process from "node:process";
import { setTimeout as delay } from "node:timers/promises";
import {
  generateInviteCodeList,
  generateInviteCodes,
  longestCodeFor,
  MIN_CODE_LENGTH,
} from "./codes.ts";
import type {
  AssignResult,
  Cursor,
  Database,
  RepairTransaction,
  SchemaFacts,
  UserTable,
} from "./db/dialect.ts";
import { openDatabase } from "./db/open.ts";
import { closeWithin, Deadline, DEFAULT_TIMEOUT_MS, withDeadline } from "./deadline.ts";
import {
  describeFailure,
  type Failure,
  InviteCodeError,
  isInviteCodeError,
  redact,
} from "./errors.ts";
import { LOG } from "./messages.ts";
import { type Env, envSecrets } from "./connect/environment.ts";
import { resolveTarget } from "./connect/target.ts";

/**
 * How a background repair spares the application its database: committed
 * batches, a cap on the write rate, and a pause while the server is busy.
 */
export interface Throttle {
  /** Users given codes per second at most; 0 for no cap. */
  maxRate: number;
  /** Pause while a standby's replay lags more than this many seconds. */
  maxLagSeconds: number;
  /** Pause while more than this many other sessions run a statement. */
  maxActiveSessions: number;
  /** Told why the repair pauses, or null when it goes on. */
  onPause?: (why: string | null) => void;
}

/** How to run a repair. Every field is optional. */
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
  /** Between batches (with `batchSize`): pace the writes and pause while the server is busy. */
  throttle?: Throttle;
  /**
   * With `batchSize`: once aborted, stop after the batch in progress commits
   * (or at once, while paused). What committed stays and is reported. A stop
   * request (the probe's SIGTERM), not a deadline: nothing is cut short or
   * rolled back, so it stays a signal beside the `Deadline`.
   */
  signal?: AbortSignal;
}

/**
 * What a repair did; `--json` prints it. By `status`: it did its work
 * (`ok`, `repaired`, `dry-run`), had nothing to work on (`skipped`), or was
 * stopped by an error (`partial`: batches committed before it; `failed`:
 * nothing did). Every variant has every key, null where it knows nothing,
 * so the JSON made of it has one shape.
 */
export type RepairReport = DoneReport | SkippedReport | StoppedReport;

/** The table was there and counted: nothing to do, codes given, or what a dry run would give. */
export interface DoneReport {
  status: "ok" | "repaired" | "dry-run";
  database: string;
  total: number;
  missing: number;
  /** Users whose new code is committed (a dry run: 0). */
  generated: number;
  /** Users still without a code when the run ended, as far as it knows. */
  remaining: number;
  /** Users holding a code another user also holds (every holder); null when it could not count them again. */
  duplicates: number | null;
  /** How many codes those users share. */
  sharedCodes: number | null;
  schema: SchemaFacts;
  durationMs: number;
  reason: null;
  error?: undefined;
}

/** Nothing to work on: the file, the table or the column is not there (`reason` says which). */
export interface SkippedReport {
  status: "skipped";
  database: string;
  total: null;
  missing: null;
  generated: 0;
  remaining: null;
  duplicates: null;
  sharedCodes: null;
  schema: SchemaFacts;
  durationMs: number;
  reason: string;
  error?: undefined;
}

/**
 * An error stopped the run: `generated` counts what committed (0 when
 * `failed`), `remaining` what the next run still has to do, and the counts
 * are what it learnt before it stopped.
 */
export interface StoppedReport {
  status: "partial" | "failed";
  database: string | null;
  total: number | null;
  missing: number | null;
  generated: number;
  remaining: number | null;
  duplicates: number | null;
  sharedCodes: number | null;
  schema: SchemaFacts | null;
  durationMs: number;
  reason: string;
  error: Failure;
}

// Large enough that per-statement work is small beside the writes, small
// enough that a chunk's codes take a few MiB, and few enough savepoints per
// million users (20) to stay under PostgreSQL's 64 cached subtransactions.
const DEFAULT_CHUNK = 50_000;
/** Backfills at least this large refresh the planner's statistics. */
const ANALYZE_AFTER = 10_000;
/** Rounds of new codes for rows whose code a concurrent writer also took. */
const RELEASE_ROUNDS = 3;
/**
 * Passes over users who went missing while the repair ran (a replica's app
 * signing users up without codes, a script clearing them). Bounded, and each
 * must be smaller than the one before, so a writer as fast as the repair
 * cannot keep it from committing until the deadline rolls everything back.
 */
const CATCH_UP_ROUNDS = 3;
/** How long the best-effort work after the commit may take. */
const UPKEEP_MS = 10_000;
/**
 * An atomic repair stops at once when the rate it measured says it would end
 * later than this share of the time left: later chunks only get slower, as
 * the unique index grows.
 */
const FINISH_MARGIN = 1.1;
/** How often a paused, throttled repair looks at the server again. */
const PAUSE_MS = 1_000;
/** A wait longer than this (a slow host, another replica's lock) is said in one INFO line. */
const WAIT_NOTICE_MS = 5_000;

/** Log `line` once if `cancel` is not called within WAIT_NOTICE_MS. */
function noticeIfSlow(log: (line: string) => void, line: string): { cancel(): void } {
  const timer = setTimeout(() => log(line), WAIT_NOTICE_MS);
  return { cancel: () => clearTimeout(timer) };
}

/**
 * Give every user without an invite code a unique one. Never throws: a
 * failure is logged as the WARNING line and reported with status `failed`;
 * work that committed is never reported as failed.
 *
 * @example
 * ```ts
 * const report = await repair({ env: { DATABASE_URL: "sqlite:///data/webui.db" } });
 * report.status; // "repaired"
 * ```
 * @param options Environment, batch size, deadline, dry run, where lines go.
 */
export async function repair(options: RepairOptions = {}): Promise<RepairReport> {
  const started = performance.now();
  const env = options.env ?? process.env;
  let secrets: readonly string[] = envSecrets(env);
  const log = (line: string) => (options.log ?? console.log)(redact(line, secrets));
  const seen: Seen = {
    schema: null,
    total: null,
    missing: null,
    duplicates: null,
    sharedCodes: null,
  };
  // What committed so far, kept outside the work the deadline may abandon.
  const progress: Progress = { committed: 0, found: 0 };
  const deadline = Deadline.after(options.timeoutMs ?? DEFAULT_TIMEOUT_MS);
  // After the commit, the upkeep's own bound is the one the connection keeps to.
  let upkeepDeadline: Deadline | undefined;
  let db: Database | undefined;
  let slowHost: { cancel(): void } | undefined;
  let database: string | null = null;
  let report: RepairReport;
  try {
    const target = resolveTarget(env);
    secrets = target.secrets;
    database = target.display;
    // Until the first answer (a host that drops packets, a table another
    // transaction has locked), a start would otherwise stay silent.
    slowHost = noticeIfSlow(log, LOG.waitingForDatabase(target.display));
    const opened = await openDatabase(target, { deadline: () => upkeepDeadline ?? deadline, log });
    db = opened;
    const answered = slowHost.cancel;
    const ending = await withDeadline(
      deadline,
      opened,
      () => repairOpen(opened, seen, options, log, deadline, answered, progress),
    );
    // The codes are committed: upkeep gets a short bound of its own, and
    // nothing it meets can turn the report into a failure.
    const committed = ending.status === "skipped" ? undefined : ending.committed;
    if (committed) {
      upkeepDeadline = Deadline.after(UPKEEP_MS);
      try {
        await withDeadline(
          upkeepDeadline,
          opened,
          () => afterCommit(committed.table, committed.backfill, seen, log),
        );
      } catch (error) {
        log(LOG.maintenanceSkipped(describeFailure(error, secrets).message));
      }
    }
    report = endReport(target.display, ending, seen);
  } catch (error) {
    const failure = describeFailure(error, secrets);
    report = stopReport(database, failure, seen, progress);
    if (report.status === "partial") {
      // Committed batches stay: the report says what they did and what is left.
      log(
        LOG.partial(
          progress.committed,
          progress.found,
          Math.max(0, progress.found - progress.committed),
          failure.message,
        ),
      );
    } else {
      log(LOG.failed(failure.message));
    }
  } finally {
    slowHost?.cancel();
  }
  // Codes several users hold are told, not hidden behind "All users have invite codes".
  if (!options.fixDuplicates && report.duplicates && report.status !== "failed") {
    log(LOG.duplicatesLeft(report.duplicates, report.sharedCodes ?? 1));
  }
  // Forcing the close drops in-flight work; only an expired deadline needs
  // that (withDeadline already did it).
  await closeWithin(db, report.error?.kind === "timeout");
  report.durationMs = Math.round(performance.now() - started);
  return report;
}

/** What the run has learnt of the table so far: what a report can say, even of a failed run. */
interface Seen {
  schema: SchemaFacts | null;
  total: number | null;
  missing: number | null;
  duplicates: number | null;
  sharedCodes: number | null;
}

/** How a run that met no error ended; `committed` when codes were written. */
type Ending =
  | { status: "skipped"; schema: SchemaFacts; reason: string }
  | {
    status: "ok" | "repaired" | "dry-run";
    schema: SchemaFacts;
    total: number;
    missing: number;
    generated: number;
    committed?: Committed;
  };

/** The report of a run that met no error. */
function endReport(database: string, ending: Ending, seen: Seen): DoneReport | SkippedReport {
  if (ending.status === "skipped") {
    return {
      status: "skipped",
      database,
      total: null,
      missing: null,
      generated: 0,
      remaining: null,
      duplicates: null,
      sharedCodes: null,
      schema: ending.schema,
      durationMs: 0,
      reason: ending.reason,
    };
  }
  return {
    status: ending.status,
    database,
    total: ending.total,
    missing: ending.missing,
    generated: ending.generated,
    remaining: Math.max(0, ending.missing - ending.generated),
    duplicates: seen.duplicates,
    sharedCodes: seen.sharedCodes,
    schema: ending.schema,
    durationMs: 0,
    reason: null,
  };
}

/**
 * The report of a run an error stopped: `partial` when batches committed
 * before it, which stay; `failed` when nothing did.
 */
function stopReport(
  database: string | null,
  error: Failure,
  seen: Seen,
  progress: Progress,
): StoppedReport {
  const partial = progress.committed > 0;
  const missing = partial ? progress.found : seen.missing;
  const generated = partial ? progress.committed : 0;
  return {
    status: partial ? "partial" : "failed",
    database,
    total: seen.total,
    missing,
    generated,
    remaining: missing === null ? null : Math.max(0, missing - generated),
    duplicates: seen.duplicates,
    sharedCodes: seen.sharedCodes,
    schema: seen.schema,
    durationMs: 0,
    reason: error.message,
    error,
  };
}

/** Users whose codes committed, of those found missing: what a failure cannot take back. */
interface Progress {
  committed: number;
  found: number;
}

/** What a repair committed, for the upkeep after it; undefined when nothing was written. */
interface Committed {
  table: UserTable;
  backfill: Backfill;
}

async function repairOpen(
  db: Database,
  seen: Seen,
  options: RepairOptions,
  log: (line: string) => void,
  deadline: Deadline,
  answered: () => void,
  progress: Progress,
): Promise<Ending> {
  const schema = await db.schema();
  answered();
  seen.schema = schema.facts;
  if (schema.absence !== null) {
    log(LOG.skipped(schema.absence));
    return { status: "skipped", schema: schema.facts, reason: schema.absence };
  }
  const table = schema.table;
  const longest = longestCodeFor(schema.facts);
  // The schema's look counts without the lock: the common start (nothing
  // missing) stays free of writes and waits.
  const before = schema.counts;
  seen.total = before.total;
  seen.missing = before.missing;
  const shared = await table.duplicates();
  seen.duplicates = shared.users;
  seen.sharedCodes = shared.codes;
  const counted = { schema: schema.facts, total: before.total, missing: before.missing };
  const fixing = options.fixDuplicates ? shared.users - shared.codes : 0;
  if (before.missing === 0 && fixing === 0) {
    log(LOG.allHaveCodes(before.total));
    return { status: "ok", ...counted, generated: 0 };
  }
  if (options.dryRun) {
    log(LOG.foundDryRun(before.missing));
    if (fixing > 0) log(LOG.duplicatesDryRun(fixing, shared.users, shared.codes));
    return { status: "dry-run", ...counted, generated: 0 };
  }
  if (schema.facts.server?.standby) {
    // A standby can tell what is missing; only the primary can write it.
    throw new InviteCodeError("database", LOG.standby(before.missing));
  }

  const backfill = new Backfill(table, {
    longest,
    chunkSize: options.chunkSize ?? DEFAULT_CHUNK,
    budget: options.batchSize ?? Infinity,
    throttle: options.throttle,
    signal: options.signal,
    deadline,
    progressIntervalMs: options.progressIntervalMs ?? 5000,
    fixDuplicates: options.fixDuplicates ?? false,
    log,
    onCommit(committed, found) {
      progress.committed = committed;
      progress.found = found;
    },
  });
  await backfill.run();
  const done = { ...counted, missing: backfill.found, generated: backfill.generated };
  if (backfill.found === 0) {
    log(LOG.allHaveCodes(before.total));
    return { status: "ok", ...done };
  }
  log(LOG.success(backfill.generated));
  // Stopped on request: the upkeep is for a finished repair.
  return {
    status: "repaired",
    ...done,
    committed: backfill.stopped ? undefined : { table, backfill },
  };
}

/** Best-effort work after the codes committed. */
async function afterCommit(
  table: UserTable,
  backfill: Backfill,
  seen: Seen,
  log: (line: string) => void,
): Promise<void> {
  try {
    for (let round = 0; round < RELEASE_ROUNDS; round++) {
      const released = await table.releaseSharedCodes();
      if (released === 0) break;
      const before = backfill.generated;
      await backfill.run();
      log(LOG.reassigned(backfill.generated - before));
    }
  } catch (error) {
    log(
      LOG.failed(
        `could not give new codes to users whose code another user also holds: ${
          describeFailure(error, []).message
        }`,
      ),
    );
  }
  try {
    if (backfill.generated >= ANALYZE_AFTER) await table.analyze();
  } catch (error) {
    log(LOG.maintenanceSkipped(describeFailure(error, []).message));
  }
  try {
    const shared = await table.duplicates();
    seen.duplicates = shared.users;
    seen.sharedCodes = shared.codes;
  } catch {
    seen.duplicates = null;
    seen.sharedCodes = null;
  }
}

interface BackfillSettings {
  longest: number;
  chunkSize: number;
  /** Users per transaction; Infinity for one atomic transaction. */
  budget: number;
  throttle?: Throttle;
  /** A stop request between batches, not a deadline (see `RepairOptions.signal`). */
  signal?: AbortSignal;
  deadline: Deadline;
  progressIntervalMs: number;
  fixDuplicates: boolean;
  log: (line: string) => void;
  /** After each commit: users given codes so far, of those found missing. */
  onCommit?: (committed: number, found: number) => void;
}

/**
 * One backfill: transactions of chunks, each chunk one statement that gives
 * codes to the next missing rows in the dialect's walk order.
 */
class Backfill {
  /** Users given a code, over every transaction (the open one included). */
  generated = 0;
  /** Users whose code committed. */
  committed = 0;
  /** Users found missing under the lock (0: another replica did the work). */
  found = 0;
  /** The signal stopped it between batches, with users still missing. */
  stopped = false;
  #table: UserTable;
  #settings: BackfillSettings;
  #cursor: Cursor | null = null;
  #length = MIN_CODE_LENGTH;
  #lastProgress = Date.now();
  #started = false;
  /** The notice said if the lock takes long to come; cancelled once it is held. */
  #lockWait: { cancel(): void } | undefined;
  #catchUps = 0;
  /** Users the latest pass set out to fill: a catch-up must find fewer. */
  #lastPass = 0;

  constructor(table: UserTable, settings: BackfillSettings) {
    this.#table = table;
    this.#settings = settings;
  }

  /** Run transactions until no user is missing; each commits or rolls back whole. */
  async run(): Promise<void> {
    this.#started = false;
    this.#cursor = null;
    this.#catchUps = 0;
    const began = Date.now();
    const from = this.generated;
    let done = false;
    const { signal, throttle } = this.#settings;
    while (!done) {
      // Another replica's repair holds the lock: say so once it takes a while.
      this.#lockWait = this.#started
        ? undefined
        : noticeIfSlow(this.#settings.log, LOG.waitingForLock());
      try {
        done = await this.#table.transaction((tx) => this.#transaction(tx));
      } catch (error) {
        // Rolled back: only what committed before counts.
        this.generated = this.committed;
        throw error;
      } finally {
        this.#lockWait?.cancel();
      }
      this.committed = this.generated;
      this.#settings.onCommit?.(this.committed, Math.max(this.found, this.committed));
      if (!done && throttle) await this.#pace(throttle, began, from);
      if (!done && signal?.aborted) {
        this.stopped = true;
        return;
      }
    }
  }

  /** Between committed batches: keep to the rate, and wait while the server is busy. */
  async #pace(throttle: Throttle, began: number, from: number): Promise<void> {
    for (;;) {
      const { replicationLagSeconds: lag, activeSessions: active } = await this.#table.pressure();
      const why = lag > throttle.maxLagSeconds
        ? `replication lag ${lag.toFixed(1)} s`
        : active > throttle.maxActiveSessions
        ? `${active} other sessions at work`
        : null;
      throttle.onPause?.(why);
      if (why === null || this.#settings.deadline.remainingMs() <= PAUSE_MS) break;
      if (await this.#wait(PAUSE_MS)) return;
    }
    if (throttle.maxRate > 0) {
      const due = began + ((this.generated - from) * 1000) / throttle.maxRate;
      await this.#wait(Math.min(due, this.#settings.deadline.at) - Date.now());
    }
  }

  /** Wait `ms`, or less when the signal aborts; true when it did. */
  async #wait(ms: number): Promise<boolean> {
    const signal = this.#settings.signal;
    if (ms > 0 && !signal?.aborted) {
      // An abort rejects the wait (AbortError): over either way.
      await delay(ms, undefined, { signal }).catch(() => {});
    }
    return signal?.aborted ?? false;
  }

  async #transaction(tx: RepairTransaction): Promise<boolean> {
    this.#lockWait?.cancel();
    if (!this.#started) {
      this.#started = true;
      if (this.#settings.fixDuplicates) {
        const cleared = await tx.clearDuplicates();
        if (cleared > 0) this.#settings.log(LOG.clearedDuplicates(cleared));
      }
      // Counted again under the lock: another replica may have done the work.
      const missing = await tx.countMissing();
      if (missing === 0) return true;
      this.#lastPass = missing;
      if (this.generated === 0) {
        this.found = missing;
        this.#settings.log(LOG.found(missing));
      } else {
        this.found += missing;
      }
    }
    return await this.#fill(tx);
  }

  /** Fill chunks until none is missing (true) or the batch is full (false). */
  async #fill(tx: RepairTransaction): Promise<boolean> {
    const began = Date.now();
    let assigned = 0;
    let conflicts = 0;
    let stalls = 0;
    while (assigned < this.#settings.budget) {
      if (this.#settings.deadline.passed()) throw this.#settings.deadline.error();
      if (this.generated >= this.found) {
        // Everyone counted has a code; a writer may have cleared more meanwhile.
        const missing = await tx.countMissing();
        if (missing === 0) return true;
        if (++this.#catchUps > CATCH_UP_ROUNDS || missing >= this.#lastPass) {
          this.#settings.log(LOG.leftForNextRun(missing));
          return true;
        }
        this.#lastPass = missing;
        this.found = this.generated + missing;
      }
      // Sized by what is still missing, so the last chunk draws few codes.
      const limit = Math.min(
        this.#settings.chunkSize,
        this.#settings.budget - assigned,
        this.found - this.generated,
      );
      let result: AssignResult;
      try {
        result = await this.#chunk(tx, limit);
      } catch (error) {
        // A concurrent writer took one of these codes first: draw new ones.
        if (isInviteCodeError(error, "conflict") && ++conflicts <= 20) {
          continue;
        }
        throw error;
      }
      if (result.targets === 0) {
        // The walk reached the end; rows still missing are behind the cursor.
        if (this.#cursor === null) return true;
        this.#cursor = null;
        continue;
      }
      this.#cursor = result.cursor;
      this.generated += result.assigned;
      assigned += result.assigned;
      this.#mustFinishInTime(began, assigned);
      if (result.assigned === 0 && ++stalls > 10) {
        throw new InviteCodeError(
          "database",
          `no free ${this.#length}-character codes left: most candidates are taken`,
        );
      }
      this.#progress();
    }
    return false;
  }

  /**
   * One atomic transaction either ends before the deadline or was wasted: as
   * soon as its own rate says it cannot, it stops and rolls back, rather than
   * spend the whole start and roll back at the deadline. Batches commit as
   * they go, so they run until the deadline.
   */
  #mustFinishInTime(began: number, assigned: number): void {
    if (this.#settings.budget !== Infinity || assigned === 0) return;
    const left = this.found - this.generated;
    if (left <= 0) return;
    const spent = Math.max(1, Date.now() - began);
    const needMs = (spent * (assigned + left)) / assigned;
    if (began + needMs * FINISH_MARGIN <= this.#settings.deadline.at) return;
    throw new InviteCodeError(
      "timeout",
      LOG.wouldNotFinish(
        this.found,
        Math.round((assigned * 1000) / spent),
        Math.ceil(needMs / 1000),
        Math.round(this.#settings.deadline.limitMs / 1000),
      ),
    );
  }

  async #chunk(tx: RepairTransaction, limit: number): Promise<AssignResult> {
    const length = this.#length;
    const result = await tx.assign(this.#cursor, limit, {
      draw: (count) => generateInviteCodes(count, length),
      drawList: (count) => generateInviteCodeList(count, length),
    });
    // Most candidates taken: the space of this length is crowded; grow.
    if (result.rejected * 2 > result.drawn && this.#length < this.#settings.longest) {
      this.#length++;
    }
    return result;
  }

  #progress(): void {
    const now = Date.now();
    if (now - this.#lastProgress < this.#settings.progressIntervalMs) return;
    this.#lastProgress = now;
    this.#settings.log(LOG.progress(this.generated, Math.max(this.found, this.generated)));
  }
}
