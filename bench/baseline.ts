/**
 * The original start.sh repair, reproduced: per user, draw a code, one
 * `SELECT COUNT(*)` to see whether it is taken, then one `UPDATE ... WHERE id`.
 * Prepared statements make it a little faster than the psycopg2 original, so
 * ratios against it are conservative.
 */
import postgres from "postgres";
import process from "node:process";
import { generateInviteCode } from "../mod.ts";

const sql = postgres(process.env.DATABASE_URL!, { max: 1, onnotice: () => {} });
const started = performance.now();
await sql.begin(async (tx) => {
  const users = await tx`SELECT id FROM "user" WHERE invite_code IS NULL OR invite_code = ''`;
  for (const { id } of users) {
    let code: string;
    do code = generateInviteCode(6); while (
      (await tx`SELECT COUNT(*)::int AS n FROM "user" WHERE invite_code = ${code}`)[0].n > 0
    );
    await tx`UPDATE "user" SET invite_code = ${code} WHERE id = ${id}`;
  }
});
console.log(JSON.stringify({ ms: performance.now() - started }));
await sql.end();
