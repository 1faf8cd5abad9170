/**
 * The PostgreSQL server the bench measures on: an embedded one (or
 * BENCH_POSTGRES_BIN's, or BENCH_DATABASE_URL), template databases of
 * Open WebUI-shaped users seeded once, fresh copies for every measurement,
 * and the floors (one UPDATE) that the repair is held against.
 *
 * @module
 */
import postgres from "postgres";
import { createUserTableSql, POSTGRES_SEED, seedUsersSql } from "../scripts/openwebui.ts";
import { startEmbeddedPostgres } from "../scripts/postgres.ts";
import { env, python, say } from "./common.ts";

/**
 * The scattered floor's setup and statement: unique values scattered over
 * the key space, as random codes are, from a bijective 32-bit mix of a
 * sequence (one SQL function call per row).
 */
export const SCATTERED_FLOOR = [
  `CREATE SEQUENCE floor_seq;
   CREATE FUNCTION mix32(h bigint) RETURNS bigint LANGUAGE sql IMMUTABLE AS $$
     SELECT (x >> 16) # x FROM (SELECT ((((y >> 16) # y) * 73244475) % 4294967296) AS x
     FROM (SELECT ((((h >> 16) # h) * 73244475) % 4294967296) AS y) a) b $$`,
  `UPDATE "user" SET invite_code = lpad(to_hex(mix32(nextval('floor_seq'))), 8, '0')
   WHERE invite_code IS NULL`,
] as const;

/** The server, and what every PostgreSQL section does with it. */
export type BenchServer = Awaited<ReturnType<typeof benchServer>>;

/** Start (or reach) the server; `close()` drops the run copy and stops it. */
export async function benchServer() {
  const server = env.BENCH_DATABASE_URL
    ? undefined
    : await startEmbeddedPostgres({ bin: env.BENCH_POSTGRES_BIN });
  const serverUrl = env.BENCH_DATABASE_URL ?? server!.url;
  const admin = postgres(serverUrl, { max: 1, onnotice: () => {} });
  const urlOf = (database: string) => {
    const url = new URL(serverUrl);
    url.pathname = `/${database}`;
    return url.href;
  };

  async function createTemplate(name: string, users: number, withCodes = 0) {
    await admin.unsafe(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
    await admin.unsafe(`CREATE DATABASE ${name}`);
    const sql = postgres(urlOf(name), { max: 1, onnotice: () => {} });
    await sql.unsafe(createUserTableSql({ users }));
    await sql.unsafe(seedUsersSql({ users, missing: users - withCodes }, POSTGRES_SEED));
    await sql.unsafe(`VACUUM ANALYZE "user"`);
    await sql.end();
  }

  const templates = new Map<number, Promise<string>>();
  /** The template of `users` users without codes, seeded once. */
  function templateOf(users: number): Promise<string> {
    if (!templates.has(users)) {
      const name = `bench_${users}`;
      say(`seeding ${users} PostgreSQL users without codes`);
      templates.set(users, createTemplate(name, users).then(() => name));
    }
    return templates.get(users)!;
  }

  /** A fresh copy of `template`, checkpointed so no measurement pays for another's writes. */
  async function freshCopy(template: string): Promise<string> {
    await admin.unsafe(`DROP DATABASE IF EXISTS bench_run WITH (FORCE)`);
    await admin.unsafe(`CREATE DATABASE bench_run TEMPLATE ${template}`);
    await admin.unsafe(`CHECKPOINT`);
    return urlOf("bench_run");
  }

  /** One UPDATE on a fresh copy, as a whole python3 + psycopg2 process. */
  async function floor(template: string, setup: string, update: string): Promise<number> {
    const url = await freshCopy(template);
    const sql = postgres(url, { max: 1, onnotice: () => {} });
    await sql.unsafe(setup);
    await sql.end();
    const script = `import os, psycopg2
c = psycopg2.connect(os.environ["DATABASE_URL"])
c.cursor().execute(os.environ["FLOOR_SQL"])
c.commit()`;
    return await python(["-c", script], { DATABASE_URL: url, FLOOR_SQL: update });
  }

  async function close(): Promise<void> {
    await admin.unsafe(`DROP DATABASE IF EXISTS bench_run WITH (FORCE)`).catch(() => {});
    await admin.end();
    await server?.stop();
  }

  return { admin, urlOf, templateOf, freshCopy, floor, close };
}
