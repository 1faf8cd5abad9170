/**
 * Time bounds: a container start can never hang on this step, and a wedged
 * driver cannot hold a fail-open process open. A deadline travels as one
 * `Deadline`: the instant, and the setting that set it, so the error names
 * what to raise.
 *
 * @module
 */
import { InviteCodeError } from "./errors.ts";
import { inMs, type SettingName, SETTINGS } from "./settings.ts";

/** The default overall deadline, in milliseconds (`--timeout`'s default). */
export const DEFAULT_TIMEOUT_MS = inMs("--timeout", SETTINGS["--timeout"].default);

/** Anything that can be closed, forcibly when work must be abandoned. */
export interface Closable {
  close(force?: boolean): Promise<void>;
}

/**
 * The instant work must end by, and the setting that set it.
 *
 * @example
 * ```ts
 * const deadline = Deadline.after(3000, "HEALTH_TIMEOUT_MS");
 * if (deadline.passed()) throw deadline.error(); // names HEALTH_TIMEOUT_MS
 * ```
 */
export class Deadline {
  /** Epoch milliseconds. */
  readonly at: number;
  /** The limit it was set with, in milliseconds. */
  readonly limitMs: number;
  /** The setting that sets the limit, named so the operator knows what to raise. */
  readonly setting: SettingName;

  private constructor(at: number, limitMs: number, setting: SettingName) {
    this.at = at;
    this.limitMs = limitMs;
    this.setting = setting;
  }

  /**
   * The deadline `limitMs` from now.
   *
   * @param limitMs Milliseconds.
   * @param setting The setting the limit comes from; default `--timeout`.
   */
  static after(limitMs: number, setting: SettingName = "--timeout"): Deadline {
    return new Deadline(Date.now() + limitMs, limitMs, setting);
  }

  /** Whole milliseconds left, at least 1: drivers read 0 as no limit at all. */
  remainingMs(): number {
    return Math.max(1, Math.floor(this.at - Date.now()));
  }

  /** Whether the instant has come. */
  passed(): boolean {
    return Date.now() >= this.at;
  }

  /** The error for this deadline having passed. */
  error(): InviteCodeError {
    return new InviteCodeError(
      "timeout",
      `timed out at the deadline ${new Date(this.at).toISOString()} (${this.setting})`,
    );
  }
}

/**
 * Close `resource`, giving up after 3 s.
 *
 * @example
 * ```ts
 * import type { Database } from "./db/dialect.ts";
 * declare const db: Database; // an open database
 * await closeWithin(db); // never longer than 3 s
 * ```
 * @param resource What to close; nothing happens when undefined.
 * @param force Abandon in-flight work (only after a deadline passed).
 */
export async function closeWithin(resource: Closable | undefined, force = false): Promise<void> {
  if (!resource) return;
  let timer: ReturnType<typeof setTimeout> | undefined;
  await Promise.race([
    resource.close(force).catch(() => {}),
    new Promise<void>((resolve) => (timer = setTimeout(resolve, 3000))),
  ]);
  clearTimeout(timer);
}

/**
 * Run `work`, abandoning it and closing `resource` by force when the deadline
 * passes; dropping the connection rolls back whatever was in flight.
 *
 * @example
 * ```ts
 * import type { Database } from "./db/dialect.ts";
 * declare const db: Database; // an open database
 * await withDeadline(Deadline.after(5000), db, () => db.schema());
 * ```
 * @param deadline When to give up.
 * @param resource Closed by force at the deadline.
 * @param work The bounded work.
 */
export async function withDeadline<T>(
  deadline: Deadline,
  resource: Closable,
  work: () => Promise<T>,
): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const expired = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      void closeWithin(resource, true);
      reject(deadline.error());
    }, deadline.remainingMs());
  });
  const running = work();
  running.catch(() => {});
  try {
    return await Promise.race([running, expired]);
  } finally {
    clearTimeout(timer);
  }
}
