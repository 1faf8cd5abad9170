/**
 * Concurrent writers: another connection inserts, clears and fills codes,
 * or signs users up faster than the repair gives codes, while it runs; the
 * writer's codes survive, no duplicate slips in, and a code taken
 * mid-statement is retried. Each test seeds its own rows and stands alone.
 */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { join } from "node:path";
import process from "node:process";
import { after, before, test } from "node:test";
import postgres from "postgres";
import { repair } from "../src/repair.ts";
import { generateInviteCodes } from "../mod.ts";
import {
  cliWithoutSecrets,
  countMissing,
  type Fixture,
  GENERATED_CODE,
  isMissing,
  lines,
  postgresFixture,
  ROOT,
  runtimeCommand,
  serverPasswords,
} from "./helpers.ts";
import { LOG } from "../src/messages.ts";

const cli = cliWithoutSecrets(new Set(serverPasswords()));

/** N of the first line that is exactly `line(N)`, so the catalogue alone spells the line. */
function numberIn(seen: string[], line: (n: number) => string): number | undefined {
  for (const text of seen) {
    for (const [digits] of text.matchAll(/\d+/g)) {
      if (line(Number(digits)) === text) return Number(digits);
    }
  }
}

let pg: Fixture;
before(async () => (pg = await postgresFixture()));
after(() => pg.close());

/**
 * A repair through the CLI while `write` runs in a loop on a connection of
 * its own; the repair's lines. Killed only well past the repair's own
 * deadline, so a repair that cannot finish fails with its WARNING.
 */
async function repairWhileWriting(
  write: (writer: postgres.Sql, i: number) => Promise<void>,
): Promise<string[]> {
  const writer = postgres(pg.env.DATABASE_URL, { max: 1 });
  let writing = true;
  const writes = (async () => {
    for (let i = 0; writing; i++) await write(writer, i);
  })();
  try {
    const result = await cli([], pg.env, 180_000);
    assert.doesNotMatch(result.stdout, /WARNING/, result.stdout);
    assert.equal(result.code, 0);
    return lines(result.stdout);
  } finally {
    writing = false;
    await writes;
    await writer.end();
  }
}

test("another connection inserts and clears codes while the repair runs", async () => {
  await pg.seed({ users: 120_000, missing: 100_000 });
  const written = new Map<string, string>();
  let collisions = 0;
  await repairWhileWriting(async (writer, i) => {
    const [code] = generateInviteCodes(1, 6);
    const id = `writer-${i}`;
    try {
      await writer`INSERT INTO "user" (id, name, email, role, profile_image_url, created_at,
        updated_at, last_active_at, invite_code)
        VALUES (${id}, 'W', 'w@example.com', 'user', '/u.png', 0, 0, 0, ${code})`;
      written.set(id, code);
    } catch (error) {
      // The repair handed out this code first: the constraint refuses the
      // writer, as it would refuse the app, which then draws another.
      if ((error as { code?: string }).code !== "23505") throw error;
      collisions++;
    }
    await writer`UPDATE "user" SET invite_code = NULL WHERE id = (
      SELECT id FROM "user" WHERE invite_code LIKE 'X%' AND length(invite_code) = 8 LIMIT 1)`;
  });
  const rows = await pg.rows();
  const byId = new Map(rows.map((r) => [r.id, r.code]));
  assert.ok(written.size > 0);
  console.log(`writer: ${written.size} users inserted, ${collisions} codes refused as taken`);
  for (const [id, code] of written) {
    assert.equal(byId.get(id), code, "the writer's codes are untouched");
  }
  const present = rows.map((r) => r.code).filter((c) => !isMissing(c));
  assert.equal(new Set(present).size, present.length, "no duplicate slipped in");
  await cli([], pg.env);
  assert.equal(countMissing(await pg.rows()), 0, "a rerun fixes rows cleared late");
});

test("users signed up without codes faster than the repair gives them: it still commits", async () => {
  await pg.seed({ users: 60_000, missing: 60_000 });
  let arrivals = 0;
  const seen = await repairWhileWriting(async (writer, i) => {
    // What an app replica that does not set codes does on a busy day.
    await writer`INSERT INTO "user" (id, name, email, role, profile_image_url, created_at,
      updated_at, last_active_at)
      SELECT 'signup-' || ${i} || '-' || n, 'S', 's@example.com', 'user', '/u.png', 0, 0, 0
      FROM generate_series(1, 100) AS n`;
    arrivals += 100;
  });
  const left = numberIn(seen, LOG.leftForNextRun);
  assert.ok(left !== undefined && left > 0, `the repair stopped chasing:\n${seen.join("\n")}`);
  const generated = numberIn(seen, LOG.success);
  assert.ok(generated! >= 60_000 && generated! <= 60_000 + arrivals, seen.join("\n"));
  const rows = await pg.rows();
  const present = rows.map((r) => r.code).filter((c) => !isMissing(c));
  assert.equal(new Set(present).size, present.length, "no duplicate slipped in");
  assert.equal(present.length, generated, "every code it reported is committed");
  await cli([], pg.env);
  assert.equal(countMissing(await pg.rows()), 0, "the next run gives the rest codes");
});

test("another connection fills rows the repair is about to fill: its codes survive", async () => {
  await pg.seed({ users: 150_000, missing: 150_000 });
  const filled = new Map<string, string>();
  await repairWhileWriting(async (writer, i) => {
    // Lowercase codes: never one the repair generates. Rows from the end
    // of the table, ahead of the repair's walk.
    const rows = await writer<{ id: string; code: string }[]>`
      UPDATE "user" SET invite_code = 'w' || lpad(${i}::text, 7, '0')
      WHERE id = (SELECT id FROM "user" WHERE invite_code IS NULL
                  ORDER BY ctid DESC LIMIT 1 OFFSET ${i % 50})
        AND invite_code IS NULL
      RETURNING id, invite_code AS code`;
    for (const row of rows) filled.set(row.id, row.code);
  });
  assert.ok(filled.size > 0, "the writer filled rows while the repair ran");
  const byId = new Map((await pg.rows()).map((r) => [r.id, r.code]));
  for (const [id, code] of filled) assert.equal(byId.get(id), code, "the writer's code survives");
  assert.equal(countMissing([...byId.values()].map((code) => ({ code }))), 0);
});

test("without a unique index, a code a concurrent writer also took goes back to our row only", async () => {
  const pg = await postgresFixture();
  try {
    await pg.seed({ users: 2000, missing: 2000, unique: false });
    const seen: string[] = [];
    let writerCode = "";
    const report = await repair({
      env: pg.env,
      log: (line) => {
        seen.push(line);
        // Right after the commit: the writer's code, uncommitted while the
        // repair chose its own, is now visible, and equal to one of ours.
        if (line === LOG.success(2000)) {
          const [command, args] = runtimeCommand(join(ROOT, "test", "fixtures", "copy_code.ts"));
          const writer = spawnSync(command, args, {
            env: { ...process.env, ...pg.env },
            encoding: "utf8",
          });
          writerCode = writer.stdout.trim();
        }
      },
    });
    assert.match(writerCode, GENERATED_CODE, "the writer copied one of the repair's codes");
    assert.equal(report.status, "repaired");
    assert.ok(seen.includes(LOG.reassigned(1)), seen.join("\n"));
    const rows = await pg.rows();
    assert.equal(
      rows.find((r) => r.id === "writer")?.code,
      writerCode,
      "the writer keeps its code",
    );
    assert.equal(rows.filter((r) => r.code === writerCode).length, 1, "no one else holds it");
    assert.equal(new Set(rows.map((r) => r.code)).size, rows.length, "every code unique");
    assert.equal(countMissing(rows), 0);
    assert.equal(report.duplicates, 0);
  } finally {
    await pg.close();
  }
});

test("a unique violation from a code taken mid-statement is retried, not reported", async () => {
  await pg.seed({ users: 2000, missing: 2000 });
  // The first updated row's code is taken by another row just before the
  // update writes it: exactly the race a concurrent writer can cause.
  await pg.exec(`CREATE SEQUENCE collide_once;
    CREATE FUNCTION collide() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
      IF NEW.invite_code IS NOT NULL AND nextval('collide_once') = 1 THEN
        INSERT INTO "user" (id, name, email, role, profile_image_url, created_at, updated_at,
          last_active_at, invite_code)
        VALUES ('thief', 'Thief', 't@example.com', 'user', '/u.png', 0, 0, 0, NEW.invite_code);
      END IF;
      RETURN NEW;
    END $$;
    CREATE TRIGGER collide BEFORE UPDATE ON "user" FOR EACH ROW EXECUTE FUNCTION collide()`);
  const result = await cli([], pg.env);
  assert.deepEqual(lines(result.stdout), [
    LOG.found(2000),
    LOG.success(2000),
  ]);
  const rows = await pg.rows();
  assert.equal(countMissing(rows), 0);
  assert.equal(new Set(rows.map((r) => r.code)).size, rows.length);
});
