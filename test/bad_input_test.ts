/**
 * Bad input: thousands of random database URLs, random flags and
 * environment through the real CLI and probe, and SQL in DATABASE_SCHEMA.
 * Always a target or one clear line, exit 2 or fail-open, never a stack
 * trace, never a password. Each test stands alone.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { test } from "node:test";
import { InviteCodeError, parseDatabaseUrl, resolveDatabaseUrl } from "../mod.ts";
import {
  cliWithoutSecrets,
  launch,
  lines,
  literal,
  postgresFixture,
  ROOT,
  runtimeCommand,
  serverPasswords,
  warned,
} from "./helpers.ts";

/** The server's password, and each random one as a test makes it. */
const secrets = new Set(serverPasswords());
const cli = cliWithoutSecrets(secrets);

function randomText(length: number): string {
  const bytes = crypto.getRandomValues(new Uint8Array(length));
  const alphabets = [
    () => String.fromCharCode(...bytes.map((b) => b || 1)),
    () => [...bytes].map((b) => String.fromCodePoint(0x80 + b * 97)).join(""),
    () => [...bytes].map((b) => `:/@?#%"'\\ ${"x"}`[b % 11]).join(""),
  ];
  return alphabets[bytes[0] % alphabets.length]();
}

test("thousands of random database URLs: a target or one clear config error", () => {
  const schemes = [
    "postgres",
    "postgresql",
    "postgresql+asyncpg",
    "sqlite",
    "mysql",
    "",
    "sqlite+sqlcipher",
    "x",
  ];
  let tried = 0;
  for (let i = 0; i < 4000; i++) {
    const password = `Pw${i}secret`;
    const scheme = schemes[i % schemes.length];
    const noise = randomText(1 + (i % 200));
    const candidates = [
      noise,
      `${scheme}://user:${password}@${noise}`,
      `${scheme}://user:${password}@host:5432/${noise}?sslmode=${noise}`,
      `${scheme}:///${noise}`,
      i % 500 === 0 ? `${scheme}://u:${password}@h/${"y".repeat(200_000)}` : "",
    ];
    for (const url of candidates.filter(Boolean)) {
      tried++;
      try {
        const target = parseDatabaseUrl(url, {
          DATABASE_SCHEMA: i % 3 ? undefined : noise.slice(0, 40),
        });
        assert.ok(!target.display.includes(password), "display masks the password");
      } catch (error) {
        assert.ok(error instanceof InviteCodeError, `${error}`);
        assert.equal(error.kind, "config");
        assert.ok(!error.message.includes("\n") && error.message.length < 400);
        assert.ok(!error.message.includes(password));
      }
    }
    const resolved = resolveDatabaseUrl({
      DATABASE_URL: i % 2 ? noise : undefined,
      DATA_DIR: noise,
    });
    assert.equal(resolved, i % 2 && noise ? noise : `sqlite:///${noise || "./data"}/webui.db`);
  }
  assert.ok(tried > 12_000);
});

test("random flags and environment through the real CLI and probe: one line, exit 2 or fail-open", async () => {
  for (let i = 0; i < 8; i++) {
    const flag = `--${randomText(6).replace(/[\0\s]/g, "x")}`;
    const result = await cli([flag], {});
    assert.equal(result.code, 2, flag);
    assert.equal(lines(result.stderr).length, 1);
    assert.doesNotMatch(result.stderr, /^\s+at /m);
  }
  for (let i = 0; i < 6; i++) {
    const password = `Rnd${i}Pass${i}`;
    secrets.add(password);
    const url = `${["mysql", "postgres", "sqlite"][i % 3]}://u:${password}@${
      randomText(20).replace(/\0/g, "")
    }`;
    const result = await cli(["--timeout", "3"], { DATABASE_URL: url });
    assert.equal(result.code, 0);
    assert.equal(lines(result.stdout).length, 1, result.stdout);
    assert.match(result.stdout, /^(WARNING|INFO): /);
  }
  const [command, args] = runtimeCommand(join(ROOT, "health.ts"));
  for (
    const [name, value] of [["HEALTH_PORT", "99999"], ["HEALTH_CACHE_MS", "-1"], [
      "HEALTH_HOST",
      "a b",
    ]]
  ) {
    const probe = launch(command, args, { env: { [name]: value } });
    assert.equal(await probe.exited, 2, name);
    assert.equal(lines(probe.output()).length, 1, probe.output());
  }
});

test("quotes in DATABASE_SCHEMA are a schema name, never SQL", async () => {
  const pg = await postgresFixture();
  try {
    await pg.seed({ users: 5, missing: 5 });
    const result = await cli([], { ...pg.env, DATABASE_SCHEMA: `x"; DROP TABLE "user"; --` });
    assert.equal(result.code, 0);
    // No such schema: a misconfiguration, named with the schema as given, and nothing run.
    assert.match(
      result.stdout,
      warned(literal('DATABASE_SCHEMA names schema "x"; DROP TABLE "user"; --", which database')),
    );
    assert.equal((await pg.rows()).length, 5, "the table is still there");
  } finally {
    await pg.close();
  }
});
