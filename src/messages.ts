/**
 * The contract's log lines, written once. The code prints them from here and
 * the tests match them from here, so `grep "invite codes"` habits and the
 * suite cannot drift apart. start.sh, which cannot import them, is checked
 * against them by test/start_test.ts.
 *
 * @module
 */

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
    `INFO: Cleared the invite codes of ${cleared} users who shared one with an earlier user`,
  reassigned: (count: number) =>
    `INFO: Gave new codes to ${count} users whose new code another user also held`,
  leftForNextRun: (missing: number) =>
    `INFO: ${missing} more users lost or arrived without invite codes while the repair ran; the next run gives them codes`,
  maintenanceSkipped: (reason: string) =>
    `INFO: Skipped statistics refresh after the repair: ${reason}`,
  ignoredKeywords: (names: string) =>
    `INFO: Ignoring connection settings this tool cannot apply: ${names}`,
  failed: (reason: string) => `${WARNING_PREFIX}${reason}`,
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
  /** The reason when the optional SQLCipher library was left out of the install. */
  cipherLibraryMissing: (library: string) =>
    `an encrypted database (sqlite+sqlcipher) needs the optional package ${library}, which is ` +
    `not installed: install without --omit=optional`,
  /** The reason when Deno was started without --allow-env. */
  needsEnvPermission: (command: string) =>
    `Deno needs permission to read the environment: run ${command}`,
} as const;

/** Lines of the probe. */
export const PROBE_LOG = {
  listening: (url: string, database: string) =>
    `INFO: invite-code probe listening on ${url} (database: ${database})`,
  stopping: (signal: string) => `INFO: invite-code probe stopping on ${signal}`,
  checkFailed: (kind: string, reason: string) =>
    `WARNING: invite-code probe check failed (${kind}): ${reason}`,
  healed: (generated: number) => `INFO: invite-code probe repaired ${generated} users`,
  paused: (why: string) => `INFO: invite-code probe pauses its repair: ${why}`,
  resumed: () => "INFO: invite-code probe resumes its repair",
} as const;
