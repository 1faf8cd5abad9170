/**
 * Section "sqlcipher": the backfill of an encrypted file (Open WebUI's
 * sqlite+sqlcipher, SQLCipher 4 defaults) next to its floor: one UPDATE of
 * unique values scattered over the key space, as random codes are, run on a
 * copy of the same file by the SQLCipher shell scripts/sqlcipher.sh builds
 * from source, with the repair's 32 MiB page cache. Both are whole processes
 * that derive the key once.
 *
 * @module
 */
import { spawn } from "node:child_process";
import { copyFileSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createUserTableSql, seedUsersSql, SQLITE_SEED } from "../scripts/openwebui.ts";
import {
  BENCH_PASSPHRASE,
  freshCache,
  measuredRepair,
  type Row,
  RUNTIMES,
  say,
  sqlcipherShell,
  SQLITE_USERS,
} from "./common.ts";

/** Run `sql` in the SQLCipher shell on `file` after the key; wall milliseconds. */
async function shell(file: string, sql: string): Promise<number> {
  const started = performance.now();
  const child = spawn(sqlcipherShell(), [file]);
  let stderr = "";
  child.stdout.on("data", () => {});
  child.stderr.on("data", (chunk) => (stderr += chunk));
  child.stdin.end(`PRAGMA key = '${BENCH_PASSPHRASE}';\n${sql}`);
  const status = await new Promise<number | null>((resolve) => child.on("close", resolve));
  if (status !== 0) throw new Error(`the SQLCipher shell failed: ${stderr.slice(-300)}`);
  return performance.now() - started;
}

/** Rows of the encrypted SQLite section. */
export async function sqlcipher(): Promise<Row[]> {
  const rows: Row[] = [];
  const dir = mkdtempSync(join(tmpdir(), "invite-code-bench-"));
  try {
    say(`seeding ${SQLITE_USERS} encrypted SQLite users without codes (SQLCipher shell)`);
    const template = join(dir, "template.db");
    const shape = { users: SQLITE_USERS, missing: SQLITE_USERS };
    await shell(template, `${createUserTableSql(shape)};\n${seedUsersSql(shape, SQLITE_SEED)};`);
    const copy = () => {
      const path = join(dir, "run.db");
      copyFileSync(template, path);
      return path;
    };
    const floor = await shell(
      copy(),
      `PRAGMA cache_size = -32768;
       UPDATE "user" SET invite_code = printf('%08X', (rowid * 2654435761) % 4294967296)
       WHERE invite_code IS NULL;`,
    );
    for (const runtime of RUNTIMES) {
      const report = await measuredRepair(runtime, `sqlite+sqlcipher:///${copy()}`, {
        DATABASE_PASSWORD: BENCH_PASSPHRASE,
        NODE_COMPILE_CACHE: freshCache(),
      });
      rows.push({
        what: `SQLCipher 4 backfill, ${SQLITE_USERS} users, atomic`,
        runtime,
        ms: report.ms,
        peakMiB: report.peakMiB,
        reference: "floor: one UPDATE, scattered values, SQLCipher shell",
        referenceMs: floor,
      });
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  return rows;
}
