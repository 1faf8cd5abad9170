/**
 * Section "unindexed": a repair on a table whose column has no index, next to
 * the same with the unique index.
 *
 * @module
 */
import postgres from "postgres";
import { createUserTableSql, POSTGRES_SEED, seedUsersSql } from "../scripts/openwebui.ts";
import { measuredRepair, type Row, RUNTIMES, say } from "./common.ts";
import type { BenchServer } from "./server.ts";

/** Rows of the unindexed section. */
export async function unindexed({ admin, urlOf, freshCopy }: BenchServer): Promise<Row[]> {
  const rows: Row[] = [];
  say("50000 users, 5000 missing, with and without an index on the column");
  for (const indexed of [true, false]) {
    const name = indexed ? "bench_indexed" : "bench_unindexed";
    await admin.unsafe(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
    await admin.unsafe(`CREATE DATABASE ${name}`);
    const sql = postgres(urlOf(name), { max: 1, onnotice: () => {} });
    await sql.unsafe(createUserTableSql({ users: 50_000, unique: indexed }));
    await sql.unsafe(
      seedUsersSql({ users: 50_000, missing: 5_000, unique: indexed }, POSTGRES_SEED),
    );
    await sql.unsafe(`VACUUM ANALYZE "user"`);
    await sql.end();
  }
  const indexedMs = (await measuredRepair(RUNTIMES[0], await freshCopy("bench_indexed"))).ms;
  const unindexed = await measuredRepair(RUNTIMES[0], await freshCopy("bench_unindexed"));
  rows.push({
    what: "PostgreSQL backfill, 50000 users / 5000 missing, no index on the column",
    runtime: RUNTIMES[0],
    ms: unindexed.ms,
    peakMiB: unindexed.peakMiB,
    reference: "same, with the unique index",
    referenceMs: indexedMs,
  });
  return rows;
}
