/**
 * `npm run demo` / `deno task demo`: the whole product on the embedded
 * default, with nothing else installed. It makes an Open WebUI-shaped SQLite
 * database in ./demo-data (never ./data), runs start.sh exactly as a
 * container would, asks the probe for `missing=0`, and stops it.
 */
import { spawn } from "node:child_process";
import { mkdirSync, rmSync } from "node:fs";
import { join } from "node:path";
import process from "node:process";
import { DatabaseSync } from "node:sqlite";
import { fileURLToPath } from "node:url";
import { freePort, projectPath } from "./net.ts";
import { createUserTableSql, seedUsersSql, SQLITE_SEED } from "./openwebui.ts";

const ROOT = fileURLToPath(new URL("..", import.meta.url));
const DATA_DIR = join(ROOT, "demo-data", "data");
const USERS = 5000;
const NULLS = 992;
const BLANKS = 8; // a unique varchar(8) column holds few distinct blank strings

rmSync(join(ROOT, "demo-data"), { recursive: true, force: true });
mkdirSync(DATA_DIR, { recursive: true });
const file = join(DATA_DIR, "webui.db");
const db = new DatabaseSync(file);
db.exec(createUserTableSql({ users: USERS }));
db.exec(seedUsersSql({ users: USERS, missing: NULLS, blank: BLANKS }, SQLITE_SEED));
const sample = db.prepare(
  `SELECT * FROM (SELECT id, name, invite_code AS code FROM "user" WHERE invite_code IS NULL LIMIT 3)
   UNION ALL
   SELECT * FROM (SELECT id, name, invite_code AS code FROM "user"
     WHERE trim(invite_code, ' ' || char(9)) = '' LIMIT 3)`,
).all() as { id: string; name: string; code: string | null }[];
db.close();
console.log(
  `Demo database ${file}: ${USERS} users, ${NULLS + BLANKS} without invite codes ` +
    `(${NULLS} NULL, ${BLANKS} blank).\n`,
);

const port = await freePort();
const runtime = "Deno" in globalThis ? "deno" : "node";
console.log(`$ DATA_DIR=demo-data/data HEALTH_PORT=${port} ./start.sh`);
const start = spawn("sh", [join(ROOT, "start.sh")], {
  cwd: ROOT,
  env: {
    ...process.env,
    PATH: projectPath(ROOT),
    DATA_DIR,
    HEALTH_HOST: "127.0.0.1",
    HEALTH_PORT: String(port),
    INVITE_CODE_RUNTIME: runtime,
    DATABASE_URL: "", // the demo database only, whatever the shell exports
    DATABASE_TYPE: "",
  },
  stdio: ["ignore", "pipe", "pipe"],
});
start.stdout!.on("data", (chunk) => process.stdout.write(indent(chunk)));
start.stderr!.on("data", (chunk) => process.stdout.write(indent(chunk)));
const exited = new Promise<number | null>((resolve) => start.on("close", (code) => resolve(code)));

function indent(chunk: Buffer | string): string {
  return String(chunk).replace(/^(?=.)/gm, "  | ");
}

let failed = false;
try {
  const base = `http://127.0.0.1:${port}/health/invite-codes`;
  // The probe listens before the repair has run: wait for its answer to turn.
  const text = await poll(`${base}?format=text`, (body) => body === "missing=0\n");
  console.log(`\n$ curl -s '${base}?format=text'\n${text}`);
  console.log(`$ curl -s ${base}\n${JSON.stringify(JSON.parse(await poll(base)), null, 2)}\n`);

  const after = new DatabaseSync(file, { readOnly: true });
  const codeOf = after.prepare(`SELECT invite_code AS code FROM "user" WHERE id = ?`);
  console.log("Users who had no code, and their new ones:");
  for (const user of sample) {
    const { code } = codeOf.get(user.id) as { code: string };
    console.log(`  ${user.name.padEnd(12)} ${JSON.stringify(user.code).padEnd(6)} -> ${code}`);
  }
  after.close();
  failed = text.trim() !== "missing=0";
} catch (error) {
  console.error(`demo failed: ${error instanceof Error ? error.message : error}`);
  failed = true;
} finally {
  process.kill(start.pid!, "SIGTERM");
  await exited;
}
console.log(failed ? "\nDemo FAILED." : "\nDemo done: every user has a unique invite code.");
process.exit(failed ? 1 : 0);

/** GET `url` until the probe is up and its body passes `done`; the last body as text. */
async function poll(url: string, done: (body: string) => boolean = () => true): Promise<string> {
  const until = Date.now() + 60_000;
  for (;;) {
    try {
      const body = await (await fetch(url)).text();
      if (done(body) || Date.now() > until) return body;
    } catch (error) {
      if (Date.now() > until) throw error;
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}
