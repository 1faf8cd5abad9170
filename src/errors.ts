/**
 * Errors, made in one place: the one error type the tool raises, and the
 * one-line, secret-free account of any error that reaches a log line, a
 * report or an HTTP response.
 *
 * @module
 */
import { LOG } from "./messages.ts";
import { isPermissionError } from "./runtime.ts";

/** Why an operation failed, for one-line reports, exit codes and the probe. */
export type FailureKind =
  | "config"
  | "connect"
  | "timeout"
  | "lock"
  | "schema"
  | "permission"
  | "conflict"
  | "runtime"
  | "database";

/**
 * The one error type the tool raises; `cause` keeps the driver's error.
 *
 * @example
 * ```ts
 * throw new InviteCodeError("config", "DATABASE_URL is not a URL");
 * ```
 */
export class InviteCodeError extends Error {
  /** What kind of failure this is. */
  readonly kind: FailureKind;
  /**
   * @param kind What kind of failure this is.
   * @param message One line, free of secrets.
   * @param options `cause`: the error this one explains.
   */
  constructor(kind: FailureKind, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = "InviteCodeError";
    this.kind = kind;
  }
}

/** A failure as reports carry it: its kind and one redacted line. */
export interface Failure {
  kind: FailureKind | "internal";
  message: string;
}

/**
 * The message of anything thrown.
 *
 * @example
 * ```ts
 * errorMessage(new Error("boom")); // "boom"
 * errorMessage("plain"); // "plain"
 * ```
 * @param error Whatever was thrown.
 */
export function errorMessage(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/**
 * Replace every secret in `text`, as written and in its URL-encoded forms,
 * with `***`. Secrets under 3 characters are left alone: masking them would
 * garble every line without protecting anything.
 *
 * @example
 * ```ts
 * redact("password for s3cr#t failed", ["s3cr#t"]); // "password for *** failed"
 * ```
 * @param text The line to clean.
 * @param secrets Passwords and passphrases that must never be shown.
 */
export function redact(text: string, secrets: readonly string[]): string {
  const forms = new Set<string>();
  for (const secret of secrets) {
    if (secret.length < 3) continue;
    forms.add(secret);
    forms.add(encodeURIComponent(secret));
    forms.add(encodeURI(secret));
  }
  // Longest first, so a secret that contains another is masked whole.
  let out = text;
  for (const form of [...forms].sort((a, b) => b.length - a.length)) {
    out = out.replaceAll(form, "***");
  }
  return out;
}

/**
 * One line, free of secrets, for any error.
 *
 * @example
 * ```ts
 * describeFailure(new InviteCodeError("connect", "refused"), []); // { kind: "connect", message: "refused" }
 * ```
 * @param error Whatever was thrown.
 * @param secrets Secrets to mask in the message.
 */
export function describeFailure(error: unknown, secrets: readonly string[]): Failure {
  const kind = error instanceof InviteCodeError
    ? error.kind
    : isPermissionError(error)
    ? "permission"
    : "internal";
  // Masked before it is reflowed or cut, so no part of a secret survives.
  const line = oneLine(redact(errorMessage(error), secrets), 500) || "unknown error";
  return { kind, message: line };
}

/**
 * Collapse whitespace and cut to `max` characters.
 *
 * @param text Any text.
 * @param max Longest result.
 */
export function oneLine(text: string, max: number): string {
  return text.replace(/\s+/g, " ").trim().slice(0, max);
}

/**
 * The one line for an error nothing awaited (a driver's stray rejection),
 * masked like every other.
 *
 * @example
 * ```ts
 * console.error(strayLine(new Error("socket hang up"), []));
 * ```
 * @param error What was thrown or rejected.
 * @param secrets Values that must not appear.
 */
export function strayLine(error: unknown, secrets: readonly string[]): string {
  return LOG.stray(oneLine(redact(errorMessage(error), secrets), 300));
}
