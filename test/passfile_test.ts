/**
 * The password file, read once at resolve: each host gets its own line's
 * password in the resolved connection, every one found joins the secrets,
 * and a file group or others may read is ignored, as libpq ignores it.
 */
import assert from "node:assert/strict";
import { chmodSync, mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import type { PostgresTarget } from "../src/connect/conninfo.ts";
import { parseDatabaseUrl } from "../src/connect/target.ts";

function pgpass(lines: string[], mode = 0o600): string {
  const file = join(mkdtempSync(join(tmpdir(), "passfile-")), "pgpass");
  writeFileSync(file, lines.join("\n") + "\n");
  chmodSync(file, mode);
  return file;
}

function resolved(url: string, env: Record<string, string>): PostgresTarget {
  const target = parseDatabaseUrl(url, env);
  assert.equal(target.dialect, "postgres");
  return target as PostgresTarget;
}

const HOSTS = "postgresql://u@/db?host=alpha:5432&host=beta:6432&sslmode=disable";

test("each host gets its own line's password, and each joins the secrets", () => {
  const file = pgpass([
    "# comment",
    "alpha:5432:db:u:pw-alpha-1",
    "beta:6432:*:u:pw-beta-22",
  ]);
  const target = resolved(`${HOSTS}&passfile=${file}`, { HOME: "/nonexistent" });
  assert.deepEqual(
    target.connection.attempts.map((attempt) => attempt.password),
    ["pw-alpha-1", "pw-beta-22"],
  );
  assert.ok(target.secrets.includes("pw-alpha-1") && target.secrets.includes("pw-beta-22"));
});

test("PGPASSFILE is read when the URL names no passfile; the default socket directory is localhost", () => {
  const file = pgpass(["localhost:5432:db:u:pw-local-3"]);
  const target = resolved("postgresql://u@/db?host=/var/run/postgresql", {
    HOME: "/nonexistent",
    PGPASSFILE: file,
  });
  assert.equal(target.connection.attempts[0].password, "pw-local-3");
});

test("the password keyword serves every host, and the file is not needed", () => {
  const file = pgpass(["*:*:*:*:from-file"]);
  const target = resolved(`postgresql://u:given-pw@/db?host=a&host=b&passfile=${file}`, {});
  assert.deepEqual(
    target.connection.attempts.map((attempt) => attempt.password),
    ["given-pw", "given-pw"],
  );
});

test("a file group or others may read is ignored", () => {
  const file = pgpass(["*:*:*:*:too-open-pw"], 0o644);
  const target = resolved(`${HOSTS}&passfile=${file}`, { HOME: "/nonexistent" });
  assert.deepEqual(
    target.connection.attempts.map((attempt) => attempt.password),
    [undefined, undefined],
  );
  assert.ok(!target.secrets.includes("too-open-pw"));
});
