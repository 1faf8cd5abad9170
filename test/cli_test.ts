/**
 * The CLI contract for bad input, outages and stalls: one clear line, the
 * right exit code, fail-open, within the deadline, never a stack trace or a
 * password.
 */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import {
  chmodSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from "node:fs";
import { type AddressInfo, createServer } from "node:net";
import { tmpdir } from "node:os";
import process from "node:process";
import { dirname, join } from "node:path";
import { DatabaseSync } from "node:sqlite";
import { after, before, describe, test } from "node:test";
import postgres from "postgres";
import { createProbe } from "../health.ts";
import { VERSION } from "../mod.ts";
import { createUserTableSql, seedUsersSql, SQLITE_SEED } from "../scripts/openwebui.ts";
import { freePort } from "../scripts/net.ts";
import {
  type Fixture,
  isMissing,
  launch,
  lines,
  literal,
  MOD,
  postgresFixture,
  type Ran,
  ROOT,
  run,
  runCli,
  runtimeCommand,
  silentListener,
  sqliteFixture,
  waitForOutput,
  warned,
} from "./helpers.ts";
import { LOG } from "../src/messages.ts";

const PASSWORD = "s3cret-Pa55word";
const outputs: Ran[] = [];
async function cli(
  args: string[],
  env: Record<string, string | undefined>,
  options: { cwd?: string } = {},
): Promise<Ran> {
  const result = await runCli(args, env, options);
  outputs.push(result);
  return result;
}

function assertOneCleanLine(text: string) {
  assert.equal(lines(text).length, 1, text);
  assert.doesNotMatch(text, /^\s+at /m, "no stack trace");
}

test("--help and --version", async () => {
  const help = await cli(["--help"], {});
  assert.equal(help.code, 0);
  assert.match(help.stdout, /--batch-size N/);
  // Every flag with its short form, every range, every exit code.
  for (
    const needed of [
      /-h, --help/,
      /-V, --version/,
      /N from 1 to 100000000/,
      /1 to 86400 \(default 120\)/,
      /Exit codes: 0 /,
      /1 failed or\s+stopped part-way with --strict/,
      /2 bad flags/,
    ]
  ) {
    assert.match(help.stdout, needed);
  }
  assert.equal((await cli(["-h"], {})).stdout, help.stdout);
  const version = await cli(["--version"], {});
  assert.equal(version.stdout.trim(), VERSION);
  assert.equal((await cli(["-V"], {})).stdout.trim(), VERSION);
  assert.equal(VERSION, JSON.parse(readFileSync(join(ROOT, "package.json"), "utf8")).version);
});

test("unknown flags and bad values: one line on stderr, exit 2", async () => {
  const cases: [string[], RegExp][] = [
    [["--bogus"], /^ERROR: unknown option '--bogus'/],
    [["stray"], /^ERROR: unexpected argument 'stray'/],
    [["--timeout", "abc"], /^ERROR: --timeout needs a number from 1 to 86400, got "abc"/],
    [["--timeout", "0"], /^ERROR: --timeout needs/],
    [["--timeout", "1e999"], /^ERROR: --timeout needs/],
    [["--timeout", "9".repeat(500)], /^ERROR: --timeout needs .*\.\.\."/],
    [["--batch-size", "1.5"], /^ERROR: --batch-size needs a whole number/],
    [
      ["--batch-size", "-3"],
      /^ERROR: --batch-size needs a whole number from 1 to 100000000, got "-3"/,
    ],
    [["--timeout", "-5"], /^ERROR: --timeout needs a number from 1 to 86400, got "-5"/],
    [["--fix-duplicates", "--check"], /^ERROR: --check and --fix-duplicates exclude each other/],
    [["--batch-size"], /^ERROR: /],
    [["--check", "--dry-run"], /^ERROR: --check and --dry-run exclude each other/],
  ];
  for (const [args, expected] of cases) {
    const result = await cli(args, {});
    assert.equal(result.code, 2, args.join(" "));
    assert.equal(result.stdout, "");
    assertOneCleanLine(result.stderr);
    assert.match(result.stderr, expected);
  }
});

test("an unsupported URL: WARNING naming what is supported, exit 0; --strict 1; --check 2", async () => {
  const env = { DATABASE_URL: `mysql://root:${PASSWORD}@db/webui` };
  const plain = await cli([], env);
  assert.equal(plain.code, 0);
  assert.deepEqual(lines(plain.stdout), [
    LOG.failed(
      'unsupported database URL scheme "mysql://" (supported: postgres://, postgresql:// (also postgresql+psycopg2://, postgresql+psycopg://, postgresql+asyncpg://), sqlite:///path and sqlite+sqlcipher:///path)',
    ),
  ]);
  assert.equal((await cli(["--strict"], env)).code, 1);
  const checked = await cli(["--check"], env);
  assert.equal(checked.code, 2);
  assertOneCleanLine(checked.stdout);
});

test("a DATABASE_URL ending in a line break is named as such, not as a database that does not exist", async () => {
  for (
    const url of [`postgresql://webui:${PASSWORD}@127.0.0.1:1/webui\n`, "sqlite:///data/webui.db\n"]
  ) {
    const plain = await cli([], { DATABASE_URL: url });
    assert.equal(plain.code, 0);
    assert.match(plain.stdout, warned(/the database URL ends with a line break, which SQLAlchemy/));
    assertOneCleanLine(plain.stdout);
    assert.equal((await cli(["--check"], { DATABASE_URL: url })).code, 2);
  }
});

test("PostgreSQL refusing connections: WARNING, exit 0, --check exits 2", async () => {
  const port = await freePort();
  const env = { DATABASE_URL: `postgresql://webui:${PASSWORD}@127.0.0.1:${port}/webui` };
  const result = await cli([], env);
  assert.equal(result.code, 0);
  assert.match(
    result.stdout,
    warned(/cannot connect to PostgreSQL: .*ECONNREFUSED/),
  );
  assertOneCleanLine(result.stdout);
  assert.equal((await cli(["--check"], env)).code, 2);
});

test("a server that hangs up at once: the WARNING says so, never with an empty reason or a SQLSTATE", async () => {
  const server = createServer((socket) => socket.destroy());
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  try {
    const env = { DATABASE_URL: `postgresql://webui:${PASSWORD}@127.0.0.1:${port}/webui` };
    // Which error wins the race is the driver's: the hang-up as libpq names it, or the
    // reset; the race is run a few times, since an empty reason came from one side of it.
    const hungUp = literal(`127.0.0.1:${port}: server closed the connection unexpectedly`).source;
    for (let run = 0; run < 4; run++) {
      const result = await cli(["--timeout", "10"], env);
      assert.equal(result.code, 0);
      assert.match(
        result.stdout,
        warned(
          new RegExp(
            `cannot connect to PostgreSQL: (?:${hungUp}|read ECONNRESET|This socket has been ended by the other party)$`,
          ),
        ),
      );
      assert.doesNotMatch(result.stdout, /SQLSTATE/);
      assertOneCleanLine(result.stdout);
    }
    assert.equal((await cli(["--check", "--timeout", "10"], env)).code, 2);
  } finally {
    server.close();
  }
});

test("a server that accepts and never answers: WARNING within the --timeout bound", async () => {
  const { port, close } = await silentListener();
  try {
    const started = Date.now();
    const result = await cli(["--timeout", "2"], {
      DATABASE_URL: `postgres://webui:${PASSWORD}@127.0.0.1:${port}/webui`,
    });
    const seconds = (Date.now() - started) / 1000;
    assert.equal(result.code, 0);
    assert.match(result.stdout, warned(/.*(timed out|timeout)/));
    assert.ok(seconds < 6, `took ${seconds} s`);
  } finally {
    close();
  }
});

test("--check --timeout N against a server that accepts and never answers: exit 2 by its deadline", async () => {
  const { port, close } = await silentListener();
  try {
    const started = Date.now();
    const result = await cli(["--check", "--timeout", "2"], {
      DATABASE_URL: `postgres://webui:${PASSWORD}@127.0.0.1:${port}/webui`,
    });
    const seconds = (Date.now() - started) / 1000;
    assert.equal(result.code, 2, result.stdout + result.stderr);
    assert.match(result.stdout, /^ERROR: Could not check invite codes: .*(timed out|timeout)/m);
    assertOneCleanLine(result.stdout);
    // 2 s of deadline, and the start of a runtime on a busy machine.
    assert.ok(seconds < 6, `took ${seconds} s`);
  } finally {
    close();
  }
});

describe("an error that escapes every callback while the CLI runs", () => {
  const STRAYS = join(ROOT, "test", "fixtures", "stray_errors.ts");
  let pg: Fixture;
  before(async () => (pg = await postgresFixture()));
  after(() => pg.close());

  /**
   * Run the CLI with `args` while "user" is locked, so it is still at work
   * when the stray error comes; the lock goes once the stray line is out.
   */
  async function runWithStray(args: string[], env: Record<string, string>) {
    const holder = postgres(pg.env.DATABASE_URL, { max: 1, onnotice: () => {} });
    let release!: () => void;
    const held = new Promise<void>((resolve) => (release = resolve));
    let locked!: () => void;
    const isLocked = new Promise<void>((resolve) => (locked = resolve));
    const transaction = holder.begin(async (tx) => {
      await tx`LOCK TABLE "user" IN ACCESS EXCLUSIVE MODE`;
      locked();
      await held;
    });
    try {
      await isLocked;
      const [command, argv] = runtimeCommand(STRAYS, args);
      const running = launch(command, argv, { env: { ...pg.env, ...env } });
      try {
        // A process that dies of the error ends the wait at once.
        await Promise.race([waitForOutput(running, LOG.stray(""), 30_000), running.exited]);
      } finally {
        release();
      }
      const code = await running.exited;
      return { code, lines: lines(running.output()) };
    } finally {
      release();
      await transaction;
      await holder.end();
    }
  }

  const strays: [string, Record<string, string>, string][] = [
    ["an error thrown from a timer", { STRAY: "timer" }, "stray error from a timer"],
    ["a timer's rejection", { STRAY: "rejection" }, "stray rejection from a timer"],
  ];
  for (const [what, env, message] of strays) {
    test(`${what} during a repair: one WARNING line, and the repair carries on to SUCCESS, exit 0`, async () => {
      await pg.seed({ users: 6, missing: 4 });
      const ran = await runWithStray([], env);
      assert.deepEqual(ran.lines, [
        LOG.stray(message),
        LOG.found(4),
        LOG.success(4),
      ]);
      assert.equal(ran.code, 0);
      assert.equal((await pg.rows()).filter((r) => isMissing(r.code)).length, 0);
    });
  }

  test("a socket's late error during a repair: one WARNING line naming it, exit 0, the repair done", async () => {
    await pg.seed({ users: 6, missing: 4 });
    const port = await freePort();
    const ran = await runWithStray([], { STRAY: "socket", STRAY_PORT: String(port) });
    assert.equal(ran.lines.length, 3, ran.lines.join("\n"));
    assert.match(ran.lines[0], new RegExp(`^${literal(LOG.stray("")).source}.*ECONNREFUSED`));
    assert.deepEqual(ran.lines.slice(1), [LOG.found(4), LOG.success(4)]);
    assert.equal(ran.code, 0);
  });

  test("--check that passes with a stray error on the way: exit 2, never 0", async () => {
    await pg.seed({ users: 6 });
    for (const env of [{ STRAY: "timer" }, { STRAY: "rejection" }]) {
      const ran = await runWithStray(["--check"], env);
      assert.equal(ran.lines.filter((line) => line.startsWith("WARNING")).length, 1);
      assert.ok(ran.lines.includes(LOG.allHaveCodes(6)), ran.lines.join("\n"));
      assert.doesNotMatch(ran.lines.join("\n"), /^\s+at /m, "no stack trace");
      assert.equal(ran.code, 2, ran.lines.join("\n"));
    }
  });
});

describe("a table locked by another transaction", () => {
  let pg: Fixture;
  let lite: Fixture;
  before(async () => {
    pg = await postgresFixture();
    lite = await sqliteFixture();
  });
  after(async () => {
    await pg.close();
    await lite.close();
  });

  test("PostgreSQL: WARNING at the deadline, nothing written, exit 1 with --strict", async () => {
    await pg.seed({ users: 10, missing: 10 });
    const holder = postgres(pg.env.DATABASE_URL, { max: 1 });
    let release!: () => void;
    const held = new Promise<void>((resolve) => (release = resolve));
    let locked!: () => void;
    const isLocked = new Promise<void>((resolve) => (locked = resolve));
    const transaction = holder.begin(async (tx) => {
      await tx`LOCK TABLE "user" IN ACCESS EXCLUSIVE MODE`;
      locked();
      await held;
    });
    try {
      await isLocked;
      const started = Date.now();
      const result = await cli(["--timeout", "2", "--strict"], pg.env);
      assert.ok(Date.now() - started < 6000);
      assert.equal(result.code, 1);
      assert.match(result.stdout, warned());
    } finally {
      release();
      await transaction;
      await holder.end();
    }
    assert.equal((await pg.rows()).filter((r) => isMissing(r.code)).length, 10);
  });

  test("--timeout is seconds, and --json keeps stdout for the one report", async () => {
    await lite.seed({ users: 2_000, missing: 2_000 });
    const result = await cli(["--timeout", "5", "--json"], lite.env);
    assert.equal(result.code, 0);
    // Read as milliseconds, 5 would be spent before the first chunk.
    const report = JSON.parse(result.stdout);
    assert.equal(report.status, "repaired");
    assert.equal(lines(result.stdout).length, 1, "stdout holds the report alone");
    assert.deepEqual(
      lines(result.stderr).filter((line) => line.startsWith("INFO") || line.startsWith("SUCCESS")),
      [
        LOG.found(2_000),
        LOG.success(2_000),
      ],
    );
  });

  test("SQLite: WARNING that the database is locked, exit 0", async () => {
    await lite.seed({ users: 10, missing: 10 });
    const holder = new DatabaseSync(join(lite.env.DATA_DIR, "webui.db"));
    holder.exec("BEGIN IMMEDIATE");
    try {
      const result = await cli(["--timeout", "1"], lite.env);
      assert.equal(result.code, 0);
      // The lock kind on both runtimes (Deno's exec() gives no result code).
      assert.match(result.stdout, warned(literal("database is locked: database is locked")));
    } finally {
      holder.exec("ROLLBACK");
      holder.close();
    }
    assert.equal((await lite.rows()).filter((r) => isMissing(r.code)).length, 10);
  });
});

/** Every variable the repair reads to find its database, each set but empty. */
const EMPTY_DATABASE_SETTINGS = Object.fromEntries(
  [
    "DATABASE_URL",
    "DATABASE_TYPE",
    "DATABASE_USER",
    "DATABASE_PASSWORD",
    "DATABASE_HOST",
    "DATABASE_PORT",
    "DATABASE_NAME",
    "DATABASE_SCHEMA",
    "DATA_DIR",
  ].map((name) => [name, ""]),
);

test("every database setting of the repair set but empty is its default: ./data/webui.db", async () => {
  const cwd = mkdtempSync(join(tmpdir(), "invite-code-empty-"));
  try {
    mkdirSync(join(cwd, "data"));
    const file = new DatabaseSync(join(cwd, "data", "webui.db"));
    file.exec(createUserTableSql({ users: 4, missing: 3 }));
    file.exec(seedUsersSql({ users: 4, missing: 3 }, SQLITE_SEED));
    file.close();
    const result = await cli([], EMPTY_DATABASE_SETTINGS, { cwd });
    assert.equal(result.code, 0, result.stderr);
    assert.deepEqual(lines(result.stdout), [LOG.found(3), LOG.success(3)]);
  } finally {
    rmSync(cwd, { recursive: true, force: true });
  }
});

test("PostgreSQL from DATABASE_* parts with DATABASE_URL and DATABASE_SCHEMA empty: the current schema", async () => {
  const db = await postgresFixture();
  try {
    await db.seed({ users: 4, missing: 3 });
    const url = new URL(db.env.DATABASE_URL);
    const parts = {
      ...EMPTY_DATABASE_SETTINGS,
      DATABASE_TYPE: "postgresql",
      DATABASE_USER: decodeURIComponent(url.username),
      DATABASE_PASSWORD: decodeURIComponent(url.password),
      DATABASE_HOST: url.hostname,
      DATABASE_PORT: url.port,
      DATABASE_NAME: url.pathname.slice(1),
    };
    const result = await cli([], parts);
    assert.equal(result.code, 0, result.stderr);
    assert.deepEqual(lines(result.stdout), [LOG.found(3), LOG.success(3)]);
  } finally {
    await db.close();
  }
});

test("SQLite: paths are shown absolute, and a file named like a URI is opened as a file", async () => {
  const cwd = mkdtempSync(join(tmpdir(), "invite-code-paths-"));
  try {
    mkdirSync(join(cwd, "data"));
    const env = { DATABASE_URL: "sqlite:///data/x.db" };
    const absent = `database file ${join(cwd, "data", "x.db")} does not exist yet`;
    const skipped = await cli([], env, { cwd });
    assert.deepEqual(lines(skipped.stdout), [LOG.skipped(absent)]);
    const checked = await cli(["--check"], env, { cwd });
    assert.equal(checked.code, 1);
    assert.deepEqual(lines(checked.stdout), [LOG.checkFailed(absent)]);
    const previous = process.cwd();
    process.chdir(cwd);
    const probe = createProbe({ env: { ...env, HEALTH_DETAILS: "1" } });
    try {
      const body = await (await probe.app.request("/health/invite-codes?format=text")).text();
      assert.equal(body, `missing=unknown (${absent})\n`);
    } finally {
      process.chdir(previous);
      await probe.close();
    }
    // "file:new2.db" is a file name; SQLite must not read it as a URI and create new2.db.
    const literal = new DatabaseSync(join(cwd, "file:new2.db"));
    literal.exec(createUserTableSql({ users: 3 }));
    literal.exec(seedUsersSql({ users: 3, missing: 3 }, SQLITE_SEED));
    literal.close();
    const repaired = await cli([], { DATABASE_URL: "sqlite:///file:new2.db" }, { cwd });
    assert.deepEqual(lines(repaired.stdout), [LOG.found(3), LOG.success(3)]);
    assert.ok(!existsSync(join(cwd, "new2.db")), "no new2.db created");
  } finally {
    rmSync(cwd, { recursive: true, force: true });
  }
});

/** A repair fails open naming `reason`, --strict exits 1, --check exits 2 ("could not run"). */
async function assertMisconfigured(
  env: Record<string, string>,
  reason: RegExp,
  options: { cwd?: string } = {},
) {
  const plain = await cli([], env, options);
  assert.equal(plain.code, 0, plain.stdout + plain.stderr);
  assert.match(plain.stdout, warned(reason));
  assertOneCleanLine(plain.stdout);
  assert.doesNotMatch(plain.stdout, /skipping/);
  assert.equal((await cli(["--strict"], env, options)).code, 1);
  const checked = await cli(["--check"], env, options);
  assert.equal(checked.code, 2, checked.stdout);
  assert.match(
    checked.stdout,
    new RegExp(`^ERROR: Could not check invite codes: ${reason.source}`),
  );
}

test("SQLite: a path that names no database the app could use is a failure naming it, not 'not migrated yet'", async () => {
  const dir = mkdtempSync(join(tmpdir(), "invite-code-misconfigured-"));
  try {
    const missingFolder = join(dir, "nodir", "webui.db");
    await assertMisconfigured(
      { DATABASE_URL: `sqlite:///${missingFolder}` },
      literal(`the folder of the SQLite database ${missingFolder} does not exist`),
    );
    await assertMisconfigured(
      { DATA_DIR: join(dir, "typo") },
      literal(`the folder of the SQLite database ${join(dir, "typo", "webui.db")} does not exist`),
    );
    mkdirSync(join(dir, "folder.db"));
    await assertMisconfigured(
      { DATABASE_URL: `sqlite:///${join(dir, "folder.db")}` },
      literal(`${join(dir, "folder.db")} is a directory, not a SQLite database file`),
    );
    assert.equal(spawnSync("mkfifo", [join(dir, "fifo.db")]).status, 0);
    await assertMisconfigured(
      { DATABASE_URL: `sqlite:///${join(dir, "fifo.db")}` },
      literal(`${join(dir, "fifo.db")} is not a regular file`),
    );
    writeFileSync(join(dir, "notes.db"), "not a database, just notes\n".repeat(100));
    await assertMisconfigured(
      { DATABASE_URL: `sqlite:///${join(dir, "notes.db")}` },
      literal(`${join(dir, "notes.db")} is not a SQLite database`),
    );
    // Server settings given in part: Open WebUI would fall back to SQLite, which is not there.
    await assertMisconfigured(
      { DATABASE_TYPE: "postgresql", DATABASE_HOST: "db", DATA_DIR: dir },
      literal(
        "DATABASE_TYPE, DATABASE_HOST are set but DATABASE_USER, DATABASE_PORT, DATABASE_NAME " +
          "are not: Open WebUI composes a database URL only from all five",
      ),
    );
    // A folder that is there, with no file yet: Open WebUI creates it on its first start.
    const fresh = await cli(["--strict"], { DATA_DIR: dir });
    assert.equal(fresh.code, 0);
    assert.deepEqual(lines(fresh.stdout), [
      LOG.skipped(`database file ${join(dir, "webui.db")} does not exist yet`),
    ]);
    // Partial server settings beside a SQLite file Open WebUI does use: that file is repaired.
    const fallback = new DatabaseSync(join(dir, "webui.db"));
    fallback.exec(createUserTableSql({ users: 2 }));
    fallback.exec(seedUsersSql({ users: 2, missing: 2 }, SQLITE_SEED));
    fallback.close();
    const used = await cli([], { DATABASE_TYPE: "postgresql", DATA_DIR: dir });
    assert.deepEqual(lines(used.stdout), [LOG.found(2), LOG.success(2)]);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("SQLite: a CHECK constraint that refuses the codes is named, not called 'no free codes'", async () => {
  const db = await sqliteFixture();
  try {
    await db.seed({ users: 3, missing: 3, column: "VARCHAR(8) CHECK (invite_code LIKE 'X%')" });
    const result = await cli(["--strict"], db.env);
    assert.equal(result.code, 1);
    assert.match(
      result.stdout,
      warned(/the database refuses the codes the repair gives: CHECK constraint failed/),
    );
    assert.doesNotMatch(result.stdout, /no free/);
  } finally {
    await db.close();
  }
});

test("SQLite: a read-only folder or file is named as such, not as a 'readonly database'", async () => {
  const db = await sqliteFixture();
  const path = join(db.env.DATA_DIR, "webui.db");
  // As root every file is writable: the run drops the capabilities that
  // override file modes (as root, so that a project in a folder only root may
  // enter, a mktemp -d clone, is still read).
  const asRoot = process.getuid?.() === 0;
  const runAs = (env: Record<string, string>) => {
    const [command, argv] = runtimeCommand(MOD, []);
    const dropped = "-dac_override,-dac_read_search";
    return asRoot
      ? run("setpriv", [`--inh-caps=${dropped}`, `--bounding-set=${dropped}`, command, ...argv], {
        env,
      })
      : run(command, argv, { env });
  };
  try {
    await db.seed({ users: 3, missing: 3 });
    chmodSync(dirname(db.env.DATA_DIR), 0o755);
    chmodSync(path, 0o666);
    chmodSync(db.env.DATA_DIR, 0o555);
    const folder = await runAs(db.env);
    assert.match(
      folder.stdout,
      warned(literal(`the folder ${db.env.DATA_DIR} is not writable by this user`)),
      folder.stdout + folder.stderr,
    );
    chmodSync(path, 0o444);
    const file = await runAs(db.env);
    assert.match(file.stdout, warned(literal(`${path} is not writable by this user`)));
  } finally {
    chmodSync(db.env.DATA_DIR, 0o755);
    await db.close();
  }
});

test("PostgreSQL: DATABASE_SCHEMA naming no schema fails, and a column that is not text is refused clearly", async () => {
  const db = await postgresFixture();
  try {
    await db.seed({ users: 3, missing: 3 });
    await assertMisconfigured(
      { ...db.env, DATABASE_SCHEMA: "no_such_schema" },
      /DATABASE_SCHEMA names schema "no_such_schema", which database "[^"]+" does not have/,
    );
    await db.exec(`ALTER TABLE "user" ALTER COLUMN invite_code TYPE integer USING NULL`);
    const result = await cli(["--strict"], db.env);
    assert.equal(result.code, 1);
    assert.match(
      result.stdout,
      warned(/column invite_code of "user" is integer, not text/),
    );
    assert.doesNotMatch(result.stdout, /ascii/);
    assert.equal((await cli(["--check"], db.env)).code, 2);
  } finally {
    await db.close();
  }
});

test("SQLite: a column whose type turns codes into numbers is refused clearly", async () => {
  const db = await sqliteFixture();
  try {
    await db.seed({ users: 3, missing: 3, column: "INTEGER" });
    const result = await cli(["--strict"], db.env);
    assert.equal(result.code, 1);
    assert.match(result.stdout, warned(/column invite_code of "user" is INTEGER, not text/));
  } finally {
    await db.close();
  }
});

test("no output of any test in this file contains the password", () => {
  assert.ok(outputs.length > 15);
  for (const { stdout, stderr } of outputs) {
    assert.ok(!stdout.includes(PASSWORD) && !stderr.includes(PASSWORD), stdout + stderr);
  }
});
