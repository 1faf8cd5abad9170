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
 * The SQLSTATEs the tool decides on, by PostgreSQL's own names
 * (src/backend/utils/errcodes.txt). Decisions compare these, never a message.
 */
export const SQLSTATE = {
  /** invalid_authorization_specification: among others, no `pg_hba.conf` entry. */
  INVALID_AUTHORIZATION: "28000",
  /** invalid_password. */
  INVALID_PASSWORD: "28P01",
  /** invalid_catalog_name: the database does not exist. */
  INVALID_CATALOG_NAME: "3D000",
  /** query_canceled: `statement_timeout` or a cancel request. */
  QUERY_CANCELED: "57014",
  /** admin_shutdown. */
  ADMIN_SHUTDOWN: "57P01",
  /** cannot_connect_now: "the database system is starting up"; libpq tries the next host. */
  CANNOT_CONNECT_NOW: "57P03",
  /** lock_not_available: `lock_timeout`. */
  LOCK_NOT_AVAILABLE: "55P03",
  /** insufficient_privilege. */
  INSUFFICIENT_PRIVILEGE: "42501",
  /** unique_violation: e.g. a concurrent writer took the same code. */
  UNIQUE_VIOLATION: "23505",
  /** read_only_sql_transaction. */
  READ_ONLY_SQL_TRANSACTION: "25006",
} as const;

/**
 * SQLite's result codes the tool decides on (sqlite3.h). Primary codes are
 * the low byte of an extended one.
 */
export const SQLITE = {
  BUSY: 5,
  LOCKED: 6,
  READONLY: 8,
  CANTOPEN: 14,
  CONSTRAINT: 19,
  NOTADB: 26,
  /** Extended: SQLITE_CONSTRAINT | (8 << 8), a UNIQUE index refused a value. */
  CONSTRAINT_UNIQUE: 2067,
  /** Extended: SQLITE_CONSTRAINT | (6 << 8), a PRIMARY KEY refused a value. */
  CONSTRAINT_PRIMARYKEY: 1555,
} as const;

/**
 * The one error type the tool raises; `cause` keeps the driver's error, and
 * `code` the code the database or the system gave for it, when one did.
 *
 * @example
 * ```ts
 * throw new InviteCodeError("config", "DATABASE_URL is not a URL");
 * ```
 */
export class InviteCodeError extends Error {
  /** What kind of failure this is. */
  readonly kind: FailureKind;
  /** A SQLSTATE, a SQLite result code's name (`SQLITE_BUSY`), or a system code (`ECONNREFUSED`). */
  readonly code: string | undefined;
  /**
   * @param kind What kind of failure this is.
   * @param message One line, free of secrets.
   * @param options `cause`: the error this one explains; `code`: its code.
   */
  constructor(kind: FailureKind, message: string, options?: { cause?: unknown; code?: string }) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.name = "InviteCodeError";
    this.kind = kind;
    this.code = options?.code;
  }
}

/**
 * Whether `error` is the tool's error of `kind` (of any kind when omitted).
 *
 * @example
 * ```ts
 * isInviteCodeError(new InviteCodeError("lock", "busy"), "lock"); // true
 * ```
 * @param error Whatever was thrown.
 * @param kind The kind wanted.
 */
export function isInviteCodeError(error: unknown, kind?: FailureKind): error is InviteCodeError {
  return error instanceof InviteCodeError && (kind === undefined || error.kind === kind);
}

/** A failure as reports carry it: its kind and one redacted line. */
export interface Failure {
  /** `starting`: the probe's first check has not answered yet. */
  kind: FailureKind | "internal" | "starting";
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
 * A secret's leading characters that count as the secret: PostgreSQL cuts
 * identifiers to 63 bytes and a line may be cut anywhere, so a run of this
 * many of a secret's first characters is masked wherever it shows.
 */
export const SECRET_PREFIX = 8;

/**
 * Replace every secret in `text` with `***`: as written, URL-encoded, and
 * with its whitespace collapsed; in full, or cut short (from its first
 * `SECRET_PREFIX` characters on); overlapping secrets together. A secret
 * shorter than `SECRET_PREFIX` is masked where it stands alone, not inside
 * words: a password "pass" must not turn "password" into "***word".
 *
 * @example
 * ```ts
 * redact("password for s3cr#t failed", ["s3cr#t"]); // "password for *** failed"
 * ```
 * @param text The line to clean.
 * @param secrets Passwords and passphrases that must never be shown.
 */
export function redact(text: string, secrets: readonly string[]): string {
  const spans: [number, number][] = [];
  for (const secret of secrets) {
    for (const form of secretForms(secret)) spans.push(...occurrences(text, form));
  }
  if (spans.length === 0) return text;
  spans.sort((a, b) => a[0] - b[0]);
  let out = "";
  let at = 0;
  for (let i = 0; i < spans.length;) {
    const start = spans[i][0];
    let end = spans[i][1];
    // Overlapping or touching spans mask as one, so no part of either shows.
    for (i++; i < spans.length && spans[i][0] <= end; i++) end = Math.max(end, spans[i][1]);
    out += text.slice(at, start) + "***";
    at = end;
  }
  return out + text.slice(at);
}

/** The ways a secret can appear in a message. */
function secretForms(secret: string): Set<string> {
  const forms = new Set<string>();
  for (const form of [secret, secret.replace(/\s+/g, " "), secret.replace(/\s+/g, " ").trim()]) {
    // A secret of only whitespace collapses to " ", which would mask every
    // space of a line and show nothing more than its length.
    if (!form.trim()) continue;
    forms.add(form);
    for (const encode of [encodeURIComponent, encodeURI]) {
      try {
        forms.add(encode(form));
      } catch {
        // A lone surrogate has no encoded form, so it can only appear as written.
      }
    }
  }
  return forms;
}

/** Where `form` shows in `text`: whole, or from its first characters on when it is long. */
function occurrences(text: string, form: string): [number, number][] {
  const found: [number, number][] = [];
  if (form.length < SECRET_PREFIX) {
    // A word character at the secret's edge may not touch another one; a
    // secret that starts or ends with punctuation is already set apart there.
    const word = /[\p{L}\p{N}]/u;
    const before = word.test(form[0]) ? "(?<![\\p{L}\\p{N}])" : "";
    const after = word.test(form[form.length - 1]) ? "(?![\\p{L}\\p{N}])" : "";
    const alone = new RegExp(
      `${before}${form.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}${after}`,
      "gu",
    );
    for (const match of text.matchAll(alone)) found.push([match.index, match.index + form.length]);
    return found;
  }
  const head = form.slice(0, Math.min(form.length, SECRET_PREFIX));
  for (let i = text.indexOf(head); i >= 0; i = text.indexOf(head, i + 1)) {
    let length = head.length;
    while (length < form.length && text[i + length] === form[length]) length++;
    // A short secret counts only whole; a long one from its prefix on.
    if (form.length <= SECRET_PREFIX && length < form.length) continue;
    found.push([i, i + length]);
  }
  return found;
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
