/**
 * Section "sqlite": the SQLite backfill next to its floors (one UPDATE from
 * python3's sqlite3), and a no-op start next to an empty script.
 *
 * @module
 */
import { copyFileSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { DatabaseSync } from "node:sqlite";
import { createUserTableSql, seedUsersSql, SQLITE_SEED } from "../scripts/openwebui.ts";
import {
  freshCache,
  measuredRepair,
  python,
  type Row,
  RUNS,
  RUNTIMES,
  say,
  SQLITE_USERS,
  startTime,
} from "./common.ts";

/** Rows of the SQLite section. */
export async function sqlite(): Promise<Row[]> {
  const rows: Row[] = [];
  const dir = mkdtempSync(join(tmpdir(), "invite-code-bench-"));
  try {
    say(`seeding ${SQLITE_USERS} SQLite users without codes`);
    const template = join(dir, "template.db");
    const db = new DatabaseSync(template);
    db.exec(createUserTableSql({ users: SQLITE_USERS }));
    db.exec(seedUsersSql({ users: SQLITE_USERS, missing: SQLITE_USERS }, SQLITE_SEED));
    db.close();
    const copy = () => {
      const path = join(dir, "run.db");
      copyFileSync(template, path);
      return path;
    };

    // One UPDATE from python3's sqlite3 with the repair's 32 MiB page cache:
    // sequential values, and unique values scattered over the key space as
    // random codes are (rowid times an odd constant, modulo 2^32).
    const sqliteFloor = (values: string) =>
      python([
        "-c",
        `import sqlite3, sys
c = sqlite3.connect(sys.argv[1])
c.execute("PRAGMA cache_size = -32768")
c.execute("UPDATE \\"user\\" SET invite_code = ${values} WHERE invite_code IS NULL")
c.commit()`,
        copy(),
      ], {});
    const floors = {
      sequential: await sqliteFloor("printf('%08X', rowid)"),
      scattered: await sqliteFloor("printf('%08X', (rowid * 2654435761) % 4294967296)"),
    };

    for (const runtime of RUNTIMES) {
      const report = await measuredRepair(runtime, `sqlite:///${copy()}`, {
        NODE_COMPILE_CACHE: freshCache(),
      });
      for (const [kind, referenceMs] of Object.entries(floors)) {
        rows.push({
          what: `SQLite backfill, ${SQLITE_USERS} users, atomic`,
          runtime,
          ms: report.ms,
          peakMiB: report.peakMiB,
          reference: `floor: one UPDATE, ${kind} values`,
          referenceMs,
        });
      }
    }
    const done = copy();
    await measuredRepair(RUNTIMES[0], `sqlite:///${done}`);
    for (const runtime of RUNTIMES) {
      rows.push({
        what: `SQLite no-op start, ${SQLITE_USERS} users (median of ${RUNS})`,
        runtime,
        ms: await startTime(runtime, "mod.ts", {
          DATABASE_URL: `sqlite:///${done}`,
          NODE_COMPILE_CACHE: freshCache(),
        }),
        reference: "empty script",
        referenceMs: await startTime(runtime, "bench/empty.ts", {}),
      });
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  return rows;
}
