/**
 * The command line: a client of the library. It reads flags, calls `repair`
 * or `check`, prints, and returns the exit code; `mod.ts` exits with it.
 *
 * @module
 */
import process from "node:process";
import { parseArgs } from "node:util";
import {
  errorMessage,
  type Failure,
  InviteCodeError,
  oneLine,
  redact,
  strayLine,
} from "./errors.ts";
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
import {
  defaultText,
  inMs,
  rangeText,
  readNumber,
  type Setting,
  type SettingName,
  SETTINGS,
  settings,
} from "./settings.ts";
import { type Env, envSecrets } from "./connect/environment.ts";
import { VERSION } from "./version.ts";

/** The flags, from the settings table, in its order. */
const FLAGS = settings().filter(([name]) => name.startsWith("--"));

/** Where a flag's help starts: after `  --batch-size N` and a gap. */
const HELP_COLUMN = 23;
const HELP_WIDTH = 79;

/**
 * `text` in lines of at most HELP_WIDTH, the first after `head`, the rest
 * indented to HELP_COLUMN. Words joined by a no-break space stay together.
 */
function helpLines(head: string, text: string): string {
  const lines: string[] = [];
  let line = head.padEnd(HELP_COLUMN - 1);
  for (const word of text.split(" ")) {
    if (line.length + 1 + word.length > HELP_WIDTH && line.trim() !== head.trim()) {
      lines.push(line);
      line = " ".repeat(HELP_COLUMN - 1);
    }
    line += ` ${word}`;
  }
  lines.push(line);
  return lines.join("\n").replaceAll("\u00a0", " ");
}

/** One flag's lines of `--help`: its forms, its help, its range and default. */
function flagHelp(name: SettingName, setting: Setting): string {
  const forms = setting.short ? `-${setting.short}, ${name}` : name;
  if (setting.type !== "number") return helpLines(`  ${forms}`, setting.help);
  const value = setting.value ?? "N";
  // The range and default stay on one line, as an operator greps for them.
  const range = `${value} from ${rangeText(setting)}`.replaceAll(" ", "\u00a0");
  const fallback = setting.default === null ? "" : `\u00a0(default\u00a0${defaultText(setting)})`;
  return helpLines(`  ${forms} ${value}`, `${setting.help}, ${range}${fallback}`);
}

const HELP = `invite-code-repair ${VERSION}: give every Open WebUI user a unique invite code

Usage: node mod.ts [flags]
       deno run ${DENO_PERMISSIONS.join(" ")} mod.ts [flags]

With no flag, repairs: users without a code (NULL, empty or blank) get a new
unique one, in one transaction. Failures print a WARNING line and exit 0 so the
app still starts.

Flags:
${FLAGS.map(([name, setting]) => flagHelp(name, setting)).join("\n")}

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
  check: boolean;
  dryRun: boolean;
  fixDuplicates: boolean;
  json: boolean;
  strict: boolean;
  help: boolean;
  version: boolean;
  batchSize?: number;
  timeoutMs: number;
}

/** Flags whose value is a number: a negative one is a value, not a flag. */
const NUMBER_FLAGS = new Set(
  FLAGS.filter(([, setting]) => setting.type === "number").map(([name]) => name),
);

/**
 * `--batch-size -1` as `--batch-size=-1`: parseArgs reads "-1" as a flag and
 * calls the value "ambiguous", where the range is what the operator needs.
 */
function joinNegativeValues(args: string[]): string[] {
  const joined: string[] = [];
  for (let i = 0; i < args.length; i++) {
    const next = args[i + 1];
    if (NUMBER_FLAGS.has(args[i] as SettingName) && next !== undefined && /^-[\d.]/.test(next)) {
      joined.push(`${args[i]}=${next}`);
      i++;
    } else {
      joined.push(args[i]);
    }
  }
  return joined;
}

/** parseArgs' options, from the table: a switch is a boolean, a number a string. */
const PARSE_OPTIONS = Object.fromEntries(
  FLAGS.map(([name, setting]) => [
    name.slice(2),
    setting.type === "switch"
      ? { type: "boolean" as const, ...(setting.short ? { short: setting.short } : {}) }
      : { type: "string" as const },
  ]),
);

function parseFlags(args: string[]): Flags {
  let values;
  try {
    values = parseArgs({
      args: joinNegativeValues(args),
      strict: true,
      allowPositionals: false,
      options: PARSE_OPTIONS,
    }).values;
  } catch (error) {
    const message = errorMessage(error).split(/\. |\n/)[0];
    throw new InviteCodeError("config", message.charAt(0).toLowerCase() + message.slice(1));
  }
  const on = (flag: SettingName) => values[flag.slice(2)] === true;
  const given = (flag: SettingName) => {
    const value = values[flag.slice(2)];
    return typeof value === "string" ? value : undefined;
  };
  if (on("--check") && on("--dry-run")) {
    throw new InviteCodeError("config", "--check and --dry-run exclude each other");
  }
  // A check changes nothing: a flag that asks for a change is refused, not ignored.
  if (on("--check") && on("--fix-duplicates")) {
    throw new InviteCodeError(
      "config",
      "--check and --fix-duplicates exclude each other (--fix-duplicates --dry-run shows what it would change)",
    );
  }
  // Given but empty is a bad value, not the default: only a variable's "" is unset.
  const batch = given("--batch-size");
  const timeout = given("--timeout");
  const seconds = timeout === undefined
    ? SETTINGS["--timeout"].default
    : readNumber("--timeout", timeout, SETTINGS["--timeout"]);
  return {
    check: on("--check"),
    dryRun: on("--dry-run"),
    fixDuplicates: on("--fix-duplicates"),
    json: on("--json"),
    strict: on("--strict"),
    help: on("--help"),
    version: on("--version"),
    batchSize: batch === undefined
      ? undefined
      : readNumber("--batch-size", batch, SETTINGS["--batch-size"]),
    timeoutMs: inMs("--timeout", seconds),
  };
}

/**
 * Set by start.sh for the repair it runs: the flags came from its
 * `INVITE_CODE_FLAGS`.
 */
export const FLAGS_FROM_START_SH = "INVITE_CODE_FLAGS_FROM_START_SH" satisfies SettingName;

/** A variable of `env` (default `process.env`), or undefined where Deno may not read it. */
function readEnv(env: Env | undefined, name: string): string | undefined {
  try {
    return (env ?? process.env)[name];
  } catch {
    return undefined;
  }
}

/** What only the command's own process may install. */
export interface MainOptions {
  /**
   * Route errors that escape every callback (a driver's stray timer) to
   * `report` for the rest of the process: `runCli` passes `containStrayErrors`.
   * Without it nothing process-wide is touched.
   */
  containStrays?: (report: (error: unknown) => void) => void;
}

/**
 * Run the CLI with `args`; resolves to the exit code and never exits itself.
 * Installs nothing process-wide unless `options.containStrays` asks it to.
 *
 * @example
 * ```ts
 * const code = await main(["--check"], { DATABASE_URL: "sqlite:///data/webui.db" });
 * ```
 * @param args The flags, without the runtime and script.
 * @param env The environment; default `process.env`.
 * @param options Process-wide handling, for the command's own process.
 */
export async function main(args: string[], env?: Env, options: MainOptions = {}): Promise<number> {
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
  options.containStrays?.((error) => {
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
      dryRun: flags.dryRun,
      fixDuplicates: flags.fixDuplicates,
      batchSize: flags.batchSize,
      timeoutMs: flags.timeoutMs,
    });
    print(jsonReport(flags.dryRun ? "dry-run" : "repair", report));
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

/**
 * The command as mod.ts runs it: `main` with stray errors contained for the
 * whole process (each one WARNING line, and the repair carries on). Only an
 * entry point calls this: importing the library installs nothing.
 *
 * @example
 * ```ts
 * import process from "node:process";
 * import { exit } from "./runtime.ts";
 * exit(await runCli(process.argv.slice(2)));
 * ```
 * @param args The flags, without the runtime and script.
 */
export function runCli(args: string[]): Promise<number> {
  return main(args, undefined, { containStrays: containStrayErrors });
}
