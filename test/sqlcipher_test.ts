/**
 * Open WebUI's encrypted SQLite (`sqlite+sqlcipher`), judged by an
 * independent SQLCipher 4: the shell scripts/sqlcipher.sh builds from
 * Zetetic's own source makes each encrypted file and verifies it after the
 * tool, which opens it with another library (better-sqlite3-multiple-ciphers).
 */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import {
  chmodSync,
  cpSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import process from "node:process";
import { after, describe, test } from "node:test";
import { createUserTableSql, seedUsersSql, type Shape, SQLITE_SEED } from "../scripts/openwebui.ts";
import { freePort } from "../scripts/net.ts";
import { resolveDatabaseUrl } from "../src/connect/environment.ts";
import { resolveTarget } from "../src/connect/target.ts";
import { CIPHER_LIBRARY, sqlcipherOpener } from "../src/db/sqlcipher.ts";
import { InviteCodeError } from "../src/errors.ts";
import { LOG } from "../src/messages.ts";
import { CIPHER_PERMISSION, DENO_PERMISSIONS, denoPermissionsFor } from "../src/runtime.ts";
import {
  assignOnly,
  GENERATED_CODE,
  isDeno,
  launch,
  lines,
  MOD,
  type Ran,
  ROOT,
  run,
  sendSignal,
  waitForOutput,
} from "./helpers.ts";

const built = spawnSync("bash", [join(ROOT, "scripts", "sqlcipher.sh")], {
  encoding: "utf8",
  timeout: 600_000,
});
const SHELL = built.status === 0 ? built.stdout.trim() : "";
const required = process.env.CI === "true" || process.env.REQUIRE_SQLCIPHER === "1";
const skip = SHELL || required ? undefined : `the SQLCipher 4 shell could not be built ` +
  `(scripts/sqlcipher.sh: ${lines(built.stderr ?? "").at(-1) ?? built.error?.message})`;

const PASSPHRASE = "hunter'2 secret";
const HEADER = "SQLite format 3";
const dirs: string[] = [];
after(() => dirs.forEach((dir) => rmSync(dir, { recursive: true, force: true })));

/** SQL as a literal, quotes doubled. */
const literal = (text: string) => `'${text.replaceAll("'", "''")}'`;

/** Run `sql` in the oracle on `file` after `PRAGMA key`; the rows it printed. */
function oracle(file: string, sql: string, passphrase = PASSPHRASE): string[] {
  const ran = spawnSync(SHELL, [file], {
    input: `PRAGMA key = ${literal(passphrase)};\n${sql}`,
    encoding: "utf8",
    timeout: 120_000,
  });
  assert.equal(ran.status, 0, `the SQLCipher shell failed: ${ran.stderr}`);
  // SQLCipher 4 answers PRAGMA key with "ok".
  return lines(ran.stdout).slice(1);
}

/** A fresh Open WebUI data folder whose webui.db the oracle made, encrypted. */
function encryptedDataDir(shape: Shape): { dir: string; dataDir: string; file: string } {
  const dir = mkdtempSync(join(tmpdir(), "invite-code-sqlcipher-"));
  dirs.push(dir);
  const dataDir = join(dir, "data");
  mkdirSync(dataDir);
  const file = join(dataDir, "webui.db");
  oracle(file, `${createUserTableSql(shape)};\n${seedUsersSql(shape, SQLITE_SEED)};`);
  return { dir, dataDir, file };
}

/** The same shape in a plain file, for comparing what the tool prints. */
function plainDataDir(shape: Shape): string {
  const { dataDir } = encryptedDataDir({ users: 0 });
  rmSync(join(dataDir, "webui.db"));
  const ran = spawnSync(SHELL, [join(dataDir, "webui.db")], {
    input: `${createUserTableSql(shape)};\n${seedUsersSql(shape, SQLITE_SEED)};`,
    encoding: "utf8",
  });
  assert.equal(ran.status, 0, ran.stderr);
  return dataDir;
}

/** The command running `script` under this test's runtime, with the permissions `env` needs. */
function command(
  script: string,
  env: Record<string, string>,
  args: string[] = [],
): [string, string[]] {
  return isDeno
    ? [process.execPath, ["run", ...denoPermissionsFor(env), "--no-prompt", script, ...args]]
    : [process.execPath, [script, ...args]];
}

function repair(env: Record<string, string>, args: string[] = [], cwd?: string): Promise<Ran> {
  const [cmd, argv] = command(MOD, env, args);
  return run(cmd, argv, { env, cwd, timeoutMs: 120_000 });
}

/** What the oracle says of the repaired file: intact, encrypted, every code there and unique. */
function verify(file: string, users: number): void {
  assert.notEqual(readFileSync(file).subarray(0, 15).toString("latin1"), HEADER, "still encrypted");
  assert.deepEqual(oracle(file, "PRAGMA cipher_integrity_check;\nPRAGMA integrity_check;"), ["ok"]);
  const [total, distinct, missing] = oracle(
    file,
    `SELECT count(*), count(DISTINCT invite_code),
       sum(invite_code IS NULL OR trim(invite_code, ' ' || char(9, 10, 11, 12, 13)) = '')
     FROM "user";`,
  )[0].split("|").map(Number);
  assert.deepEqual({ total, distinct, missing }, { total: users, distinct: users, missing: 0 });
  const generated = oracle(file, `SELECT invite_code FROM "user" WHERE invite_code NOT LIKE 'X%';`);
  assert.ok(generated.length > 0 && generated.every((code) => GENERATED_CODE.test(code)));
}

const cipherEnv = (dataDir: string, passphrase = PASSPHRASE) => ({
  DATA_DIR: dataDir,
  DATABASE_TYPE: "sqlite+sqlcipher",
  DATABASE_PASSWORD: passphrase,
});

describe("encrypted SQLite (sqlite+sqlcipher), judged by SQLCipher 4", { skip }, () => {
  test("the oracle is SQLCipher 4, built from source", () => {
    assert.equal(built.status, 0, built.stderr);
    const dir = mkdtempSync(join(tmpdir(), "invite-code-sqlcipher-"));
    dirs.push(dir);
    assert.match(oracle(join(dir, "x.db"), "PRAGMA cipher_version;")[0], /^4\.\d+\.\d+ /);
  });

  test("DATABASE_TYPE=sqlite+sqlcipher: repaired with a plain file's lines, verified by the oracle", async () => {
    const shape = { users: 300, missing: 200, blank: 5 };
    const { dataDir, file } = encryptedDataDir(shape);
    const ran = await repair(cipherEnv(dataDir));
    assert.equal(ran.code, 0, ran.stdout + ran.stderr);
    assert.deepEqual(lines(ran.stdout), [LOG.found(205), LOG.success(205)]);
    assert.equal(ran.stderr, "");
    // A plain file of the same shape prints the same lines.
    const plain = await repair({ DATA_DIR: plainDataDir(shape) });
    assert.deepEqual(lines(plain.stdout), lines(ran.stdout));
    verify(file, 300);
    // And a second run finds nothing to do.
    const again = await repair(cipherEnv(dataDir));
    assert.deepEqual(lines(again.stdout), [LOG.allHaveCodes(300)]);
  });

  test("a sqlite+sqlcipher:/// URL is relative to the working directory, ://// absolute", async () => {
    const relative = encryptedDataDir({ users: 40, missing: 40 });
    const env = {
      DATABASE_URL: "sqlite+sqlcipher:///data/webui.db",
      DATABASE_PASSWORD: PASSPHRASE,
    };
    const ran = await repair(env, [], relative.dir);
    assert.deepEqual(lines(ran.stdout), [LOG.found(40), LOG.success(40)], ran.stderr);
    verify(relative.file, 40);

    const absolute = encryptedDataDir({ users: 30, missing: 10 });
    const url = `sqlite+sqlcipher:///${absolute.file}`;
    assert.ok(url.startsWith("sqlite+sqlcipher:////"));
    // DATABASE_URL wins over DATABASE_TYPE's default file, which is not there.
    const viaUrl = await repair({
      ...cipherEnv(join(absolute.dir, "elsewhere")),
      DATABASE_URL: url,
    });
    assert.deepEqual(lines(viaUrl.stdout), [LOG.found(10), LOG.success(10)], viaUrl.stderr);
    verify(absolute.file, 30);
  });

  test("--check reads the encrypted file and changes nothing", async () => {
    const { dataDir, file } = encryptedDataDir({ users: 20, missing: 3 });
    const before = readFileSync(file);
    const ran = await repair(cipherEnv(dataDir), ["--check"]);
    assert.equal(ran.code, 1);
    assert.match(ran.stdout, /^FAIL: 3 of 20 users/m);
    assert.deepEqual(readFileSync(file), before);
  });

  for (
    const [name, env, reason] of [
      ["a wrong passphrase", (d: string) => cipherEnv(d, "not the passphrase"), LOG.cipherRejected],
      ["a blank passphrase", (d: string) => cipherEnv(d, "   "), LOG.cipherNeedsPassword],
      [
        "no passphrase",
        (d: string) => ({ DATA_DIR: d, DATABASE_TYPE: "sqlite+sqlcipher" }),
        LOG.cipherNeedsPassword,
      ],
    ] as const
  ) {
    test(`${name}: one line, fail open, nothing written, the passphrase never shown`, async () => {
      const { dataDir, file } = encryptedDataDir({ users: 10, missing: 10 });
      const before = readFileSync(file);
      const given = env(dataDir);
      const ran = await repair(given);
      assert.equal(ran.code, 0);
      assert.deepEqual(lines(ran.stdout + ran.stderr), [LOG.failed(reason)]);
      assert.deepEqual(readFileSync(file), before, "the file is untouched");
      assert.deepEqual(
        statSync(dataDir).isDirectory() && lines(spawnSync("ls", [dataDir]).stdout.toString()),
        ["webui.db"],
      );
      const strict = await repair(given, ["--strict"]);
      assert.equal(strict.code, 1);
      for (const secret of [PASSPHRASE, "not the passphrase"]) {
        assert.ok(!(ran.stdout + ran.stderr + strict.stdout + strict.stderr).includes(secret));
      }
    });
  }

  test("a plain SQLite file named as encrypted: the same one line, untouched", async () => {
    const dataDir = plainDataDir({ users: 5, missing: 5 });
    const before = readFileSync(join(dataDir, "webui.db"));
    const ran = await repair(cipherEnv(dataDir));
    assert.deepEqual(lines(ran.stdout + ran.stderr), [LOG.failed(LOG.cipherRejected)]);
    assert.deepEqual(readFileSync(join(dataDir, "webui.db")), before);
  });

  test("the repair waits for the app's write lock, then gives up without writing", async () => {
    const { dataDir, file } = encryptedDataDir({ users: 10, missing: 10 });
    const open = await sqlcipherOpener(PASSPHRASE);
    const app = open(file, { readOnly: false, busyTimeoutMs: 1000 });
    app.exec("BEGIN IMMEDIATE");
    try {
      const started = Date.now();
      const ran = await repair(cipherEnv(dataDir), ["--timeout", "2"]);
      assert.equal(ran.code, 0);
      // The lock kind, as a plain file reports it (the library names its codes).
      assert.deepEqual(lines(ran.stdout + ran.stderr), [
        LOG.failed("database is locked: database is locked"),
      ]);
      assert.ok(Date.now() - started >= 1500, "it waited on the busy timeout");
    } finally {
      app.exec("ROLLBACK");
      app.close();
    }
    assert.deepEqual(oracle(file, `SELECT count(*) FROM "user" WHERE invite_code IS NULL;`), [
      "10",
    ]);
  });

  // Under Node too: the project's Deno is on the PATH the tests run with.
  test("a code another user holds is passed over by the library's named result code, as by a plain file's number", async () => {
    const { dataDir, file } = encryptedDataDir({ users: 3, missing: 1 });
    const held = oracle(file, `SELECT invite_code FROM "user" WHERE invite_code IS NOT NULL;`)[0];
    const result = await assignOnly(cipherEnv(dataDir), held);
    assert.deepEqual([result.assigned, result.targets], [0, 1]);
  });

  test("Deno without --allow-ffi: one line naming it, fail open, untouched", async () => {
    const { dataDir, file } = encryptedDataDir({ users: 5, missing: 5 });
    const before = readFileSync(file);
    const env = cipherEnv(dataDir);
    const deno = isDeno ? process.execPath : "deno";
    const ran = await run(deno, ["run", ...DENO_PERMISSIONS, "--no-prompt", MOD], {
      env,
    });
    assert.equal(ran.code, 0);
    const said = lines(ran.stdout + ran.stderr);
    assert.equal(said.length, 1, said.join("\n"));
    assert.match(said[0], /^WARNING: Failed to auto-fix invite codes: .*--allow-ffi/);
    assert.deepEqual(readFileSync(file), before);
  });

  test("installed without the SQLCipher library: a plain file repairs, an encrypted one is one line", async () => {
    // The tool with the SQLCipher library pruned: its files, and only the other dependencies.
    const app = mkdtempSync(join(tmpdir(), "invite-code-no-cipher-"));
    dirs.push(app);
    for (const entry of ["mod.ts", "health.ts", "src", "package.json", "deno.json"]) {
      cpSync(join(ROOT, entry), join(app, entry), { recursive: true });
    }
    for (const dependency of ["postgres", "hono", "@hono"]) {
      mkdirSync(dirname(join(app, "node_modules", dependency)), { recursive: true });
      symlinkSync(join(ROOT, "node_modules", dependency), join(app, "node_modules", dependency));
    }
    const { dataDir, file } = encryptedDataDir({ users: 5, missing: 5 });
    const before = readFileSync(file);
    const [cmd, argv] = command(join(app, "mod.ts"), cipherEnv(dataDir));
    const ran = await run(cmd, argv, { env: cipherEnv(dataDir), cwd: app });
    assert.equal(ran.code, 0);
    assert.deepEqual(lines(ran.stdout + ran.stderr), [
      LOG.failed(LOG.cipherLibraryMissing(CIPHER_LIBRARY)),
    ]);
    // What this runtime cannot do without the library: the kind "runtime".
    const [jsonCmd, jsonArgv] = command(join(app, "mod.ts"), cipherEnv(dataDir), ["--json"]);
    const json = await run(jsonCmd, jsonArgv, { env: cipherEnv(dataDir), cwd: app });
    assert.equal(JSON.parse(json.stdout).error.kind, "runtime");
    assert.deepEqual(readFileSync(file), before);
    const plain = plainDataDir({ users: 5, missing: 5 });
    const [plainCmd, plainArgv] = command(join(app, "mod.ts"), { DATA_DIR: plain });
    const repaired = await run(plainCmd, plainArgv, { env: { DATA_DIR: plain }, cwd: app });
    assert.deepEqual(lines(repaired.stdout), [LOG.found(5), LOG.success(5)], repaired.stderr);
  });

  test("the passphrase is a secret of the target, never in what it shows", () => {
    const target = resolveTarget(cipherEnv("/srv/data"));
    assert.equal(
      resolveDatabaseUrl(cipherEnv("/srv/data")),
      "sqlite+sqlcipher:////srv/data/webui.db",
    );
    assert.equal(target.display, "sqlite+sqlcipher:////srv/data/webui.db");
    assert.deepEqual(target.secrets, [PASSPHRASE]);
    // Open WebUI takes the rest of the URL as the file name, "?" and all.
    const odd = resolveTarget({
      DATABASE_URL: "sqlite+sqlcipher:////srv/a?b.db",
      DATABASE_PASSWORD: " x ",
    });
    assert.equal(odd.dialect === "sqlite" && odd.path, "/srv/a?b.db");
    assert.equal(odd.dialect === "sqlite" && odd.cipher?.passphrase, " x ");
    assert.throws(
      () => resolveTarget({ DATABASE_URL: "sqlite+sqlcipher:///", DATABASE_PASSWORD: "x" }),
      (error) => error instanceof InviteCodeError && error.kind === "config",
    );
  });

  test("the probe heals the encrypted file and keeps it encrypted", async () => {
    const { dataDir, file } = encryptedDataDir({ users: 50, missing: 30 });
    const port = await freePort();
    const env = {
      ...cipherEnv(dataDir),
      HEALTH_HOST: "127.0.0.1",
      HEALTH_PORT: String(port),
      REPAIR_INTERVAL: "1",
    };
    const [cmd, argv] = command(join(ROOT, "health.ts"), env);
    const probe = launch(cmd, argv, { env });
    try {
      await waitForOutput(probe, LOG.success(30), 60_000);
      // Users who lose their codes while it runs: the next interval heals them.
      oracle(file, `UPDATE "user" SET invite_code = NULL WHERE rowid <= 7;`);
      await waitForOutput(probe, LOG.success(7), 60_000);
      const response = await fetch(`http://127.0.0.1:${port}/health/invite-codes?format=text`);
      assert.equal(response.status, 200);
      assert.match(await response.text(), /missing=0/);
    } finally {
      sendSignal(probe, "SIGTERM");
      await probe.exited;
    }
    assert.ok(!probe.output().includes(PASSPHRASE));
    verify(file, 50);
  });

  test("start.sh repairs it, and grants Deno --allow-ffi only for it", async () => {
    const { dataDir, file } = encryptedDataDir({ users: 20, missing: 20 });
    const app = ["sh", "-c", "trap 'exit 0' TERM; echo app up; while :; do sleep 0.1; done"];
    const running = launch("sh", [join(ROOT, "start.sh"), ...app], {
      env: { ...cipherEnv(dataDir), INVITE_CODE_RUNTIME: isDeno ? "deno" : "node" },
    });
    await waitForOutput(running, "app up", 120_000);
    sendSignal(running, "SIGTERM");
    assert.equal(await running.exited, 0);
    assert.ok(lines(running.output()).includes(LOG.success(20)), running.output());
    verify(file, 20);

    // Which flags start.sh hands Deno, seen through a stand-in deno.
    const bin = mkdtempSync(join(tmpdir(), "invite-code-fake-deno-"));
    dirs.push(bin);
    writeFileSync(
      join(bin, "deno"),
      '#!/bin/sh\n[ "$1" = --version ] && { echo "deno 2.9.6 (stable)"; exit 0; }\n' +
        'echo "fake deno ran $*"\n',
    );
    chmodSync(join(bin, "deno"), 0o755);
    const flags = async (env: Record<string, string>) => {
      const ran = await run("sh", [join(ROOT, "start.sh"), "true"], {
        env: { ...env, INVITE_CODE_RUNTIME: "deno", PATH: `${bin}:${process.env.PATH}` },
      });
      return /^fake deno ran run (.*) --no-prompt/m.exec(ran.stdout)?.[1].split(" ");
    };
    assert.deepEqual(await flags(cipherEnv(dataDir)), denoPermissionsFor(cipherEnv(dataDir)));
    assert.deepEqual(await flags(cipherEnv(dataDir)), [...DENO_PERMISSIONS, CIPHER_PERMISSION]);
    const url = { DATABASE_URL: `sqlite+sqlcipher:///${file}`, DATABASE_PASSWORD: "x" };
    assert.deepEqual(await flags(url), [...DENO_PERMISSIONS, CIPHER_PERMISSION]);
    // A plain file, and a DATABASE_URL that wins over DATABASE_TYPE: no FFI.
    assert.deepEqual(await flags({ DATA_DIR: dataDir }), [...DENO_PERMISSIONS]);
    const plainUrl = { ...cipherEnv(dataDir), DATABASE_URL: `sqlite:///${file}` };
    assert.deepEqual(await flags(plainUrl), [...DENO_PERMISSIONS]);
    assert.deepEqual(denoPermissionsFor(plainUrl), [...DENO_PERMISSIONS]);
  });
});
