/**
 * Plant known bugs one at a time and see whether the suite catches each:
 *
 *   node scripts/mutate.ts [name-substring]
 *
 * For every mutation, the source is changed, the named test files run under
 * Node (`node scripts/test.ts node ...`), and the source is restored. A
 * mutation "survives" when those tests still pass. Not part of CI: it takes
 * a while, and its answer is for the person changing the tests.
 */
import { spawnSync } from "node:child_process";
import { readFileSync, writeFileSync } from "node:fs";
import process from "node:process";
import { fileURLToPath } from "node:url";
import { projectPath } from "./net.ts";

const ROOT = fileURLToPath(new URL("..", import.meta.url));

interface Mutation {
  name: string;
  file: string;
  from: string;
  to: string;
  tests: string[];
}

const MUTATIONS: Mutation[] = [
  {
    name: "drop the still-missing guard from the assigning UPDATE",
    file: "src/db/postgres.ts",
    from: '"u.tableoid = p.o AND " : ""}${missing(`u.${COL}`)}',
    to: '"u.tableoid = p.o AND " : ""}true',
    tests: ["test/reliability_test.ts"],
  },
  {
    name: "drop the still-missing guard and update by id (not ctid)",
    file: "src/db/postgres.ts",
    from:
      'UPDATE ${table} u SET ${COL} = p.code FROM pairs p\n  WHERE u.ctid = p.t AND ${spansTables ? "u.tableoid = p.o AND " : ""}${missing(`u.${COL}`)}',
    to:
      "UPDATE ${table} u SET ${COL} = p.code FROM pairs p\n  WHERE u.id = (SELECT id FROM ${table} WHERE ctid = p.t)",
    tests: ["test/reliability_test.ts"],
  },
  {
    name: "remove pg_advisory_xact_lock",
    file: "src/db/postgres.ts",
    from: '"SELECT pg_advisory_xact_lock(hashtextextended($1, 0))"',
    to: '"SELECT $1::text"',
    tests: ["test/pgbouncer_test.ts", "test/reliability_test.ts"],
  },
  {
    name: "redact() does nothing",
    file: "src/errors.ts",
    from: "  let out = text;\n",
    to: "  let out = text;\n  if (out) return out;\n",
    tests: ["test/secrets_test.ts", "test/cli_test.ts"],
  },
  {
    name: "--fix-duplicates keeps the latest holder",
    file: "src/db/postgres.ts",
    from: "ORDER BY created_at, tableoid, ctid",
    to: "ORDER BY created_at DESC, tableoid, ctid",
    tests: ["test/reliability_test.ts"],
  },
  {
    name: "byte % 31 without rejection",
    file: "src/codes.ts",
    from: "    if (byte >= UNBIASED_LIMIT) continue;\n",
    to: "",
    tests: ["test/codes_test.ts"],
  },
  {
    name: "--check exits 0 when it could not look",
    file: "src/cli.ts",
    from: 'result.status === "error" ? 2 : 1',
    to: 'result.status === "error" ? 0 : 1',
    tests: ["test/cli_test.ts"],
  },
  {
    name: "probe answers 200 while users are missing",
    file: "src/probe/render.ts",
    from: '  if (result.status === "duplicates") return { status: "warn", code: 200 };',
    to: '  if (result.status !== "error") return { status: "warn", code: 200 };',
    tests: ["test/health_test.ts"],
  },
  {
    name: "probe tells full failure reasons by default",
    file: "src/probe/render.ts",
    from: 'if (details || result.status === "missing"',
    to: 'if (true || result.status === "missing"',
    tests: ["test/health_test.ts"],
  },
  {
    name: "upkeep after the commit reported as a failure",
    file: "src/repair.ts",
    from: "        log(LOG.maintenanceSkipped(describeFailure(error, secrets).message));",
    to: "        throw error;",
    tests: ["test/reliability_test.ts"],
  },
  {
    name: "codes a concurrent writer also took are never released",
    file: "src/db/postgres.ts",
    from: "if (facts.unique || writers.size === 0) return 0;",
    to: "return 0;",
    tests: ["test/reliability_test.ts"],
  },
  {
    name: "no client_connection_check_interval",
    file: "src/db/postgres.ts",
    from: "CASE WHEN current_setting('client_connection_check_interval', true) = '0'",
    to: "CASE WHEN false",
    tests: ["test/reliability_test.ts"],
  },
  {
    name: "no Deno permission check",
    file: "src/cli.ts",
    from: "  if (missing) return fail(missing);",
    to: "",
    tests: ["test/permissions_test.ts"],
  },
  {
    name: "SQLite paths left relative",
    file: "src/connect/target.ts",
    from: "const absolute = resolve(path);",
    to: "const absolute = path;",
    tests: ["test/cli_test.ts", "test/target_test.ts"],
  },
  {
    name: "TLS certificates never verified",
    file: "src/connect/tls.ts",
    from: '    options.ca = read("sslrootcert", rootcert);\n    options.rejectUnauthorized = true;',
    to: '    options.ca = read("sslrootcert", rootcert);\n    options.rejectUnauthorized = false;',
    tests: ["test/reach_test.ts"],
  },
  {
    name: "IPv6 hosts split on ':'",
    file: "src/connect/conninfo.ts",
    from:
      '      list.push({ kind: "tcp", address: host, port, tlsName: host, label: `${host}:${port}` });',
    to:
      '      list.push({ kind: "tcp", address: host.split(":")[0], port, tlsName: host, label: host });',
    tests: ["test/reach_test.ts", "test/target_test.ts"],
  },
  {
    name: "sslmode=allow never upgrades to TLS",
    file: "src/connect/connector.ts",
    from: '      if (mode !== "allow" && mode !== "prefer") return false;',
    to: '      if (mode !== "prefer") return false;',
    tests: ["test/reach_test.ts"],
  },
  {
    name: "start.sh does not pass SIGTERM on",
    file: "start.sh",
    from: "trap 'on_signal TERM' TERM",
    to: ":",
    tests: ["test/start_test.ts"],
  },
  {
    name: "SQLite's count by index misses blanks past ASCII",
    file: "src/db/sqlite.ts",
    from: "COLLATE BINARY >= CAST(X'80' AS TEXT)",
    to: "COLLATE BINARY >= CAST(X'FF' AS TEXT)",
    tests: ["test/repair_test.ts"],
  },
  {
    name: "the repair chases users who go missing while it runs, without bound",
    file: "src/repair.ts",
    from: "if (++this.#catchUps > CATCH_UP_ROUNDS || missing >= this.#lastPass) {",
    to: "if (++this.#catchUps > Infinity) {",
    tests: ["test/reliability_test.ts"],
  },
  {
    name: "candidates probed as text, whatever the column's type",
    file: "src/db/postgres.ts",
    from: "x.${COL} = c.code::${columnType} LIMIT 1",
    to: "x.${COL} = c.code LIMIT 1",
    tests: ["test/reliability_test.ts"],
  },
  {
    name: "transactions take the server's default isolation",
    file: "src/db/postgres.ts",
    from: "sql.begin(`isolation level read committed${access}`,",
    to: "sql.begin(access,",
    tests: ["test/reliability_test.ts"],
  },
  {
    name: "start.sh signals a step before it has made its process group",
    file: "start.sh",
    from: '  while [ -n "$own_group" ] && [ "$tries" -lt 100 ] &&',
    to: '  while false && [ -n "$own_group" ] && [ "$tries" -lt 100 ] &&',
    tests: ["test/start_test.ts"],
  },
  {
    name: "no statistics refresh after a large backfill",
    file: "src/repair.ts",
    from: "if (backfill.generated >= ANALYZE_AFTER) await table.analyze();",
    to: "if (backfill.generated >= ANALYZE_AFTER * 1000) await table.analyze();",
    tests: ["test/repair_test.ts"],
  },
  {
    name: "the unindexed anti join compares candidates as text",
    file: "src/db/postgres.ts",
    from: "x.${COL} = c.code::${columnType})`",
    to: "x.${COL} = c.code)`",
    tests: ["test/repair_test.ts"],
  },
  {
    name: "a catch-all 405 handler also matches every GET of the probe",
    file: "health.ts",
    from: "  app.notFound(",
    to: '  app.all(PROBE_PATH, (c) => c.text("method not allowed\\n", 405));\n  app.notFound(',
    tests: ["test/health_test.ts"],
  },
  {
    name: "every encoding gets UTF-8's blank test",
    file: "src/db/postgres.ts",
    from: 'if (encoding !== "UTF8") {',
    to: "if (false) {",
    tests: ["test/reliability_test.ts"],
  },
  {
    name: "outside UTF-8 the blank test reads the first character with ascii()",
    file: "src/db/postgres.ts",
    from: "`(${column} IS NULL OR btrim(${column}, ${ascii}) = '')`",
    to: "`(${column} IS NULL OR (ascii(${column}) < 33 AND btrim(${column}, ${ascii}) = ''))`",
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
    name: "--fix-duplicates clears rows by ctid alone",
    file: "src/db/postgres.ts",
    from: "WHERE u.tableoid = ranked.o AND u.ctid = ranked.t",
    to: "WHERE u.ctid = ranked.t",
    tests: ["test/reliability_test.ts"],
  },
  {
    name: "a parent by inheritance is taken for one table",
    file: "src/db/postgres.ts",
    from: "relkind = 'p' OR relhassubclass",
    to: "relkind = 'p'",
    tests: ["test/reliability_test.ts"],
  },
  {
    name: "a SQLite table WITHOUT ROWID fails on a missing rowid",
    file: "src/db/sqlite.ts",
    from: "if (withoutRowid) {",
    to: "if (false) {",
    tests: ["test/reliability_test.ts"],
  },
];

/** Run test files under Node; true when they pass. */
function passes(tests: string[]): { ok: boolean; why: string } {
  const run = spawnSync(process.execPath, ["scripts/test.ts", "node", ...tests], {
    cwd: ROOT,
    encoding: "utf8",
    env: { ...process.env, PATH: projectPath(ROOT) },
    maxBuffer: 256 * 1024 * 1024,
  });
  const failed = /^FAILED: .*$/m.exec(run.stderr)?.[0] ?? run.stderr.trim().split("\n").pop() ?? "";
  return { ok: run.status === 0, why: failed.slice(0, 160) };
}

const filter = process.argv[2];
const chosen = MUTATIONS.filter((m) => !filter || m.name.includes(filter));
// Control: unmutated, the same tests must pass, or "caught" means nothing.
const control = passes([...new Set(chosen.flatMap((m) => m.tests))]);
if (!control.ok) {
  console.error(`ERROR: the tests fail without any mutation: ${control.why}`);
  process.exit(2);
}
const results: string[] = [];
for (const mutation of chosen) {
  const path = `${ROOT}/${mutation.file}`;
  const original = readFileSync(path, "utf8");
  if (!original.includes(mutation.from)) {
    results.push(`STALE     ${mutation.name}: the text to change is no longer in ${mutation.file}`);
    continue;
  }
  writeFileSync(path, original.replace(mutation.from, mutation.to));
  try {
    console.error(`--- ${mutation.name}`);
    const outcome = passes(mutation.tests);
    results.push(
      outcome.ok
        ? `SURVIVED  ${mutation.name} (${mutation.tests.join(", ")} passed)`
        : `caught    ${mutation.name} (${outcome.why})`,
    );
  } finally {
    writeFileSync(path, original);
  }
}
console.log(results.join("\n"));
process.exit(results.some((line) => !line.startsWith("caught")) ? 1 : 0);
