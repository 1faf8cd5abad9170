/**
 * Plant known bugs one at a time and see whether the suite catches each:
 *
 *   node scripts/mutate.ts [name-substring ...]
 *   node scripts/mutate.ts --list [name-substring ...]   (check each applies, run nothing)
 *   node scripts/mutate.ts --no-control [name-substring ...]
 *
 * For every mutation, the source is changed, the named test files run under
 * Node (or Deno, for what only Deno does: `node scripts/test.ts <runtime>
 * ...`), and the source is restored. A mutation "survives" when those tests
 * still pass. Not part of CI: it takes about an hour, and its answer is for
 * the person changing the tests.
 *
 * The list is written from the modules' side: for every file of the tool,
 * start.sh and the probe included, the changes a tired developer would
 * plausibly make there (a boundary, a unit, an order, a dropped guard, a
 * wrong default, a skipped cleanup), each with the test files that person
 * would run for that module, not the one known to catch it.
 */
import { spawnSync } from "node:child_process";
import { readFileSync, writeFileSync } from "node:fs";
import process from "node:process";
import { parseArgs } from "node:util";
import { fileURLToPath } from "node:url";
import { projectPath } from "./net.ts";

const ROOT = fileURLToPath(new URL("..", import.meta.url));

interface Mutation {
  name: string;
  file: string;
  from: string;
  to: string;
  tests: string[];
  /** The runtime to run the tests under; default node. */
  runtime?: "node" | "deno";
}

const CONNECT = ["test/target_test.ts", "test/oracle_test.ts"];
/** The end-to-end files, a theme each: replicas, kills, writers, outages, odd input, data, layouts. */
const END_TO_END = [
  "test/replicas_test.ts",
  "test/kill_test.ts",
  "test/concurrency_test.ts",
  "test/outages_test.ts",
  "test/bad_input_test.ts",
  "test/unusual_data_test.ts",
  "test/table_layouts_test.ts",
  "test/probe_stress_test.ts",
];
const DIALECT = ["test/repair_test.ts", ...END_TO_END];
const PROBE = ["test/health_test.ts"];

const MUTATIONS: Mutation[] = [
  {
    name: "errors.ts: a secret of only whitespace masks every space",
    file: "src/errors.ts",
    from: "if (!form.trim()) continue;",
    to: "if (!form) continue;",
    tests: ["test/secrets_test.ts"],
  },
  // A bad flag in start.sh's INVITE_CODE_FLAGS is one WARNING line.
  {
    name: "start.sh: INVITE_CODE_FLAGS not marked as start.sh's",
    file: "start.sh",
    from: "  export INVITE_CODE_FLAGS_FROM_START_SH=1\n",
    to: "",
    tests: ["test/start_test.ts"],
  },
  {
    name: "cli.ts: a bad flag from start.sh is a usage error, exit 2",
    file: "src/cli.ts",
    from: 'if (readEnv(env, FLAGS_FROM_START_SH) === "1") {',
    to: "if (false) {",
    tests: ["test/start_test.ts"],
  },
  // mod.ts
  {
    name: "mod.ts: the CLI's exit code is dropped",
    file: "mod.ts",
    from: "exit(await runCli(process.argv.slice(2)));",
    to: "await runCli(process.argv.slice(2)); exit(0);",
    tests: ["test/cli_test.ts"],
  },
  {
    name: "mod.ts: the entry check is inverted",
    file: "mod.ts",
    from: "if (isEntryPoint(import.meta)) {",
    to: "if (!isEntryPoint(import.meta)) {",
    tests: ["test/cli_test.ts"],
  },
  {
    name: "mod.ts: check is no longer exported",
    file: "mod.ts",
    from: "export { check, type CheckResult, inspect, type Inspection }",
    to: "export { type CheckResult, inspect, type Inspection }",
    tests: ["test/repair_test.ts"],
  },
  // The probe: src/probe/server.ts and src/probe/settings.ts, behind health.ts
  {
    name: "probe/server.ts: HEAD answers with a body",
    file: "src/probe/server.ts",
    from: 'c.req.method === "HEAD"',
    to: "false",
    tests: PROBE,
  },
  {
    name: "settings.ts: HEALTH_CACHE_MS default 2000 becomes 0",
    file: "src/settings.ts",
    from: '    unit: "ms",\n    default: 2000,',
    to: '    unit: "ms",\n    default: 0,',
    tests: PROBE,
  },
  {
    name: "probe/settings.ts: REPAIR_INTERVAL read as milliseconds",
    file: "src/probe/settings.ts",
    from: 'repairIntervalMs: readMs(env, "REPAIR_INTERVAL"),',
    to: 'repairIntervalMs: readSetting(env, "REPAIR_INTERVAL"),',
    tests: PROBE,
  },
  {
    name: "probe/server.ts: failed checks are not counted",
    file: "src/probe/server.ts",
    from: "stats.failedInspections = inspector.failures;",
    to: "",
    tests: PROBE,
  },
  {
    name: "settings.ts: an empty word setting (HEALTH_DETAILS) is an error, not its default",
    file: "src/settings.ts",
    from: "  if (unset(raw)) return setting.default;",
    to: "  if (raw === undefined) return setting.default;",
    tests: PROBE,
  },
  {
    name: "settings.ts: the probe listens on loopback alone by default",
    file: "src/settings.ts",
    from: 'default: "0.0.0.0",',
    to: 'default: "127.0.0.1",',
    tests: PROBE,
  },
  // start.sh
  {
    name: "start.sh: the repair's failure ends the start",
    file: "start.sh",
    from: '{ stop_if_signalled; echo "$warning the repair exited with status $status"; }',
    to:
      '{ stop_if_signalled; echo "$warning the repair exited with status $status"; exit "$status"; }',
    tests: ["test/start_test.ts"],
  },
  {
    name: "start.sh: node is tried before deno",
    file: "start.sh",
    from: '"") if capable deno; then runtime=deno; elif capable node; then runtime=node; fi ;;',
    to: '"") if capable node; then runtime=node; elif capable deno; then runtime=deno; fi ;;',
    tests: ["test/start_test.ts"],
  },
  {
    name: "start.sh does not pass SIGTERM on",
    file: "start.sh",
    from: "trap 'on_signal TERM' TERM",
    to: ":",
    tests: ["test/start_test.ts"],
  },
  {
    name: "start.sh: the minimum Node is 22.0",
    file: "start.sh",
    from: 'version_at_least "$(node --version 2>/dev/null)" 22 18',
    to: 'version_at_least "$(node --version 2>/dev/null)" 22 0',
    tests: ["test/start_test.ts"],
  },
  {
    name: "start.sh: SIGINT is passed on as SIGINT, which a background step ignores",
    file: "start.sh",
    from: 'if [ -n "$child" ]; then signal_child TERM; fi',
    to: 'if [ -n "$child" ]; then signal_child "$1"; fi',
    tests: ["test/start_test.ts"],
  },
  {
    name: "start.sh: the probe with no app command starts late, as after the repair",
    file: "start.sh",
    from: 'HEALTH_EXIT_WITH_PARENT=1 $launcher "$here/health.ts" &',
    to: '{ sleep 30; HEALTH_EXIT_WITH_PARENT=1 exec $launcher "$here/health.ts"; } &',
    tests: ["test/start_test.ts"],
  },
  {
    name: "start.sh: the probe beside the app starts after the repair",
    file: "start.sh",
    from: 'elif [ -n "$launcher" ] && [ -n "${HEALTH_PORT:-}" ]; then',
    to: 'elif [ -n "$launcher" ] && [ -n "${HEALTH_PORT:-}" ]; then sleep 20;',
    tests: ["test/start_test.ts"],
  },
  {
    name: "start.sh: a bad INVITE_CODE_RUNTIME stops the start",
    file: "start.sh",
    from: 'ignored, picking one as if unset"',
    to: 'ignored, picking one as if unset"; exit 2',
    tests: ["test/start_test.ts"],
  },
  {
    name: "start.sh: INVITE_CODE_FLAGS are globbed",
    file: "start.sh",
    from: "\nset -f\n",
    to: "\n",
    tests: ["test/start_test.ts"],
  },
  // scripts/test.ts
  {
    name: "scripts/test.ts: Node's skipped describe counts as no test",
    file: "scripts/test.ts",
    from: 'skipped: count("skipped") + count("todo") + skippedDescribes,',
    to: 'skipped: count("skipped") + count("todo"),',
    tests: ["test/runner_test.ts"],
  },
  {
    name: "start.sh: a version at the minimum is refused",
    file: "start.sh",
    from: '[ "$major" -eq "$2" ] && [ "$minor" -ge "$3" ]',
    to: '[ "$major" -eq "$2" ] && [ "$minor" -gt "$3" ]',
    tests: ["test/start_test.ts"],
  },
  {
    name: "start.sh: the minimum Deno is 2.1",
    file: "start.sh",
    from: "sed -n '1s/^deno \\([0-9.]*\\).*/\\1/p')\" 2 2 ;;",
    to: "sed -n '1s/^deno \\([0-9.]*\\).*/\\1/p')\" 2 1 ;;",
    tests: ["test/start_test.ts"],
  },
  {
    name: "start.sh: the minimum Deno is 2.3",
    file: "start.sh",
    from: "sed -n '1s/^deno \\([0-9.]*\\).*/\\1/p')\" 2 2 ;;",
    to: "sed -n '1s/^deno \\([0-9.]*\\).*/\\1/p')\" 2 3 ;;",
    tests: ["test/start_test.ts"],
  },
  {
    name: "start.sh: an empty MIGRATE_CMD is run",
    file: "start.sh",
    from: 'if [ -n "${MIGRATE_CMD:-}" ]; then',
    to: 'if [ "${MIGRATE_CMD+set}" = set ]; then',
    tests: ["test/start_test.ts"],
  },
  // src/cli.ts
  {
    name: "cli.ts: --check exits 0 on an error",
    file: "src/cli.ts",
    from: 'return result.status === "pass" ? 0 : result.status === "error" ? 2 : 1;',
    to: 'return result.status === "pass" ? 0 : result.status === "error" ? 0 : 1;',
    tests: ["test/cli_test.ts"],
  },
  {
    name: "cli.ts: --strict is ignored",
    file: "src/cli.ts",
    from:
      'return (report.status === "failed" || report.status === "partial") && flags.strict ? 1 : 0;',
    to: "return 0;",
    tests: ["test/cli_test.ts"],
  },
  {
    name: "cli.ts: --timeout read as milliseconds",
    file: "src/cli.ts",
    from: 'timeoutMs: inMs("--timeout", seconds),',
    to: "timeoutMs: seconds,",
    tests: ["test/cli_test.ts"],
  },
  {
    name: "cli.ts: --json logs go to stdout",
    file: "src/cli.ts",
    from: "? (line: string) => console.error(line)",
    to: "? (line: string) => console.log(line)",
    tests: ["test/cli_test.ts"],
  },
  {
    name: "cli.ts: a passing --check with a stray error exits 0",
    file: "src/cli.ts",
    from: 'if (strays > 0 && result.status === "pass") return 2;',
    to: "",
    tests: ["test/cli_test.ts"],
  },
  {
    name: "cli.ts: --check ignores --timeout",
    file: "src/cli.ts",
    from: "const result = await check({ env, timeoutMs: flags.timeoutMs });",
    to: "const result = await check({ env });",
    tests: ["test/cli_test.ts"],
  },
  // src/codes.ts
  {
    name: "codes.ts: the bias guard is dropped",
    file: "src/codes.ts",
    from: "if (byte >= UNBIASED_LIMIT) continue;",
    to: "",
    tests: ["test/codes_test.ts"],
  },
  {
    name: "codes.ts: the list generator's bias guard is dropped",
    file: "src/codes.ts",
    from: "} while (byte >= UNBIASED_LIMIT);",
    to: "} while (false);",
    tests: ["test/codes_test.ts"],
  },
  {
    name: "codes.ts: codes grow beyond the column's length",
    file: "src/codes.ts",
    from: "Math.min(MAX_CODE_LENGTH, facts.maxLength ?? MAX_CODE_LENGTH)",
    to: "MAX_CODE_LENGTH",
    tests: ["test/codes_test.ts"],
  },
  {
    name: "codes.ts: a code list without commas",
    file: "src/codes.ts",
    from: "out[at] = COMMA;",
    to: "out[at] = ALPHABET_CODES[0];",
    tests: ["test/codes_test.ts", "test/repair_test.ts"],
  },
  // src/deadline.ts
  {
    name: "deadline.ts: the deadline does not close the connection",
    file: "src/deadline.ts",
    from: "void closeWithin(resource, true);",
    to: "",
    tests: ["test/cli_test.ts", "test/outages_test.ts", "test/probe_stress_test.ts"],
  },
  {
    name: "deadline.ts: closing waits 30 s, not 3",
    file: "src/deadline.ts",
    from: "setTimeout(resolve, 3000)",
    to: "setTimeout(resolve, 30000)",
    tests: ["test/outages_test.ts"],
  },
  {
    name: "settings.ts: the default --timeout is 12 s",
    file: "src/settings.ts",
    from: "    default: 120,\n",
    to: "    default: 12,\n",
    tests: ["test/cli_test.ts", "test/kill_test.ts"],
  },
  // src/errors.ts
  {
    name: "errors.ts: a line is collapsed and cut before it is masked",
    file: "src/errors.ts",
    from: 'const line = oneLine(redact(errorMessage(error), secrets), 500) || "unknown error";',
    to: 'const line = redact(oneLine(errorMessage(error), 500), secrets) || "unknown error";',
    tests: ["test/secrets_test.ts", "test/redaction_test.ts"],
  },
  {
    name: "errors.ts: only whole secrets are masked",
    file: "src/errors.ts",
    from: "if (form.length <= SECRET_PREFIX && length < form.length) continue;",
    to: "if (length < form.length) continue;",
    tests: ["test/secrets_test.ts", "test/redaction_test.ts"],
  },
  {
    name: "errors.ts: overlapping secrets are masked one after another",
    file: "src/errors.ts",
    from:
      "for (i++; i < spans.length && spans[i][0] <= end; i++) end = Math.max(end, spans[i][1]);",
    to: "i++;",
    tests: ["test/secrets_test.ts", "test/redaction_test.ts"],
  },
  {
    name: "errors.ts: a permission error is internal",
    file: "src/errors.ts",
    from: ': isPermissionError(error)\n    ? "permission"',
    to: ': false\n    ? "permission"',
    tests: ["test/permissions_test.ts"],
  },
  // src/inspect.ts
  {
    name: "inspect.ts: missing users are a pass",
    file: "src/inspect.ts",
    from: "if (missing > 0) {",
    to: "if (missing < 0) {",
    tests: ["test/cli_test.ts", "test/health_test.ts"],
  },
  {
    name: "inspect.ts: duplicates are not reported",
    file: "src/inspect.ts",
    from: "if (shared.users > 0) {",
    to: "if (shared.users > 1e9) {",
    tests: ["test/cli_test.ts", "test/health_test.ts"],
  },
  {
    name: "inspect.ts: the check opens the database writable",
    file: "src/inspect.ts",
    from: "readOnly: true });",
    to: "readOnly: false });",
    // A read-only Deno grant is where a writable open shows.
    tests: ["test/cli_test.ts", "test/repair_test.ts", "test/permissions_test.ts"],
  },
  // src/messages.ts
  {
    name: "messages.ts: the WARNING prefix changes",
    file: "src/messages.ts",
    from: 'export const WARNING_PREFIX = "WARNING: Failed to auto-fix invite codes: ";',
    to: 'export const WARNING_PREFIX = "WARNING: Failed to fix invite codes: ";',
    tests: ["test/start_test.ts"],
  },
  {
    name: "messages.ts: progress rounds up",
    file: "src/messages.ts",
    from: "Math.floor((done * 100) / of)",
    to: "Math.ceil((done * 100) / of)",
    tests: ["test/repair_test.ts"],
  },
  {
    name: "messages.ts: the standby line drops its count",
    file: "src/messages.ts",
    from:
      "`the server is a hot standby (read-only): ${missing} users lack invite codes, and only the ` +",
    to: "`the server is a hot standby (read-only): users lack invite codes, and only the ` +",
    tests: ["test/ha_test.ts"],
  },
  // src/repair.ts
  {
    name: "repair.ts: a batch overshoots its size",
    file: "src/repair.ts",
    from: "this.#settings.budget - assigned,\n",
    to: "",
    tests: DIALECT,
  },
  {
    name: "repair.ts: an aborted repair goes on to the next batch",
    file: "src/repair.ts",
    from: "      if (!done && signal?.aborted) {",
    to: "      if (false) {",
    tests: PROBE,
  },
  {
    name: "repair.ts: a throttled wait does not end when the repair is stopped",
    file: "src/repair.ts",
    from: "await delay(ms, undefined, { signal })",
    to: "await delay(ms, undefined, {})",
    tests: PROBE,
  },
  {
    name: "repair.ts: no statistics refresh after a large backfill",
    file: "src/repair.ts",
    from: "if (backfill.generated >= ANALYZE_AFTER) await table.analyze();",
    to: "",
    tests: DIALECT,
  },
  {
    name: "repair.ts: a repair on a standby writes anyway",
    file: "src/repair.ts",
    from: "if (schema.facts.server?.standby) {",
    to: "if (false) {",
    tests: [...DIALECT, "test/ha_test.ts"],
  },
  {
    name: "repair.ts: dry run writes",
    file: "src/repair.ts",
    from: "if (options.dryRun) {",
    to: "if (false) {",
    tests: DIALECT,
  },
  {
    name: "repair.ts: shared codes are not released after commit",
    file: "src/repair.ts",
    from: "const released = await table.releaseSharedCodes();",
    to: "const released = 0;",
    tests: DIALECT,
  },
  // src/runtime.ts
  {
    name: "runtime.ts: Deno is said to check revocation lists",
    file: "src/runtime.ts",
    from: 'export const TLS_CHECKS_REVOCATION: boolean = RUNTIME === "node";',
    to: "export const TLS_CHECKS_REVOCATION: boolean = true;",
    tests: ["test/oracle_test.ts"],
    runtime: "deno",
  },
  {
    name: "runtime.ts: node:sqlite's ExperimentalWarning is shown",
    file: "src/runtime.ts",
    from: '    if (warningType(warning, rest[0]) === "ExperimentalWarning") return;\n',
    to: "",
    tests: ["test/runtime_test.ts"],
  },
  {
    name: "runtime.ts: warnings stay dropped after node:sqlite loads",
    file: "src/runtime.ts",
    from: "    process.emitWarning = emitWarning;\n",
    to: "",
    tests: ["test/runtime_test.ts"],
  },
  {
    name: "runtime.ts: a Deno permission error is not one",
    file: "src/runtime.ts",
    from: "return (errors.NotCapable !== undefined && error instanceof errors.NotCapable) ||",
    to: "return false &&",
    tests: ["test/permissions_test.ts"],
  },
  {
    name: "runtime.ts: the Deno permissions lose --allow-read",
    file: "src/runtime.ts",
    from: '  "--allow-read",\n',
    to: "",
    tests: ["test/start_test.ts", "test/permissions_test.ts"],
  },
  {
    name: "runtime.ts: stray errors are not contained",
    file: "src/runtime.ts",
    from: '  process.on("uncaughtException", report);\n',
    to: "",
    tests: ["test/cli_test.ts"],
  },
  // src/settings.ts
  {
    name: "settings.ts: the bounds are exclusive",
    file: "src/settings.ts",
    from: "if (!(value >= rule.min && value <= rule.max)) {",
    to: "if (!(value > rule.min && value < rule.max)) {",
    tests: ["test/cli_test.ts", "test/health_test.ts"],
  },
  {
    name: "settings.ts: fractions pass as whole numbers",
    file: "src/settings.ts",
    from: "const pattern = rule.integer ? /^\\s*\\d{1,12}\\s*$/ : /^\\s*\\d{1,12}(\\.\\d+)?\\s*$/;",
    to: "const pattern = /^\\s*\\d{1,12}(\\.\\d+)?\\s*$/;",
    tests: ["test/cli_test.ts", "test/health_test.ts"],
  },
  {
    name: "settings.ts: an empty variable is an error, not the default",
    file: "src/settings.ts",
    from: "return unset(raw) ? setting.default : readNumber(name, raw, setting);",
    to: "return raw === undefined ? setting.default : readNumber(name, raw, setting);",
    tests: ["test/cli_test.ts", "test/health_test.ts"],
  },
  // src/version.ts
  {
    name: "version.ts: the version drifts from package.json",
    file: "src/version.ts",
    from: '"0.2.0"',
    to: '"0.2.1"',
    tests: ["test/cli_test.ts"],
  },
  // src/connect/environment.ts
  {
    name: "environment.ts: DATABASE_* parts need DATABASE_PASSWORD",
    file: "src/connect/environment.ts",
    from:
      "if (DATABASE_TYPE && DATABASE_USER && DATABASE_HOST && DATABASE_PORT && DATABASE_NAME) {",
    to:
      "if (DATABASE_TYPE && DATABASE_USER && DATABASE_HOST && DATABASE_PORT && DATABASE_NAME && env.DATABASE_PASSWORD) {",
    tests: CONNECT,
  },
  {
    name: "environment.ts: the composed password is not encoded",
    file: "src/connect/environment.ts",
    from: "`:${encodeURIComponent(env.DATABASE_PASSWORD)}`",
    to: "`:${env.DATABASE_PASSWORD}`",
    tests: CONNECT,
  },
  {
    name: "environment.ts: PGPASSWORD is not a known secret",
    file: "src/connect/environment.ts",
    from: "return [env.DATABASE_PASSWORD, env.PGPASSWORD]",
    to: "return [env.DATABASE_PASSWORD]",
    tests: ["test/secrets_test.ts", "test/redaction_test.ts"],
  },
  // src/connect/sqlalchemy.ts
  {
    name: "sqlalchemy.ts: query keys are not decoded",
    file: "src/connect/sqlalchemy.ts",
    from: 'const key = pythonUnquote(field.slice(0, eq).replaceAll("+", " "));',
    to: 'const key = field.slice(0, eq).replaceAll("+", " ");',
    tests: CONNECT,
  },
  {
    name: "sqlalchemy.ts: the password stops at the last @, not the first",
    file: "src/connect/sqlalchemy.ts",
    from: "(?::(?<password>[^@]*))?@)?",
    to: "(?::(?<password>.*))?@)?",
    tests: CONNECT,
  },
  {
    name: "sqlalchemy.ts: blank query values are kept",
    file: "src/connect/sqlalchemy.ts",
    from: "    if (!value) continue;\n",
    to: "",
    tests: CONNECT,
  },
  {
    name: "environment.ts: an empty DATABASE_URL is the URL",
    file: "src/connect/environment.ts",
    from: "if (env.DATABASE_URL) return env.DATABASE_URL;",
    to: "if (env.DATABASE_URL !== undefined) return env.DATABASE_URL;",
    tests: ["test/cli_test.ts"],
  },
  {
    name: "environment.ts: an empty DATA_DIR is the root folder",
    file: "src/connect/environment.ts",
    from: '${env.DATA_DIR || "./data"}',
    to: '${env.DATA_DIR ?? "./data"}',
    tests: ["test/cli_test.ts"],
  },
  // src/connect/conninfo.ts
  {
    name: "conninfo.ts: an empty DATABASE_SCHEMA is a schema name",
    file: "src/connect/conninfo.ts",
    from: "const schema = env.DATABASE_SCHEMA || undefined;",
    to: "const schema = env.DATABASE_SCHEMA ?? undefined;",
    tests: ["test/cli_test.ts"],
  },
  {
    name: "conninfo.ts: the URL loses to PG* variables",
    file: "src/connect/conninfo.ts",
    from: "if (conninfo[name] === undefined && fallback) conninfo[name] = fallback;",
    to: "if (fallback) conninfo[name] = fallback;",
    tests: CONNECT,
  },
  {
    name: "conninfo.ts: sslnegotiation=direct allowed with a weak sslmode",
    file: "src/connect/conninfo.ts",
    from: 'if (conninfo.sslnegotiation === "direct" && !ENCRYPTED_MODES.includes(mode)) {',
    to: "if (false) {",
    tests: CONNECT,
  },
  {
    name: "conninfo.ts: sslrootcert=system allowed with require",
    file: "src/connect/conninfo.ts",
    from: 'if (system && given && given !== "verify-full") {',
    to: "if (false) {",
    tests: CONNECT,
  },
  {
    name: "conninfo.ts: no host is the /tmp socket",
    file: "src/connect/conninfo.ts",
    from: 'export const DEFAULT_SOCKET_DIR = "/var/run/postgresql";',
    to: 'export const DEFAULT_SOCKET_DIR = "/tmp";',
    tests: CONNECT,
  },
  {
    name: "conninfo.ts: an unknown keyword is passed on",
    file: "src/connect/conninfo.ts",
    from: "if (!(name in KEYWORDS)) {",
    to: "if (false) {",
    tests: CONNECT,
  },
  {
    name: "conninfo.ts: requiressl is kept apart, and PGSSLMODE or an earlier sslmode wins",
    file: "src/connect/conninfo.ts",
    from: 'if (name === "requiressl") {',
    to: "if (false) {",
    tests: CONNECT,
  },
  {
    name: "conninfo.ts: requiressl yields to an sslmode written before it",
    file: "src/connect/conninfo.ts",
    from: 'conninfo.sslmode = value.startsWith("1") ? "require" : "prefer";',
    to: 'conninfo.sslmode ??= value.startsWith("1") ? "require" : "prefer";',
    tests: CONNECT,
  },
  {
    name: "conninfo.ts: PGREQUIRESSL is not read",
    file: "src/connect/conninfo.ts",
    from: 'if (conninfo.sslmode === undefined && env.PGREQUIRESSL?.startsWith("1")) {',
    to: "if (false) {",
    tests: CONNECT,
  },
  {
    name: "conninfo.ts: PGREQUIRESSL wins over PGSSLMODE",
    file: "src/connect/conninfo.ts",
    from: 'if (conninfo.sslmode === undefined && env.PGREQUIRESSL?.startsWith("1")) {',
    to: 'if (env.PGREQUIRESSL?.startsWith("1")) {',
    tests: CONNECT,
  },
  {
    name: "conninfo.ts: an impossible TLS version range is tried",
    file: "src/connect/conninfo.ts",
    from: "if (max !== undefined && rank(min) > rank(max)) {",
    to: "if (false) {",
    tests: CONNECT,
  },
  {
    name: "conninfo.ts: the range check forgets libpq's default minimum",
    file: "src/connect/conninfo.ts",
    from: "const min = conninfo.ssl_min_protocol_version ?? DEFAULT_MIN_TLS_VERSION;",
    to: 'const min = conninfo.ssl_min_protocol_version ?? "TLSv1";',
    tests: CONNECT,
  },
  {
    name: "conninfo.ts: enumerated values compared ignoring case",
    file: "src/connect/conninfo.ts",
    from: ": keyword.values?.find((known) => known === value);",
    to: ": keyword.values?.find((known) => known.toLowerCase() === value.toLowerCase());",
    tests: CONNECT,
  },
  {
    name: "conninfo.ts: TLS versions compared with case",
    file: "src/connect/conninfo.ts",
    from: "const spelled = keyword.anyCase",
    to: "const spelled = false",
    tests: CONNECT,
  },
  {
    name: "conninfo.ts: keepalives=yes is taken",
    file: "src/connect/conninfo.ts",
    from: "if (conninfo.keepalives !== undefined && !/^",
    to: "if (false && !/^",
    tests: CONNECT,
  },
  // src/connect/files.ts
  {
    name: "files.ts: a file Deno may not read is absent",
    file: "src/connect/files.ts",
    from:
      "if (isPermissionError(error)) throw notPermitted(keyword, path, error);\n    return { code:",
    to: "return { code:",
    tests: ["test/permissions_test.ts"],
  },
  {
    name: "files.ts: HOME is ignored",
    file: "src/connect/files.ts",
    from: "return join(env.HOME || safeHomedir(), ...parts);",
    to: "return join(safeHomedir(), ...parts);",
    tests: CONNECT,
  },
  {
    name: "files.ts: any stat result counts as present",
    file: "src/connect/files.ts",
    from: "return look(keyword, path).stats !== undefined;",
    to: "return look(keyword, path) !== undefined;",
    tests: CONNECT,
  },
  // src/connect/passfile.ts
  {
    name: "passfile.ts: the first host's password serves every host",
    file: "src/connect/passfile.ts",
    from: "const host = passfileHost(endpoint.host || endpoint.hostaddr);",
    to: "const host = passfileHost(list[0].host || list[0].hostaddr);",
    tests: CONNECT,
  },
  {
    name: "passfile.ts: every socket directory is localhost",
    file: "src/connect/passfile.ts",
    from: 'return host === "" || host === DEFAULT_SOCKET_DIR ? "localhost" : host;',
    to: 'return host === "" || host.startsWith("/") ? "localhost" : host;',
    tests: CONNECT,
  },
  {
    name: "passfile.ts: a file others may read is used",
    file: "src/connect/passfile.ts",
    from: "if (!stats?.isFile() || (stats.mode & 0o077) !== 0) return none;",
    to: "if (!stats?.isFile() || (stats.mode & 0o007) !== 0) return none;",
    tests: CONNECT,
  },
  {
    name: "passfile.ts: CRLF line ends are kept",
    file: "src/connect/passfile.ts",
    from: 'const line = rawLine.replace(/[\\r\\n]+$/, "");',
    to: "const line = rawLine;",
    tests: CONNECT,
  },
  {
    name: "passfile.ts: passwords found are not masked",
    file: "src/connect/passfile.ts",
    from: "if (password && !secrets.includes(password)) secrets.push(password);",
    to: "",
    tests: ["test/secrets_test.ts", "test/redaction_test.ts"],
  },
  // src/connect/certificate.ts
  {
    name: "certificate.ts: an intermediate in sslrootcert anchors a chain",
    file: "src/connect/certificate.ts",
    from: "const anchors = roots.filter(selfSigned);",
    to: "const anchors = roots;",
    tests: CONNECT,
    runtime: "deno",
  },
  {
    name: "certificate.ts: a DNS entry does not hide the CN",
    file: "src/connect/certificate.ts",
    from: "if (name.kind === hostKind) checkCommonName = false;",
    to: "",
    tests: CONNECT,
  },
  {
    name: "certificate.ts: any subjectAltName hides the CN",
    file: "src/connect/certificate.ts",
    from: "if (name.kind === hostKind) checkCommonName = false;",
    to: "checkCommonName = false;",
    tests: CONNECT,
  },
  {
    name: "certificate.ts: names compared with case",
    file: "src/connect/certificate.ts",
    from: "const matches = fold(name) === fold(host) || wildcardMatches(name, host);",
    to: "const matches = name === host || wildcardMatches(name, host);",
    tests: CONNECT,
  },
  {
    name: "certificate.ts: a wildcard spans labels",
    file: "src/connect/certificate.ts",
    from: 'return host.indexOf(".") >= from;',
    to: "return true;",
    tests: CONNECT,
  },
  {
    name: "certificate.ts: an address host is taken for a name",
    file: "src/connect/certificate.ts",
    from: 'const hostKind = inetAton(host) || ipv6(host) ? "ip" : "dns";',
    to: 'const hostKind = "dns";',
    tests: CONNECT,
  },
  {
    name: "certificate.ts: only a dotted quad is an IPv4 address",
    file: "src/connect/certificate.ts",
    from: "if (parts.length > 4) return undefined;",
    to: "if (parts.length !== 4) return undefined;",
    tests: CONNECT,
  },
  {
    name: "certificate.ts: IPv4 address entries never match",
    file: "src/connect/certificate.ts",
    from: 'return { rc: matches ? 1 : 0, shown: bytes.join(".") };',
    to: 'return { rc: 0, shown: bytes.join(".") };',
    tests: CONNECT,
  },
  // src/connect/tls.ts
  {
    name: "tls.ts: verify-full skips the host name",
    file: "src/connect/tls.ts",
    from: 'verifyHost: mode === "verify-full",',
    to: "verifyHost: false,",
    tests: [...CONNECT, "test/reach_test.ts"],
  },
  {
    name: "tls.ts: verify-ca passes without a root certificate",
    file: "src/connect/tls.ts",
    from: '} else if (mode === "verify-ca" || mode === "verify-full") {',
    to: '} else if (mode === "verify-full") {',
    tests: [...CONNECT, "test/reach_test.ts"],
  },
  {
    name: "tls.ts: revocation lists are dropped",
    file: "src/connect/tls.ts",
    from: "      options.crl = crl;\n",
    to: "",
    tests: CONNECT,
  },
  {
    name: "tls.ts: ~/.postgresql/root.crl is not read",
    file: "src/connect/tls.ts",
    from: '(conninfo.sslcrldir ? undefined : homeFile(env, ".postgresql", "root.crl"));',
    to: "undefined;",
    tests: CONNECT,
  },
  {
    name: "tls.ts: a client key others may read is used",
    file: "src/connect/tls.ts",
    from: "if ((stats.uid === 0 ? stats.mode & 0o037 : stats.mode & 0o077) !== 0) {",
    to: "if ((stats.mode & 0o007) !== 0) {",
    tests: CONNECT,
  },
  {
    name: "tls.ts: ALPN is not checked on direct TLS",
    file: "src/connect/tls.ts",
    from: 'if (negotiation === "direct" && secured.alpnProtocol !== ALPN_PROTOCOL) {',
    to: "if (false) {",
    tests: CONNECT,
  },
  {
    name: "tls.ts: sslrootcert=system uses the runtime's roots",
    file: "src/connect/tls.ts",
    from: "    options.ca = systemRoots(env);\n",
    to: "",
    tests: CONNECT,
  },
  {
    name: "tls.ts: a missing sslcert is an error",
    file: "src/connect/tls.ts",
    from: '} else if (looked.code !== "ENOENT" && looked.code !== "ENOTDIR") {',
    to: "} else {",
    tests: CONNECT,
  },
  {
    name: "tls.ts: Deno's silent drop of a wrongly decrypted key (the key passed encrypted)",
    file: "src/connect/tls.ts",
    from: "      options.key = clientKey(conninfo, env);\n",
    to:
      '      options.key = readFor("sslkey", conninfo.sslkey || homeFile(env, ".postgresql", "postgresql.key"));\n      options.passphrase = conninfo.sslpassword;\n',
    tests: CONNECT,
    runtime: "deno",
  },
  {
    name: "tls.ts: the name check is left out (the runtime checks nothing)",
    file: "src/connect/tls.ts",
    from: "return hostMismatch(leaf.raw, host);",
    to: "return undefined;",
    tests: CONNECT,
  },
  {
    name: "tls.ts: the chain's root is not checked (Deno takes an intermediate as a root)",
    file: "src/connect/tls.ts",
    from: "if (roots && !chainEndsAtRoot(presented, roots)) {",
    to: "if (false) {",
    tests: CONNECT,
    runtime: "deno",
  },
  {
    name: "tls.ts: hostaddr stands in for host in the name check and SNI",
    file: "src/connect/tls.ts",
    from: "const host = endpoint.host;",
    to: "const host = endpoint.host || endpoint.hostaddr;",
    tests: CONNECT,
  },
  {
    name: "tls.ts: only sslsni=0 turns SNI off",
    file: "src/connect/tls.ts",
    from: 'sni: (conninfo.sslsni ?? "1").startsWith("1"),',
    to: 'sni: conninfo.sslsni !== "0",',
    tests: CONNECT,
  },
  {
    name: "tls.ts: no servername on Deno (which then sends the socket's host as SNI)",
    file: "src/connect/tls.ts",
    from: "servername: servername ?? (false as unknown as string),",
    to: "servername,",
    tests: CONNECT,
    runtime: "deno",
  },
  // src/connect/connector.ts
  {
    name: "connector.ts: a server without TLS under require moves on to the next host",
    file: "src/connect/connector.ts",
    from: "if (!isUnreachable(cause)) {",
    to: "if (false) {",
    tests: [...CONNECT, "test/connector_test.ts"],
  },
  {
    name: "connector.ts: read-write takes a standby whose default is read-write",
    file: "src/connect/connector.ts",
    from:
      '      return state.inRecovery\n        ? "server is in hot standby mode"\n        : state.defaultReadOnly',
    to: "      return state.defaultReadOnly",
    tests: ["test/ha_test.ts"],
  },
  {
    name: "connector.ts: prefer-standby never takes a primary",
    file: "src/connect/connector.ts",
    from:
      'const passes: (1 | 2)[] = config.targetSessionAttrs === "prefer-standby" ? [1, 2] : [1];',
    to: "const passes: (1 | 2)[] = [1];",
    tests: ["test/ha_test.ts", "test/connector_test.ts"],
  },
  {
    name: "connector.ts: a new connection starts after the last host, not at the first",
    file: "src/connect/connector.ts",
    from: "const session = await connect(config, packet, { ...hooks, signal, opened });",
    to:
      "const session = await connect(latest ? { ...config, attempts: config.attempts.slice(config.attempts.indexOf(latest.host) + 1) } : config, packet, { ...hooks, signal, opened });",
    tests: ["test/ha_test.ts"],
  },
  {
    name: "connector.ts: a server starting up (57P03) ends the attempt instead of moving on",
    file: "src/connect/connector.ts",
    from: "if (error.code !== SQLSTATE.CANNOT_CONNECT_NOW) throw error;",
    to: "throw error;",
    tests: [...CONNECT, "test/connector_test.ts"],
  },
  {
    name: "connector.ts: a pg_hba.conf refusal (28000) is never retried the other way",
    file: "src/connect/connector.ts",
    from: "otherWay && error instanceof StartupError &&",
    to: "false && error instanceof StartupError &&",
    tests: [...CONNECT, "test/connector_test.ts"],
  },
  {
    name: "conninfo.ts: channel_binding defaults to disable",
    file: "src/connect/conninfo.ts",
    from: '(conninfo.channel_binding ?? "prefer")',
    to: '(conninfo.channel_binding ?? "disable")',
    tests: CONNECT,
  },
  {
    name: "connector.ts: a CancelRequest goes to the first host, not the session's",
    file: "src/connect/connector.ts",
    from: "const host = latest?.host ?? config.attempts[0];",
    to: "const host = config.attempts[0];",
    tests: ["test/connector_test.ts"],
  },
  {
    name:
      "tls.ts: OpenSSL's bad-decrypt code is not read (a wrong sslpassword shows OpenSSL's words)",
    file: "src/connect/tls.ts",
    from: 'if (typeof code === "string") return BAD_DECRYPT_CODES.includes(code);',
    to: 'if (typeof code === "string") return false;',
    tests: ["test/connector_test.ts", ...CONNECT],
  },
  {
    name: "tls.ts: Deno's uncoded bad-decrypt error is not recognised",
    file: "src/connect/tls.ts",
    from: "return isEncryptedKey(String(pem));",
    to: "return false;",
    tests: ["test/connector_test.ts"],
    runtime: "deno",
  },
  {
    name: "conninfo.ts: allow tries TLS first",
    file: "src/connect/conninfo.ts",
    from: '  allow: ["plain", "tls"],',
    to: '  allow: ["tls", "plain"],',
    tests: ["test/conninfo_test.ts", ...CONNECT],
  },
  // src/connect/startup.ts
  {
    name: "startup.ts: no password sends an empty one",
    file: "src/connect/startup.ts",
    from:
      'if (!password) throw new InviteCodeError("connect", STARTUP_ERRORS.noPassword);\n    return password;',
    to: 'return password ?? "";',
    tests: [...CONNECT, "test/scram_test.ts"],
  },
  {
    name: "startup.ts: channel_binding=require answers a cleartext or md5 request",
    file: "src/connect/startup.ts",
    from: "    if (code !== AUTH.ok) {\n",
    to: "    if (false) {\n",
    tests: CONNECT,
  },
  {
    name: "startup.ts: channel_binding=require takes a session without any authentication",
    file: "src/connect/startup.ts",
    from: "if (this.#scram?.mechanism !== SCRAM_PLUS || !this.#scram.done) {",
    to: "if (this.#scram && this.#scram.mechanism !== SCRAM_PLUS) {",
    tests: CONNECT,
  },
  {
    name: "startup.ts: AuthenticationOk is taken before the server's SCRAM signature",
    file: "src/connect/startup.ts",
    from: "if (code === AUTH.ok && this.#scram && !this.#scram.done) {",
    to: "if (false) {",
    tests: ["test/scram_test.ts"],
  },
  {
    name: "startup.ts: MD5 is salted with nothing",
    file: "src/connect/startup.ts",
    from: "body.subarray(4, 8)",
    to: "body.subarray(4, 4)",
    tests: CONNECT,
  },
  // src/connect/scram.ts
  {
    name: "scram.ts: prefer never picks SCRAM-SHA-256-PLUS",
    file: "src/connect/scram.ts",
    from: 'if (binding !== "disable") chosen = SCRAM_PLUS;',
    to: 'if (binding === "require") chosen = SCRAM_PLUS;',
    tests: [...CONNECT, "test/scram_test.ts"],
  },
  {
    name: "scram.ts: TLS up and PLUS not offered says n instead of y",
    file: "src/connect/scram.ts",
    from: 'return tls && binding !== "disable" ? "y,," : "n,,";',
    to: 'return "n,,";',
    tests: ["test/scram_test.ts"],
  },
  {
    name: "scram.ts: PLUS offered without TLS is let through",
    file: "src/connect/scram.ts",
    from: "      if (!tls) fail(SCRAM_ERRORS.plusWithoutTls);\n",
    to: "",
    tests: ["test/scram_test.ts"],
  },
  {
    name: "scram.ts: channel_binding=require without TLS is not refused up front",
    file: "src/connect/scram.ts",
    from: '  if (binding === "require" && !tls) fail(SCRAM_ERRORS.requiredWithoutTls);\n',
    to: "",
    tests: [...CONNECT, "test/scram_test.ts"],
  },
  {
    name: "scram.ts: the server's nonce is not checked against the client's",
    file: "src/connect/scram.ts",
    from: "if (serverNonce.length < nonce.length || !serverNonce.startsWith(nonce)) {",
    to: "if (false) {",
    tests: ["test/scram_test.ts"],
  },
  {
    name: "scram.ts: the server's signature is not verified",
    file: "src/connect/scram.ts",
    from:
      "if (expectedSignature === undefined || !timingSafeEqual(signature, expectedSignature)) {",
    to: "if (expectedSignature === undefined) {",
    tests: ["test/scram_test.ts"],
  },
  {
    name: "scram.ts: the channel binding data is left out of c=",
    file: "src/connect/scram.ts",
    from: "binding ?? new Uint8Array()",
    to: "new Uint8Array()",
    tests: [...CONNECT, "test/scram_test.ts"],
  },
  {
    name: "scram.ts: MD5 and SHA-1 certificates are hashed with their own digest",
    file: "src/connect/scram.ts",
    from: 'return known.hash === "md5" || known.hash === "sha1" ? "sha256" : known.hash;',
    to: "return known.hash;",
    tests: ["test/scram_test.ts"],
  },
  {
    name: "scram.ts: tls-server-end-point is always SHA-256",
    file: "src/connect/scram.ts",
    from: "return createHash(endPointHash(der)).update(der).digest();",
    to: 'return createHash("sha256").update(der).digest();',
    tests: [...CONNECT, "test/scram_test.ts"],
  },
  {
    name: "scram.ts: RSASSA-PSS is hashed with SHA-256 whatever its parameters say",
    file: "src/connect/scram.ts",
    from: "return DIGESTS[oid] ?? fail(SCRAM_ERRORS.noSignatureAlgorithm);",
    to: 'return "sha256";',
    tests: [...CONNECT, "test/scram_test.ts"],
  },
  // src/connect/saslprep.ts
  {
    name: "saslprep.ts: no NFKC normalization",
    file: "src/connect/saslprep.ts",
    from: '.normalize("NFKC")',
    to: "",
    tests: ["test/scram_test.ts"],
  },
  {
    name: "saslprep.ts: pure ASCII is prepared too",
    file: "src/connect/saslprep.ts",
    from:
      "if ([...password].every((character) => character.codePointAt(0)! < 0x80)) return password;",
    to: "",
    tests: ["test/scram_test.ts"],
  },
  {
    name: "saslprep.ts: a right-to-left string may hold left-to-right characters",
    file: "src/connect/saslprep.ts",
    from: "if (mapped.some((code) => inTable(code, LEFT_TO_RIGHT))) return null;",
    to: "",
    tests: ["test/scram_test.ts"],
  },
  {
    name: "saslprep.ts: characters unassigned in Unicode 3.2 pass",
    file: "src/connect/saslprep.ts",
    from: " || inTable(code, UNASSIGNED_3_2)",
    to: "",
    tests: ["test/scram_test.ts"],
  },
  {
    name: "saslprep.ts: a refused password is sent empty, not as it is",
    file: "src/connect/saslprep.ts",
    from: "return saslprep(password) ?? password;",
    to: 'return saslprep(password) ?? "";',
    tests: ["test/scram_test.ts"],
  },
  {
    name: "connector.ts: connect_timeout is not applied: only the deadline bounds a host's session",
    file: "src/connect/connector.ts",
    from: "const limit = Math.min(host.timeoutMs, Math.max(1, hooks.deadline().at - Date.now()));",
    to: "const limit = Math.max(1, hooks.deadline().at - Date.now());",
    tests: [...CONNECT, "test/reach_test.ts", "test/connector_test.ts"],
  },
  {
    name: "connector.ts: prefer tries a host out of time again without TLS",
    file: "src/connect/connector.ts",
    from: 'if (otherWay && error instanceof TlsFailure && config.sslmode === "prefer") continue;',
    to:
      'if (otherWay && (error instanceof TlsFailure || isUnreachable(error)) && config.sslmode === "prefer") continue;',
    tests: CONNECT,
  },
  {
    name: "conninfo.ts: a fractional connect_timeout is rounded, not refused",
    file: "src/connect/conninfo.ts",
    from: "/^\\s*[+-]?\\d{1,10}\\s*$/.test(rawTimeout) ? Number(rawTimeout) : NaN",
    to: "Math.floor(Number(rawTimeout))",
    tests: CONNECT,
  },
  // src/connect/target.ts
  {
    name: "target.ts: the password file is not read",
    file: "src/connect/target.ts",
    from: "return withTls(withPasswords(keywords, env), env);",
    to: "return withTls(keywords, env);",
    tests: [...CONNECT, "test/passfile_test.ts"],
  },
  {
    name: "target.ts: a SQLite path is shown relative",
    file: "src/connect/target.ts",
    from: "const absolute = resolve(path);",
    to: "const absolute = path;",
    tests: ["test/cli_test.ts", "test/target_test.ts"],
  },
  {
    name: "target.ts: the scheme is read without regard to case",
    file: "src/connect/target.ts",
    from: ".exec(url)?.[1];",
    to: ".exec(url)?.[1].toLowerCase();",
    tests: CONNECT,
  },
  // src/db/dialect.ts
  {
    name: "dialect.ts: NBSP is not whitespace",
    file: "src/db/dialect.ts",
    from: "  0xa0,\n",
    to: "",
    tests: DIALECT,
  },
  {
    name: "dialect.ts: a missing table is reported as a missing column",
    file: "src/db/dialect.ts",
    from: "    : !facts.tableExists\n",
    to: "    : false\n",
    tests: ["test/repair_test.ts", "test/cli_test.ts"],
  },
  {
    name: "dialect.ts: no spare candidates",
    file: "src/db/dialect.ts",
    from: "return limit + Math.ceil(limit / 100) + 4;",
    to: "return limit;",
    tests: DIALECT,
  },
  // src/db/open.ts
  {
    name: "target.ts: the TLS files are looked for under process.env, not the environment given",
    file: "src/connect/target.ts",
    from: "return withTls(withPasswords(keywords, env), env);",
    to: "return withTls(withPasswords(keywords, env), process.env);",
    tests: CONNECT,
  },
  {
    name: "open.ts: options are not passed to SQLite",
    file: "src/db/open.ts",
    from: "return openSqlite(target, options);",
    to: "return openSqlite(target, { deadline: options.deadline });",
    tests: ["test/cli_test.ts", "test/repair_test.ts", "test/permissions_test.ts"],
  },
  {
    name: "open.ts: every target opens as SQLite",
    file: "src/db/open.ts",
    from: 'if (target.dialect === "postgres") {',
    to: 'if (target.dialect === "sqlite" as string) {',
    tests: ["test/repair_test.ts"],
  },
  // src/db/postgres.ts
  {
    name: "postgres.ts: a role's statement_timeout read as milliseconds",
    file: "src/db/postgres.ts",
    from: "::interval) * 1000)::bigint, 0), $1::bigint))::text, true)`",
    to: "::interval))::bigint, 0), $1::bigint))::text, true)`",
    tests: DIALECT,
  },
  {
    name: "postgres.ts: no advisory lock",
    file: "src/db/postgres.ts",
    from: 'await tx.unsafe("SELECT pg_advisory_xact_lock(hashtextextended($1, 0))", [',
    to: 'await tx.unsafe("SELECT $1::text", [',
    tests: DIALECT,
  },
  {
    name: "connector.ts: session attributes never checked",
    file: "src/connect/connector.ts",
    from: 'if (config.targetSessionAttrs !== "any") {',
    to: "if (false) {",
    tests: ["test/ha_test.ts", "test/connector_test.ts"],
  },
  {
    name: "every encoding gets UTF-8's blank test",
    file: "src/db/postgres.ts",
    from: 'if (encoding !== "UTF8") {',
    to: "if (false) {",
    tests: ["test/unusual_data_test.ts"],
  },
  {
    name: "a partitioned or inherited table's chunk updates rows by ctid alone",
    file: "src/db/postgres.ts",
    from: '${spansTables ? "u.tableoid = p.o AND " : ""}',
    to: "",
    tests: ["test/table_layouts_test.ts"],
  },
  // src/db/sqlcipher.ts, and the encrypted target (test/sqlcipher_test.ts)
  {
    name: "sqlcipher.ts: SQLCipher 3's settings (legacy = 3) instead of 4's",
    file: "src/db/sqlcipher.ts",
    from: 'db.exec("PRAGMA legacy = 4");',
    to: 'db.exec("PRAGMA legacy = 3");',
    tests: ["test/sqlcipher_test.ts"],
  },
  {
    name: "sqlcipher.ts: the library's default cipher (ChaCha20), not SQLCipher's",
    file: "src/db/sqlcipher.ts",
    from: "db.exec(\"PRAGMA cipher = 'sqlcipher'\");",
    to: "",
    tests: ["test/sqlcipher_test.ts"],
  },
  {
    name: "sqlcipher.ts: a quote in the passphrase is not doubled",
    file: "src/db/sqlcipher.ts",
    from: "return `'${passphrase.replaceAll(\"'\", \"''\")}'`;",
    to: "return `'${passphrase}'`;",
    tests: ["test/sqlcipher_test.ts"],
  },
  {
    name: "sqlcipher.ts: the key is not tried at open, a wrong one fails later as any error",
    file: "src/db/sqlcipher.ts",
    from: 'db.prepare("SELECT count(*) FROM sqlite_schema").get();',
    to: "",
    tests: ["test/sqlcipher_test.ts"],
  },
  {
    name: "sqlcipher.ts: a missing library is a config failure, not one of the runtime",
    file: "src/db/sqlcipher.ts",
    from: 'throw new InviteCodeError("runtime", LOG.cipherLibraryMissing(CIPHER_LIBRARY), {',
    to: 'throw new InviteCodeError("config", LOG.cipherLibraryMissing(CIPHER_LIBRARY), {',
    tests: ["test/sqlcipher_test.ts"],
  },
  {
    name: "sqlite.ts: the SQLCipher library's named result codes are not read",
    file: "src/db/sqlite.ts",
    from: 'if (typeof code !== "string" || !code.startsWith("SQLITE_")) return undefined;',
    to: "return undefined;",
    tests: ["test/sqlcipher_test.ts"],
  },
  {
    name: "target.ts: a sqlite+sqlcipher:/// URL keeps its leading slash (every path absolute)",
    file: "src/connect/target.ts",
    from: 'if (path.startsWith("/")) path = path.slice(1);',
    to: "",
    tests: ["test/sqlcipher_test.ts"],
  },
  {
    name: "target.ts: a blank DATABASE_PASSWORD is taken as a passphrase",
    file: "src/connect/target.ts",
    from: 'if (passphrase.trim() === "") throw',
    to: 'if (passphrase === "") throw',
    tests: ["test/sqlcipher_test.ts"],
  },
  {
    name: "target.ts: the passphrase is not among the target's secrets",
    file: "src/connect/target.ts",
    from: "secrets: cipher ? [cipher.passphrase] : [],",
    to: "secrets: [],",
    tests: ["test/sqlcipher_test.ts"],
  },
  {
    name: "environment.ts: DATABASE_TYPE=sqlite+sqlcipher alone names the plain file",
    file: "src/connect/environment.ts",
    from: "return DATABASE_TYPE === SQLCIPHER_SCHEME",
    to: 'return DATABASE_TYPE === "sqlcipher"',
    tests: ["test/sqlcipher_test.ts"],
  },
  {
    name: "start.sh: --allow-ffi also for a plain DATABASE_URL when DATABASE_TYPE says sqlcipher",
    file: "start.sh",
    from: '  "") if [ "${DATABASE_TYPE:-}" = "sqlite+sqlcipher" ]; then',
    to: '  *) if [ "${DATABASE_TYPE:-}" = "sqlite+sqlcipher" ]; then',
    tests: ["test/sqlcipher_test.ts"],
  },
  {
    name: "start.sh: no --allow-ffi for a sqlite+sqlcipher:// DATABASE_URL",
    file: "start.sh",
    from: 'sqlite+sqlcipher://*) deno_permissions="$deno_permissions $cipher_permission" ;;',
    to: "sqlite+sqlcipher://*) ;;",
    tests: ["test/sqlcipher_test.ts"],
    runtime: "deno",
  },
  {
    name: "postgres.ts: an invalid index (a failed CREATE INDEX CONCURRENTLY) guards the column",
    file: "src/db/postgres.ts",
    from: " AND i.indisvalid AND i.indisready",
    to: "",
    tests: DIALECT,
  },
  {
    name: "postgres.ts: a composite unique index guards the column",
    file: "src/db/postgres.ts",
    from: "WHERE indisunique AND indnkeyatts = 1) AS is_unique",
    to: "WHERE indisunique) AS is_unique",
    tests: DIALECT,
  },
  {
    name: "postgres.ts: any index on the column alone guards it",
    file: "src/db/postgres.ts",
    from: "WHERE indisunique AND indnkeyatts = 1) AS is_unique",
    to: "WHERE indnkeyatts = 1) AS is_unique",
    tests: DIALECT,
  },
  // src/db/sqlite.ts
  {
    name: "sqlite.ts: the walk starts after the least rowid",
    file: "src/db/sqlite.ts",
    from: 'return cursor === null ? { op: ">=", from: FIRST_ROWID } : { op: ">", from: cursor };',
    to: 'return cursor === null ? { op: ">", from: 0 } : { op: ">", from: cursor };',
    tests: DIALECT,
  },
  {
    name: "sqlite.ts: no busy timeout",
    file: "src/db/sqlite.ts",
    from: "db?.exec(`PRAGMA busy_timeout = ${remainingMs(options.deadline)}`);",
    to: "",
    tests: DIALECT,
  },
  {
    name: "sqlite.ts: a deferred transaction instead of an immediate one",
    file: "src/db/sqlite.ts",
    from: 'run(() => db.prepare("BEGIN IMMEDIATE").run());',
    to: 'run(() => db.prepare("BEGIN").run());',
    tests: DIALECT,
  },
  {
    name: "sqlite.ts: BEGIN IMMEDIATE by exec(), whose errors carry no result code on Deno",
    file: "src/db/sqlite.ts",
    from: 'run(() => db.prepare("BEGIN IMMEDIATE").run());',
    to: 'run(() => db.exec("BEGIN IMMEDIATE"));',
    tests: ["test/cli_test.ts"],
    runtime: "deno",
  },
  {
    name: "a SQLite table WITHOUT ROWID fails on a missing rowid",
    file: "src/db/sqlite.ts",
    from: "if (withoutRowid) {",
    to: "if (false) {",
    tests: ["test/table_layouts_test.ts"],
  },
  {
    name: "sqlite.ts: a composite unique index guards the column",
    file: "src/db/sqlite.ts",
    from: "unique: leading.some((i) => i.is_unique === 1 && i.columns === 1),",
    to: "unique: leading.some((i) => i.is_unique === 1),",
    tests: DIALECT,
  },
  {
    name: "sqlite.ts: any index on the column alone guards it",
    file: "src/db/sqlite.ts",
    from: "unique: leading.some((i) => i.is_unique === 1 && i.columns === 1),",
    to: "unique: leading.some((i) => i.columns === 1),",
    tests: DIALECT,
  },
  {
    name: "sqlite.ts: a later chunk forgets the codes earlier chunks gave (no index)",
    file: "src/db/sqlite.ts",
    from: "    if (count > 0) remember?.run();\n",
    to: "",
    tests: DIALECT,
  },
  {
    name: "sqlite.ts: candidates are not looked up in an indexed column",
    file: "src/db/sqlite.ts",
    from: "let inUse = `SELECT 1 FROM ${TBL} x WHERE x.${COL} = c.value`;",
    to: "let inUse = `SELECT 1 WHERE 0`;",
    tests: DIALECT,
  },
  // src/probe/heal.ts
  {
    name: "heal.ts: stopping does not stop the repair in progress",
    file: "src/probe/heal.ts",
    from: "      signal: stopping.signal,\n",
    to: "",
    tests: PROBE,
  },
  {
    name: "heal.ts: a round runs whatever the check said",
    file: "src/probe/heal.ts",
    from: 'if (result.status !== "missing") return;',
    to: "",
    tests: PROBE,
  },
  {
    name: "heal.ts: repairs are not counted",
    file: "src/probe/heal.ts",
    from: "stats.repairedUsers += report.generated;",
    to: "",
    tests: [...PROBE, "test/ha_test.ts"],
  },
  {
    name: "heal.ts: the first round waits an interval",
    file: "src/probe/heal.ts",
    from: "  schedule(0);\n",
    to: "  schedule(intervalMs);\n",
    tests: PROBE,
  },
  // src/probe/inspector.ts
  {
    name: "inspector.ts: the cache never expires",
    file: "src/probe/inspector.ts",
    from: "return age < cacheMs || (inFlight && age < cacheMs + timeoutMs) ? cached : undefined;",
    to: "return cached;",
    tests: PROBE,
  },
  {
    name: "inspector.ts: an answer is known before the first check ends",
    file: "src/probe/inspector.ts",
    from: "return cached !== undefined;",
    to: "return true;",
    tests: PROBE,
  },
  {
    name: "probe/server.ts: readiness waits out a slow first check instead of saying starting",
    file: "src/probe/server.ts",
    from: "if (inspector.answered) return inspector.latest()",
    to: "if (inspector.answered || true) return inspector.latest()",
    tests: PROBE,
  },
  {
    name: "probe/server.ts: a probe beside the app that cannot start prints ERROR",
    file: "src/probe/server.ts",
    from: "if (besideApp(env))",
    to: "if (false)",
    tests: ["test/start_test.ts"],
  },
  {
    name: "probe/server.ts: an error a route throws is not logged",
    file: "src/probe/server.ts",
    from: "    log(PROBE_LOG.internalError(describeFailure(error, secrets).message));\n",
    to: "",
    tests: PROBE,
  },
  {
    name: "probe/server.ts: an error a route throws is logged unmasked",
    file: "src/probe/server.ts",
    from: "PROBE_LOG.internalError(describeFailure(error, secrets).message)",
    to: "PROBE_LOG.internalError(describeFailure(error, []).message)",
    tests: PROBE,
  },
  {
    name: "cli.ts: the command does not contain stray errors",
    file: "src/cli.ts",
    from: "return main(args, undefined, { containStrays: containStrayErrors });",
    to: "return main(args);",
    tests: ["test/cli_test.ts"],
  },
  {
    name: "settings.ts: a range bound off by one (REPAIR_MAX_ACTIVE)",
    file: "src/settings.ts",
    from: "    max: 100_000,\n",
    to: "    max: 99_999,\n",
    tests: ["test/settings_test.ts"],
  },
  {
    name: "repair.ts: the upkeep keeps to the spent repair deadline",
    file: "src/repair.ts",
    from: "{ deadline: () => upkeepDeadline ?? deadline, log }",
    to: "{ deadline: () => deadline, log }",
    tests: ["test/repair_test.ts", "test/kill_test.ts", "test/outages_test.ts"],
  },
  {
    name: "repair.ts: the wait for another replica's lock is never said",
    file: "src/repair.ts",
    from: ": noticeIfSlow(this.#settings.log, LOG.waitingForLock());",
    to: ": undefined;",
    tests: ["test/kill_test.ts"],
  },
  {
    name: "repair.ts: the slow-host line is not cancelled when the host answers",
    file: "src/repair.ts",
    from: "const answered = slowHost.cancel;",
    to: "const answered = () => {};",
    tests: ["test/kill_test.ts"],
  },
  {
    name: "inspector.ts: a broken connection is kept",
    file: "src/probe/inspector.ts",
    from: 'if (result.status === "error" || target.dialect === "sqlite") {',
    to: 'if (target.dialect === "sqlite") {',
    tests: PROBE,
  },
  {
    name: "inspector.ts: concurrent requests do not share one check",
    file: "src/probe/inspector.ts",
    from: "inFlight ??= inspectNow()",
    to: "inFlight = inspectNow()",
    tests: PROBE,
  },
  // src/probe/render.ts
  {
    name: "render.ts: a missing unique constraint is a pass",
    file: "src/probe/render.ts",
    from: 'return { status: result.schema?.unique ? "pass" : "warn", code: 200 };',
    to: 'return { status: "pass", code: 200 };',
    tests: PROBE,
  },
  {
    name: "render.ts: duplicates are a 503",
    file: "src/probe/render.ts",
    from: 'if (result.status === "duplicates") return { status: "warn", code: 200 };',
    to: 'if (result.status === "duplicates") return { status: "fail", code: 503 };',
    tests: PROBE,
  },
  {
    name: "render.ts: failure reasons on the wire without HEALTH_DETAILS",
    file: "src/probe/render.ts",
    from: 'if (details || result.status === "missing" || result.status === "duplicates") {',
    to: "if (true) {",
    tests: PROBE,
  },
  // Issue 31: reports that tell the truth, misconfiguration told apart, errors that name their cause.
  {
    name: "repair.ts: committed batches reported as a failure",
    file: "src/repair.ts",
    from: "const partial = progress.committed > 0;",
    to: "const partial = false;",
    tests: ["test/repair_test.ts"],
  },
  {
    name: "repair.ts: commits never counted for the report",
    file: "src/repair.ts",
    from: "this.#settings.onCommit?.(this.committed, Math.max(this.found, this.committed));",
    to: "",
    tests: ["test/repair_test.ts"],
  },
  {
    name: "repair.ts: duplicates hidden behind All users have invite codes",
    file: "src/repair.ts",
    from: 'if (!options.fixDuplicates && report.duplicates && report.status !== "failed") {',
    to: "if (false) {",
    tests: ["test/repair_test.ts"],
  },
  {
    name: "repair.ts: --fix-duplicates --dry-run silent on what it would change",
    file: "src/repair.ts",
    from: "if (fixing > 0) log(LOG.duplicatesDryRun(",
    to: "if (false) log(LOG.duplicatesDryRun(",
    tests: ["test/repair_test.ts"],
  },
  {
    name: "cli.ts: a partial run exits 0 under --strict",
    file: "src/cli.ts",
    from: '(report.status === "failed" || report.status === "partial") && flags.strict',
    to: 'report.status === "failed" && flags.strict',
    tests: ["test/repair_test.ts"],
  },
  {
    name: "cli.ts: --json without the version",
    file: "src/cli.ts",
    from: "    version: VERSION,\n",
    to: "",
    tests: ["test/repair_test.ts"],
  },
  {
    name: "cli.ts: a negative number read as a flag",
    file: "src/cli.ts",
    from: "/^-[\\d.]/.test(next)",
    to: "false",
    tests: ["test/cli_test.ts"],
  },
  {
    name: "cli.ts: --fix-duplicates --check accepted",
    file: "src/cli.ts",
    from: 'if (on("--check") && on("--fix-duplicates")) {',
    to: "if (false) {",
    tests: ["test/cli_test.ts"],
  },
  {
    name: "cli.ts: --help without its exit codes",
    file: "src/cli.ts",
    from: "Exit codes: 0 done, nothing to do, skipped, or failed open; 1 failed or",
    to: "Exit: 0 done, nothing to do, skipped, or failed open; 1 failed or",
    tests: ["test/cli_test.ts"],
  },
  {
    name: "messages.ts: one user called 1 users",
    file: "src/messages.ts",
    from: '`${count} ${count === 1 ? "user" : "users"}`',
    to: "`${count} users`",
    tests: ["test/repair_test.ts"],
  },
  {
    name: "sqlite.ts: duplicates counted less one per code",
    file: "src/db/sqlite.ts",
    from: "SELECT coalesce(sum(n), 0) AS users",
    to: "SELECT coalesce(sum(n - 1), 0) AS users",
    tests: ["test/repair_test.ts"],
  },
  {
    name: "postgres.ts: duplicates counted less one per code",
    file: "src/db/postgres.ts",
    from: "SELECT coalesce(sum(n), 0)::float8 AS users",
    to: "SELECT coalesce(sum(n - 1), 0)::float8 AS users",
    tests: ["test/repair_test.ts"],
  },
  {
    name: "sqlite.ts: a missing folder taken for not migrated yet",
    file: "src/db/sqlite.ts",
    from: "if (!statSync(folder, { throwIfNoEntry: false })?.isDirectory()) {",
    to: "if (false) {",
    tests: ["test/cli_test.ts"],
  },
  {
    name: "sqlite.ts: a directory opened as a database",
    file: "src/db/sqlite.ts",
    from: "if (found?.isDirectory()) {",
    to: "if (false) {",
    tests: ["test/cli_test.ts"],
  },
  {
    name: "sqlite.ts: a CHECK constraint taken for crowded codes",
    file: "src/db/sqlite.ts",
    from: "if (assigned === 0) assigned = whyNone(op, from, offered);",
    to: "",
    tests: ["test/cli_test.ts"],
  },
  {
    name: "sqlite.ts: a code another row holds taken for a constraint that refuses codes",
    file: "src/db/sqlite.ts",
    from: "return code === SQLITE.CONSTRAINT_UNIQUE || code === SQLITE.CONSTRAINT_PRIMARYKEY;",
    to: "return code === SQLITE.CONSTRAINT;",
    tests: ["test/repair_test.ts", "test/sqlcipher_test.ts"],
  },
  {
    name: "sqlite.ts: a read-only folder called a readonly database",
    file: "src/db/sqlite.ts",
    from: 'if (denied) return new InviteCodeError("permission"',
    to: 'if (false) return new InviteCodeError("permission"',
    tests: ["test/cli_test.ts"],
  },
  {
    name: "sqlite.ts: an INTEGER column accepted",
    file: "src/db/sqlite.ts",
    from: "if (!holdsText(column.type)) {",
    to: "if (false) {",
    tests: ["test/cli_test.ts"],
  },
  {
    name: "postgres.ts: a DATABASE_SCHEMA no schema has taken for not migrated yet",
    file: "src/db/postgres.ts",
    from: "if (!row.schema_exists) {",
    to: "if (false) {",
    tests: ["test/cli_test.ts"],
  },
  {
    name: "postgres.ts: an integer column accepted",
    file: "src/db/postgres.ts",
    from: "if (row.column_exists && !row.is_text) {",
    to: "if (false) {",
    tests: ["test/cli_test.ts"],
  },
  {
    name: "target.ts: server settings in part fall back to SQLite silently",
    file: "src/connect/target.ts",
    from: 'return target.dialect === "sqlite" && unmet ?',
    to: "return false && unmet ?",
    tests: ["test/cli_test.ts"],
  },
  {
    name: "target.ts: a trailing line break in the URL accepted",
    file: "src/connect/target.ts",
    from: "if (trailing) {",
    to: "if (false) {",
    tests: ["test/cli_test.ts"],
  },
  {
    name: "connector.ts: a server that hangs up leaves no reason",
    file: "src/connect/connector.ts",
    from: 'spoke() ? "server closed the connection" : "server closed the connection unexpectedly",',
    to: '"",',
    tests: ["test/cli_test.ts", "test/connector_test.ts"],
  },
  {
    name: "errors.ts: a short secret masked inside words",
    file: "src/errors.ts",
    from: "if (form.length < SECRET_PREFIX) {",
    to: "if (form.length < 3) {",
    tests: ["test/secrets_test.ts"],
  },
  {
    name: "probe/server.ts: Accept's q-values ignored",
    file: "src/probe/server.ts",
    from: "return text > 0 && text > json;",
    to: 'return ranges.some((r) => r.range.startsWith("text/"));',
    tests: PROBE,
  },
  {
    name: "probe/server.ts: an unknown ?format= answered with JSON",
    file: "src/probe/server.ts",
    from: 'if (format !== undefined && format !== "text" && format !== "json") {',
    to: "if (false) {",
    tests: PROBE,
  },
  {
    name: "probe/server.ts: an absent column not logged",
    file: "src/probe/server.ts",
    from: 'PROBE_LOG.checkFailed("absent", result.reason ?? "")',
    to: '""',
    tests: PROBE,
  },
  {
    name: "probe/server.ts: an IPv6 listen address without brackets",
    file: "src/probe/server.ts",
    from: 'host.includes(":") && !host.startsWith("[")',
    to: "false",
    tests: PROBE,
  },
  {
    name: "runtime.ts: a method Node's parser does not know gets 400",
    file: "src/runtime.ts",
    from: 'error.code === "HPE_INVALID_METHOD"',
    to: "false",
    tests: PROBE,
  },
  {
    name: "inspector.ts: the probe's timeout named --timeout",
    file: "src/probe/inspector.ts",
    from: 'Deadline.after(timeoutMs, "HEALTH_TIMEOUT_MS")',
    to: 'Deadline.after(timeoutMs, "--timeout")',
    tests: PROBE,
  },
  {
    name: "render.ts: the users gauge named with _total",
    file: "src/probe/render.ts",
    from: 'sample("invite_codes_users", "Users in the table."',
    to: 'sample("invite_codes_users_total", "Users in the table."',
    tests: PROBE,
  },
  {
    name: "render.ts: the check's duration in milliseconds",
    file: "src/probe/render.ts",
    from: "result.durationMs / 1000,",
    to: "result.durationMs,",
    tests: PROBE,
  },
];

/** Run test files under `runtime`; true when they pass. */
function passes(tests: string[], runtime: "node" | "deno" = "node"): { ok: boolean; why: string } {
  const run = spawnSync(process.execPath, ["scripts/test.ts", runtime, ...tests], {
    cwd: ROOT,
    encoding: "utf8",
    env: { ...process.env, PATH: projectPath(ROOT) },
    maxBuffer: 256 * 1024 * 1024,
  });
  const failed = /^FAILED: .*$/m.exec(run.stderr)?.[0] ?? run.stderr.trim().split("\n").pop() ?? "";
  // Name the tests that failed: Node's "✖ name (12ms)" lines, Deno's "name => file:line".
  // deno-lint-ignore no-control-regex
  const output = `${run.stdout}\n${run.stderr}`.replace(/\x1b\[[0-9;]*m/g, "");
  const names = new Set(
    [...output.matchAll(/^\s*✖ (.+?) \(\d[\d.]*m?s\)$|^(.+?) => \S+_test\.ts:\d+/gm)]
      .map((match) => (match[1] ?? match[2]).trim())
      .filter((name) => name !== "failing tests:"),
  );
  const why = `${failed}${names.size ? `: ${[...names].join("; ")}` : ""}`;
  return { ok: run.status === 0, why: why.slice(0, 400) };
}

const args = (() => {
  try {
    return parseArgs({
      options: { list: { type: "boolean" }, "no-control": { type: "boolean" } },
      allowPositionals: true,
    });
  } catch (error) {
    console.error(`ERROR: ${(error as Error).message}`);
    process.exit(2);
  }
})();
const listOnly = args.values.list ?? false;
const filters = args.positionals;
const chosen = MUTATIONS.filter((m) =>
  filters.length === 0 || filters.some((f) => m.name.includes(f))
);
const unmatched = filters.filter((f) => !MUTATIONS.some((m) => m.name.includes(f)));
if (unmatched.length > 0) {
  console.error(`ERROR: no planted bug is named like ${JSON.stringify(unmatched)}`);
  process.exit(2);
}
// Every mutation must change exactly one place, or it plants something else.
for (const mutation of chosen) {
  const text = readFileSync(`${ROOT}/${mutation.file}`, "utf8");
  const count = text.split(mutation.from).length - 1;
  if (count !== 1) {
    console.error(`ERROR: "${mutation.name}": its text occurs ${count} times in ${mutation.file}`);
    process.exit(2);
  }
}
if (listOnly) {
  console.log(chosen.map((m) => m.name).join("\n"));
  process.exit(0);
}
// Control: unmutated, the same tests must pass, or "caught" means nothing.
// --no-control skips it where the suite has just passed whole (it takes as
// long as a run); each caught line still names the tests that failed.
for (const runtime of args.values["no-control"] ? [] : ["node", "deno"] as const) {
  const tests = [
    ...new Set(chosen.filter((m) => (m.runtime ?? "node") === runtime).flatMap((m) => m.tests)),
  ];
  if (tests.length === 0) continue;
  const control = passes(tests, runtime);
  if (!control.ok) {
    console.error(`ERROR: the tests fail under ${runtime} without any mutation: ${control.why}`);
    process.exit(2);
  }
}
const results: string[] = [];
for (const mutation of chosen) {
  const path = `${ROOT}/${mutation.file}`;
  const original = readFileSync(path, "utf8");
  writeFileSync(path, original.replace(mutation.from, mutation.to));
  try {
    console.error(`--- ${mutation.name}`);
    const outcome = passes(mutation.tests, mutation.runtime);
    const line = outcome.ok
      ? `SURVIVED  ${mutation.name} (${mutation.tests.join(", ")} passed)`
      : `caught    ${mutation.name} (${outcome.why})`;
    results.push(line);
    console.error(line);
  } finally {
    writeFileSync(path, original);
  }
}
const caught = results.filter((line) => line.startsWith("caught")).length;
console.log(results.join("\n"));
console.log(
  `${caught} of ${results.length} caught (${Math.round((100 * caught) / results.length)}%)`,
);
process.exit(caught === results.length ? 0 : 1);
