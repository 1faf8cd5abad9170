/**
 * The command line: a client of the library. It reads flags, calls `repair`
 * or `check`, prints, and returns the exit code; `mod.ts` exits with it.
 *
 * @module
 */
import process from "node:process";
import { parseArgs } from "node:util";
import { DEFAULT_TIMEOUT_MS } from "./deadline.ts";
import { errorMessage, type Failure, oneLine, redact, strayLine } from "./errors.ts";
import { check, type CheckResult } from "./inspect.ts";
import { LOG } from "./messages.ts";
import { repair, type RepairReport } from "./repair.ts";
import {
  containStrayErrors,
  DENO_PERMISSIONS,
  isPermissionError,
  missingPermissions,
  permissionLine,
} from "./runtime.ts";
import { readNumber, SettingError } from "./settings.ts";
import { type Env, envSecrets } from "./connect/environment.ts";
import { VERSION } from "./version.ts";

const HELP = `invite-code-repair ${VERSION}: give every Open WebUI user a unique invite code

Usage: node mod.ts [flags]
       deno run ${DENO_PERMISSIONS.join(" ")} mod.ts [flags]

With no flag, repairs: users without a code (NULL, empty or blank) get a new
unique one, in one transaction. Failures print a WARNING line and exit 0 so the
app still starts.

Flags:
  --check              read-only: exit 0 when nothing is missing, 1 when users
                       lack codes, codes are duplicated, or the table or column
                       is absent, 2 when it cannot run
  --dry-run            report what a repair would do, change nothing
  --json               print one JSON report on stdout (log lines go to stderr)
  --fix-duplicates     also give new codes to all but the earliest holder
                       (by created_at) of each code that several users share;
                       with --dry-run, say how many it would change
  --strict             exit 1 when the repair fails or stops part-way
                       (default: fail open, exit 0)
  --batch-size N       commit every N users instead of once (each batch
                       atomic), N from 1 to 100000000
  --timeout SECONDS    give up after this long, 1 to 86400 (default 120)
  -h, --help           print this help
  -V, --version        print the version

Exit codes: 0 done, nothing to do, skipped, or failed open; 1 failed or
stopped part-way with --strict, or --check found users missing, duplicates or
no column; 2 bad flags, or --check could not run.

Database (as Open WebUI resolves it): DATABASE_URL; else DATABASE_TYPE, _USER,
_PASSWORD, _HOST, _PORT, _NAME; else sqlite:///\${DATA_DIR:-./data}/webui.db.
libpq keywords in the URL's query (sslmode, sslrootcert, host=/socket/dir, ...)
and PG* variables apply as they do for psycopg2. DATABASE_SCHEMA names the
PostgreSQL schema holding "user".`;

/**
 * The one shape of `--json`, whatever the run: a repair's report, with the
 * tool's version and the command first, so a script reads a check, a dry run
 * and a repair one way. `status` is the check's (pass, missing, duplicates,
 * absent, error) or the repair's (ok, repaired, skipped, dry-run, partial,
 * failed); `error` is null when there is none.
 */
export type JsonReport =
  & { version: string; command: "check" | "dry-run" | "repair" }
  & { status: CheckResult["status"] | RepairReport["status"] }
  & { [Key in Exclude<keyof RepairReport, "status" | "error">]: RepairReport[Key] }
  & { error: Failure | null };

function jsonReport(
  command: JsonReport["command"],
  from: CheckResult | RepairReport,
): JsonReport {
  // A check changes nothing: what is missing is what remains.
  const done = "generated" in from ? from : { generated: 0, remaining: from.missing };
  return {
    version: VERSION,
    command,
    status: from.status,
    database: from.database,
    total: from.total,
    missing: from.missing,
    generated: done.generated,
    remaining: done.remaining,
    duplicates: from.duplicates,
    sharedCodes: from.sharedCodes,
    schema: from.schema,
    durationMs: from.durationMs,
    reason: from.reason,
    error: from.error ?? null,
  };
}

/** What the flags ask for. */
interface Flags {
  check?: boolean;
  "dry-run"?: boolean;
  "fix-duplicates"?: boolean;
  json?: boolean;
  strict?: boolean;
  help?: boolean;
  version?: boolean;
  batchSize?: number;
  timeoutMs: number;
}

/** Flags whose value is a number: a negative one is a value, not a flag. */
const NUMBER_FLAGS = new Set(["--batch-size", "--timeout"]);

/**
 * `--batch-size -1` as `--batch-size=-1`: parseArgs reads "-1" as a flag and
 * calls the value "ambiguous", where the range is what the operator needs.
 */
function joinNegativeValues(args: string[]): string[] {
  const joined: string[] = [];
  for (let i = 0; i < args.length; i++) {
    const next = args[i + 1];
    if (NUMBER_FLAGS.has(args[i]) && next !== undefined && /^-[\d.]/.test(next)) {
      joined.push(`${args[i]}=${next}`);
      i++;
    } else {
      joined.push(args[i]);
    }
  }
  return joined;
}

function parseFlags(args: string[]): Flags {
  let parsed;
  try {
    parsed = parseArgs({
      args: joinNegativeValues(args),
      strict: true,
      allowPositionals: false,
      options: {
        check: { type: "boolean" },
        "dry-run": { type: "boolean" },
        "fix-duplicates": { type: "boolean" },
        json: { type: "boolean" },
        strict: { type: "boolean" },
        "batch-size": { type: "string" },
        timeout: { type: "string" },
        help: { type: "boolean", short: "h" },
        version: { type: "boolean", short: "V" },
      },
    }).values;
  } catch (error) {
    const message = errorMessage(error).split(/\. |\n/)[0];
    throw new SettingError(message.charAt(0).toLowerCase() + message.slice(1));
  }
  if (parsed.check && parsed["dry-run"]) {
    throw new SettingError("--check and --dry-run exclude each other");
  }
  // A check changes nothing: a flag that asks for a change is refused, not ignored.
  if (parsed.check && parsed["fix-duplicates"]) {
    throw new SettingError(
      "--check and --fix-duplicates exclude each other (--fix-duplicates --dry-run shows what it would change)",
    );
  }
  const batch = parsed["batch-size"];
  return {
    ...parsed,
    batchSize: batch === undefined
      ? undefined
      : readNumber("--batch-size", batch, { integer: true, min: 1, max: 100_000_000 }),
    timeoutMs: parsed.timeout === undefined
      ? DEFAULT_TIMEOUT_MS
      : readNumber("--timeout", parsed.timeout, { integer: false, min: 1, max: 86_400 }) *
        1000,
  };
}

/**
 * Set by start.sh for the repair it runs: the flags came from its
 * `INVITE_CODE_FLAGS`.
 */
export const FLAGS_FROM_START_SH = "INVITE_CODE_FLAGS_FROM_START_SH";

/** A variable of `env` (default `process.env`), or undefined where Deno may not read it. */
function readEnv(env: Env | undefined, name: string): string | undefined {
  try {
    return (env ?? process.env)[name];
  } catch {
    return undefined;
  }
}

/**
 * Run the CLI with `args`; resolves to the exit code and never exits itself.
 *
 * @example
 * ```ts
 * const code = await main(["--check"], { DATABASE_URL: "sqlite:///data/webui.db" });
 * ```
 * @param args The flags, without the runtime and script.
 * @param env The environment; default `process.env`.
 */
export async function main(args: string[], env?: Env): Promise<number> {
  let flags: Flags;
  try {
    flags = parseFlags(args);
  } catch (error) {
    // From start.sh, the flags are its INVITE_CODE_FLAGS: a bad setting of the
    // tool's own, which is one WARNING line and never keeps the app from starting.
    if (readEnv(env, FLAGS_FROM_START_SH) === "1") {
      console.log(LOG.failed(`INVITE_CODE_FLAGS: ${errorMessage(error)}`));
      return 0;
    }
    console.error(LOG.usage(errorMessage(error)));
    return 2;
  }
  if (flags.help) {
    console.log(HELP);
    return 0;
  }
  if (flags.version) {
    console.log(VERSION);
    return 0;
  }
  // With --json, stdout carries only the report.
  const log = flags.json
    ? (line: string) => console.error(line)
    : (line: string) => console.log(line);
  const print = (report: JsonReport) => flags.json && console.log(JSON.stringify(report));
  const fail = (line: string) => {
    if (flags.check) {
      log(LOG.checkError(line));
      return 2;
    }
    log(LOG.failed(line));
    return flags.strict ? 1 : 0;
  };

  // Deno without --allow-env cannot even read DATABASE_URL: say which flags.
  const missing = missingPermissions("mod.ts");
  if (missing) return fail(missing);

  let strays = 0;
  const secrets = () => envSecrets(env ?? process.env);
  containStrayErrors((error) => {
    strays++;
    log(strayLine(error, secrets()));
  });
  try {
    if (flags.check) {
      const result = await check({ env, timeoutMs: flags.timeoutMs });
      if (result.status === "pass") log(LOG.allHaveCodes(result.total));
      else if (result.status === "error") log(LOG.checkError(result.reason));
      else log(LOG.checkFailed(result.reason));
      print(jsonReport("check", result));
      // A driver error at any point means the check cannot vouch for a pass.
      if (strays > 0 && result.status === "pass") return 2;
      return result.status === "pass" ? 0 : result.status === "error" ? 2 : 1;
    }
    const report = await repair({
      env,
      log,
      dryRun: flags["dry-run"],
      fixDuplicates: flags["fix-duplicates"],
      batchSize: flags.batchSize,
      timeoutMs: flags.timeoutMs,
    });
    print(jsonReport(flags["dry-run"] ? "dry-run" : "repair", report));
    return (report.status === "failed" || report.status === "partial") && flags.strict ? 1 : 0;
  } catch (error) {
    // repair() and check() report rather than throw; what reaches here is the
    // runtime refusing something (a Deno permission) before they could start.
    const line = isPermissionError(error)
      ? permissionLine(error, "mod.ts")
      : oneLine(redact(errorMessage(error), secrets()), 300);
    return fail(line);
  }
}
