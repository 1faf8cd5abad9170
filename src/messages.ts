/**
 * The contract's log lines, written once. The code prints them from here and
 * the tests match them from here, so `grep "invite codes"` habits and the
 * suite cannot drift apart. start.sh, which cannot import them, is checked
 * against them by test/start_test.ts.
 *
 * @module
 */

/**
 * "1 user", "2 users": for the lines this tool added. The contract's own
 * lines keep "users" whatever the count, as `grep` habits expect.
 */
export function users(count: number): string {
  return `${count} ${count === 1 ? "user" : "users"}`;
}

/** "1 code", "2 codes". */
function codes(count: number): string {
  return `${count} ${count === 1 ? "invite code" : "invite codes"}`;
}

/** The reason `--check` and the probe give for codes several users hold. */
export function sharedReason(holders: number, shared: number): string {
  return `${users(holders)} hold ${shared === 1 ? "a code" : `${shared} codes`} ` +
    `another user also holds`;
}

/** Prefix of the fail-open line; start.sh prints the same prefix. */
export const WARNING_PREFIX = "WARNING: Failed to auto-fix invite codes: ";

/** Lines of the repair and the check, in the order a run prints them. */
export const LOG = {
  /** The migration has not added the column (or the table or file) yet. */
  skipped: (absence: string) =>
    `INFO: invite_code column does not exist yet, skipping auto-fix (${absence})`,
  /** Nothing to do; `checked` users were looked at. */
  allHaveCodes: (checked: number) => `INFO: All users have invite codes (checked ${checked} users)`,
  found: (missing: number) => `INFO: Found ${missing} users without invite codes, generating...`,
  foundDryRun: (missing: number) =>
    `INFO: Found ${missing} users without invite codes (dry run: nothing changed)`,
  progress: (done: number, of: number) =>
    `INFO: Generated invite codes for ${done} of ${of} users (${Math.floor((done * 100) / of)}%)`,
  success: (generated: number) => `SUCCESS: Generated invite codes for ${generated} users`,
  clearedDuplicates: (cleared: number) =>
    `INFO: Cleared the invite codes of ${users(cleared)} who shared one with an earlier user`,
  /** After a repair or a check without --fix-duplicates: codes several users hold are not hidden. */
  duplicatesLeft: (holders: number, shared: number) =>
    `WARNING: ${sharedReason(holders, shared)}: run with --fix-duplicates to give all but the ` +
    `earliest holder of each a new one`,
  /** A dry run with --fix-duplicates: what the real run would change. */
  duplicatesDryRun: (change: number, holders: number, shared: number) =>
    `INFO: --fix-duplicates would give new codes to ${change} of the ${users(holders)} who ` +
    `share ${codes(shared)} (dry run: nothing changed)`,
  reassigned: (count: number) =>
    `INFO: Gave new codes to ${count} users whose new code another user also held`,
  leftForNextRun: (missing: number) =>
    `INFO: ${missing} more users lost or arrived without invite codes while the repair ran; the next run gives them codes`,
  maintenanceSkipped: (reason: string) =>
    `INFO: Skipped statistics refresh after the repair: ${reason}`,
  /** The first answer is slow in coming (a host that drops packets, a locked table). */
  waitingForDatabase: (database: string) =>
    `INFO: Waiting for the database to answer (${database})...`,
  /** Another replica's repair holds the lock; this one recounts once it has it. */
  waitingForLock: () => "INFO: Waiting for another replica's repair to finish...",
  ignoredKeywords: (names: string) =>
    `INFO: Ignoring connection settings this tool cannot apply: ${names}`,
  failed: (reason: string) => `${WARNING_PREFIX}${reason}`,
  /** Batches committed, then a failure stopped the run: what stays done, and what is left. */
  partial: (committed: number, of: number, remaining: number, reason: string) =>
    `WARNING: Generated invite codes for ${committed} of ${of} users, then stopped: ${reason}; ` +
    `the ${committed} committed codes stay, and the next run continues with the ${remaining} left`,
  checkFailed: (reason: string) => `FAIL: ${reason}`,
  checkError: (reason: string) => `ERROR: Could not check invite codes: ${reason}`,
  usage: (message: string) => `ERROR: ${message} (see --help)`,
  stray: (message: string) => `WARNING: ignored a stray database driver error: ${message}`,
  /** The reason when the server that answered is a hot standby and users lack codes. */
  standby: (missing: number) =>
    `the server is a hot standby (read-only): ${missing} users lack invite codes, and only the ` +
    `primary can give them: point DATABASE_URL at the primary, or list every host with ` +
    `target_session_attrs=read-write`,
  /** The reason when an atomic repair, at the rate it measured, could not end before --timeout. */
  wouldNotFinish: (
    missing: number,
    perSecond: number,
    needSeconds: number,
    timeoutSeconds: number,
  ) =>
    `${missing} users lack invite codes, and at the ${perSecond} users/s measured one atomic ` +
    `repair would take about ${needSeconds} s, more than --timeout ${timeoutSeconds} s allows, ` +
    `so nothing was changed: give it the time (--timeout ${Math.ceil(needSeconds * 1.5)}), ` +
    `commit in batches (INVITE_CODE_FLAGS="--batch-size 100000"), or let the self-healing ` +
    `probe (REPAIR_INTERVAL) finish it`,
  /** The reason when a `sqlite+sqlcipher://` URL has no passphrase (Open WebUI raises too). */
  cipherNeedsPassword: "DATABASE_PASSWORD is required when using sqlite+sqlcipher:// URLs",
  /** The reason when SQLCipher refuses the passphrase: the file is never named with it. */
  cipherRejected:
    "cannot open the encrypted database: wrong DATABASE_PASSWORD or not a SQLCipher database",
  /** The reason when the SQLCipher library is not in the install (pruned, or a partial copy). */
  cipherLibraryMissing: (library: string) =>
    `an encrypted database (sqlite+sqlcipher) needs the package ${library}, which is ` +
    `not installed: run npm ci`,
  /** The reason when Deno was started without --allow-env. */
  needsEnvPermission: (command: string) =>
    `Deno needs permission to read the environment: run ${command}`,
} as const;

/**
 * The probe's reason before its first check has answered (a slow database,
 * a first repair holding it): readiness is false, and says why.
 */
export const PROBE_STARTING = "starting: the first check has not answered yet";

/** Lines of start.sh, which cannot import them: test/start_test.ts checks them. */
export const START_LOG = {
  badRuntime: (value: string) =>
    `WARNING: INVITE_CODE_RUNTIME must be deno or node, got "${value}": ignored, picking one as if unset`,
} as const;

/** Lines of the probe. */
export const PROBE_LOG = {
  notStarted: (reason: string) =>
    `WARNING: invite-code probe not started beside the app: ${reason}`,
  listening: (url: string, database: string) =>
    `INFO: invite-code probe listening on ${url} (database: ${database})`,
  stopping: (signal: string) => `INFO: invite-code probe stopping on ${signal}`,
  checkFailed: (kind: string, reason: string) =>
    `WARNING: invite-code probe check failed (${kind}): ${reason}`,
  /** A route threw: the request got a bare 500, the log gets why. */
  internalError: (reason: string) => `WARNING: invite-code probe request failed: ${reason}`,
  healed: (generated: number) => `INFO: invite-code probe repaired ${generated} users`,
  paused: (why: string) => `INFO: invite-code probe pauses its repair: ${why}`,
  resumed: () => "INFO: invite-code probe resumes its repair",
} as const;
