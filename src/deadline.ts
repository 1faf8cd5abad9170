/**
 * Time bounds: a container start can never hang on this step, and a wedged
 * driver cannot hold a fail-open process open.
 *
 * @module
 */
import { InviteCodeError } from "./errors.ts";

/** The default overall deadline, in milliseconds (`--timeout 120`). */
export const DEFAULT_TIMEOUT_MS = 120_000;

/** Anything that can be closed, forcibly when work must be abandoned. */
export interface Closable {
  close(force?: boolean): Promise<void>;
}

/**
 * The error for a passed deadline.
 *
 * @param deadline Epoch milliseconds that passed.
 * @param setting The setting that sets the limit, named so the operator knows what to raise.
 */
export function timeoutError(deadline: number, setting = "--timeout"): InviteCodeError {
  return new InviteCodeError(
    "timeout",
    `timed out at the deadline ${new Date(deadline).toISOString()} (${setting})`,
  );
}

/**
 * Close `resource`, giving up after 3 s.
 *
 * @example
 * ```ts
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
 * await withDeadline(Date.now() + 5000, db, () => db.schema());
 * ```
 * @param deadline Epoch milliseconds.
 * @param resource Closed by force at the deadline.
 * @param work The bounded work.
 * @param setting The setting that sets the deadline; default `--timeout`.
 */
export async function withDeadline<T>(
  deadline: number,
  resource: Closable,
  work: () => Promise<T>,
  setting?: string,
): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const expired = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      void closeWithin(resource, true);
      reject(timeoutError(deadline, setting));
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
