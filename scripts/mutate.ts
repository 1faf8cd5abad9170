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
const DIALECT = ["test/repair_test.ts", "test/reliability_test.ts"];
const PROBE = ["test/health_test.ts"];

const MUTATIONS: Mutation[] = [
  // mod.ts
  {
    name: "mod.ts: the CLI's exit code is dropped",
    file: "mod.ts",
    from: "exit(await main(process.argv.slice(2)));",
    to: "await main(process.argv.slice(2)); exit(0);",
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
  // health.ts
  {
    name: "health.ts: HEAD answers with a body",
    file: "health.ts",
    from: 'c.req.method === "HEAD"',
    to: "false",
    tests: PROBE,
  },
  {
    name: "health.ts: HEALTH_CACHE_MS default 2000 becomes 0",
    file: "health.ts",
    from: 'envNumber(env, "HEALTH_CACHE_MS", 2000,',
    to: 'envNumber(env, "HEALTH_CACHE_MS", 0,',
    tests: PROBE,
  },
  {
    name: "health.ts: REPAIR_INTERVAL read as milliseconds",
    file: "health.ts",
    from: "repairIntervalMs: 1000 *",
    to: "repairIntervalMs: 1 *",
    tests: PROBE,
  },
  {
    name: "health.ts: failed checks are not counted",
    file: "health.ts",
    from: "stats.failedInspections = inspector.failures;",
    to: "",
    tests: PROBE,
  },
  {
    name: "health.ts: an empty HEALTH_DETAILS is an error, not its default",
    file: "health.ts",
    from: 'const details = env.HEALTH_DETAILS || "0";',
    to: 'const details = env.HEALTH_DETAILS ?? "0";',
    tests: PROBE,
  },
  {
    name: "health.ts: the probe listens on loopback alone by default",
    file: "health.ts",
    from: 'const host = env.HEALTH_HOST || "0.0.0.0";',
    to: 'const host = env.HEALTH_HOST || "127.0.0.1";',
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
    from: 'return report.status === "failed" && flags.strict ? 1 : 0;',
    to: "return 0;",
    tests: ["test/cli_test.ts"],
  },
  {
    name: "cli.ts: --timeout read as milliseconds",
    file: "src/cli.ts",
    from: "{ integer: false, min: 1, max: 86_400 }) *\n        1000,",
    to: "{ integer: false, min: 1, max: 86_400 }) *\n        1,",
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
    tests: ["test/cli_test.ts", "test/reliability_test.ts"],
  },
  {
    name: "deadline.ts: closing waits 30 s, not 3",
    file: "src/deadline.ts",
    from: "setTimeout(resolve, 3000)",
    to: "setTimeout(resolve, 30000)",
    tests: ["test/reliability_test.ts"],
  },
  {
    name: "deadline.ts: the default timeout is 12 s",
    file: "src/deadline.ts",
    from: "export const DEFAULT_TIMEOUT_MS = 120_000;",
    to: "export const DEFAULT_TIMEOUT_MS = 12_000;",
    tests: ["test/cli_test.ts", "test/reliability_test.ts"],
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
    from: "if (duplicates > 0) {",
    to: "if (duplicates > 1e9) {",
    tests: ["test/cli_test.ts", "test/health_test.ts"],
  },
  {
    name: "inspect.ts: the check opens the database writable",
    file: "src/inspect.ts",
    from: "readOnly: true }, env);",
    to: "readOnly: false }, env);",
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
    from: 'return raw === undefined || raw === "" ? fallback : readNumber(name, raw, rule);',
    to: "return raw === undefined ? fallback : readNumber(name, raw, rule);",
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
  // src/connect/connector.ts
  {
    name: "connector.ts: a server without TLS under require moves on to the next host",
    file: "src/connect/connector.ts",
    from: "if (error instanceof NoTlsError || !isUnreachable(error)) {",
    to: "if (false) {",
    tests: CONNECT,
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
    from: 'if (queue.length === 0 && settings.attrs === "prefer-standby" && pass === 1) {',
    to: "if (false) {",
    tests: ["test/ha_test.ts"],
  },
  {
    name: "connector.ts: a new connection starts after the last host, not at the first",
    file: "src/connect/connector.ts",
    from: "    settled() {\n      answered();\n      restart();\n    },",
    to: "    settled() {\n      answered();\n    },",
    tests: ["test/ha_test.ts"],
  },
  {
    name: "connector.ts: no password sends an empty one",
    file: "src/connect/connector.ts",
    from: "if (password) return password;",
    to: 'if (password !== undefined || true) return password ?? "";',
    tests: CONNECT,
  },
  {
    name: "connector.ts: connect_timeout bounds the socket, not the wait for the session",
    file: "src/connect/connector.ts",
    from: "          if (Number.isFinite(settings.perAttemptMs)) {",
    to: "          if (false) {",
    tests: [...CONNECT, "test/reach_test.ts"],
  },
  {
    name: "connector.ts: prefer tries a host out of time again without TLS",
    file: "src/connect/connector.ts",
    from: 'if (mode !== "prefer" || error instanceof AttemptTimeout) throw error;',
    to: 'if (mode !== "prefer") throw error;',
    tests: CONNECT,
  },
  {
    name: "connector.ts: a fractional connect_timeout is rounded, not refused",
    file: "src/connect/connector.ts",
    from: "/^\\s*[+-]?\\d{1,10}\\s*$/.test(rawTimeout) ? Number(rawTimeout) : NaN",
    to: "Math.floor(Number(rawTimeout))",
    tests: CONNECT,
  },
  // src/connect/target.ts
  {
    name: "target.ts: the password file is not read",
    file: "src/connect/target.ts",
    from:
      "return withPasswords(postgresTarget(parseSqlalchemyUrl(url), env, envSecrets(env)), env);",
    to: "return postgresTarget(parseSqlalchemyUrl(url), env, envSecrets(env));",
    tests: CONNECT,
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
    name: "open.ts: the environment is not passed to PostgreSQL",
    file: "src/db/open.ts",
    from: "return openPostgres(target, options, env);",
    to: "return openPostgres(target, options, process.env);",
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
    name: "postgres.ts: session attributes never checked",
    file: "src/db/postgres.ts",
    from: "if (!driver.connector.admit(state)) throw SESSION_REJECTED;",
    to: "",
    tests: ["test/ha_test.ts"],
  },
  {
    name: "every encoding gets UTF-8's blank test",
    file: "src/db/postgres.ts",
    from: 'if (encoding !== "UTF8") {',
    to: "if (false) {",
    tests: ["test/reliability_test.ts"],
  },
  {
    name: "a partitioned or inherited table's chunk updates rows by ctid alone",
    file: "src/db/postgres.ts",
    from: '${spansTables ? "u.tableoid = p.o AND " : ""}',
    to: "",
    tests: ["test/reliability_test.ts"],
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
    from: 'run(() => db.exec("BEGIN IMMEDIATE"));',
    to: 'run(() => db.exec("BEGIN"));',
    tests: DIALECT,
  },
  {
    name: "a SQLite table WITHOUT ROWID fails on a missing rowid",
    file: "src/db/sqlite.ts",
    from: "if (withoutRowid) {",
    to: "if (false) {",
    tests: ["test/reliability_test.ts"],
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
