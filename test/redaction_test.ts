/**
 * Secrets, everywhere, as properties: random secrets, from every source a
 * secret comes from, through the masking itself and through every output
 * (the repair's log and report, the check, the probe's log and answers with
 * details on), never show whole or as a prefix of SECRET_PREFIX or more
 * characters: not when the server quotes them back cut to 63 bytes, not when
 * a line is collapsed or cut, not when two secrets overlap.
 */
import assert from "node:assert/strict";
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import process from "node:process";
import { after, before, test } from "node:test";
import fc from "fast-check";
import postgres from "postgres";
import { createProbe } from "../health.ts";
import { check, repair } from "../mod.ts";
import { describeFailure, oneLine, redact, SECRET_PREFIX, strayLine } from "../src/errors.ts";

/** Characters secrets are made of: printable ASCII, whitespace runs, and a few beyond ASCII. */
const CHARACTER = fc.oneof(
  { weight: 8, arbitrary: fc.constantFrom(..."abcXYZ019#%&?/:@=+;'\"\\ ~!$^*()[]{}<>,.|`-_") },
  { weight: 2, arbitrary: fc.constantFrom(" ", "  ", "\t", "\n") },
  { weight: 1, arbitrary: fc.constantFrom("é", "ü", "日", "本", "😀", "ß") },
);
const SECRET = fc.array(CHARACTER, { minLength: SECRET_PREFIX, maxLength: 90 })
  .map((parts) => parts.join(""))
  .filter((secret) => secret.trim().length >= SECRET_PREFIX);

/** Every way a secret's start could still be read in `output`. */
function leaks(output: string, secret: string): string[] {
  const heads = [secret, secret.replace(/\s+/g, " "), secret.replace(/\s+/g, " ").trim()]
    .map((form) => [...form].slice(0, SECRET_PREFIX).join(""))
    .flatMap((head) => [head, encodeURIComponent(head)]);
  return heads.filter((head) => output.includes(head));
}

/** The first `bytes` bytes of `text` in UTF-8, as PostgreSQL cuts an identifier. */
function cutToBytes(text: string, bytes: number): string {
  let out = "";
  let used = 0;
  for (const character of text) {
    const size = new TextEncoder().encode(character).length;
    if (used + size > bytes) break;
    out += character;
    used += size;
  }
  return out;
}

test("masking holds for cut, collapsed, encoded and overlapping secrets", () => {
  fc.assert(
    fc.property(
      SECRET,
      SECRET,
      fc.constantFrom("whole", "63 bytes", "collapsed", "encoded", "cut", "overlap"),
      fc.nat({ max: 500 }),
      (secret, other, shape, cut) => {
        const shown = shape === "63 bytes"
          ? cutToBytes(secret, 63)
          : shape === "collapsed"
          ? secret.replace(/\s+/g, " ")
          : shape === "encoded"
          ? encodeURIComponent(secret)
          : shape === "cut"
          ? secret.slice(0, SECRET_PREFIX + (cut % (secret.length - SECRET_PREFIX + 1)))
          : shape === "overlap"
          ? other.slice(0, 10) + secret
          : secret;
        const message = `FATAL: role "${shown}" does not exist; password ${secret} failed`;
        const outputs = [
          redact(message, [other, secret]),
          describeFailure(new Error(message), [secret, other]).message,
          strayLine(new Error(message), [other, secret]),
          oneLine(redact(message, [secret, other]), 40 + cut),
        ];
        for (const output of outputs) assert.deepEqual(leaks(output, secret), [], output);
      },
    ),
    { numRuns: 3000 },
  );
});

let admin: postgres.Sql;
let server: URL;
let home: string;
let role = 0;

before(() => {
  server = new URL(process.env.TEST_DATABASE_URL!);
  admin = postgres(server.href, { max: 1, onnotice: () => {} });
  home = mkdtempSync(join(tmpdir(), "invite-code-secrets-home-"));
});

after(async () => {
  await admin.end();
  rmSync(home, { recursive: true, force: true });
});

/** Where a secret comes from, and the environment that gives it. */
type Source = "url" | "PGPASSWORD" | "DATABASE_PASSWORD" | ".pgpass" | "sslpassword";

/**
 * An environment in which `secret` is the password of a new role (or, for
 * sslpassword, a key password), and the database is named after it, so that
 * the server quotes it back, cut to 63 bytes, in "database ... does not exist".
 */
async function environment(source: Source, secret: string): Promise<Record<string, string>> {
  const name = `secret_role_${process.pid}_${role++}`;
  const password = source === "sslpassword" ? "plain-pw-for-role" : secret;
  await admin.unsafe(`CREATE ROLE ${name} LOGIN PASSWORD '${password.replaceAll("'", "''")}'`);
  const host = `127.0.0.1:${server.port}`;
  const database = encodeURIComponent(secret);
  const base = { HOME: home, HEALTH_DETAILS: "1" };
  switch (source) {
    case "url":
      return { ...base, DATABASE_URL: `postgresql://${name}:${database}@${host}/${database}` };
    case "PGPASSWORD":
      return {
        ...base,
        PGPASSWORD: secret,
        DATABASE_URL: `postgresql://${name}@${host}/${database}`,
      };
    case "DATABASE_PASSWORD":
      return {
        ...base,
        DATABASE_TYPE: "postgresql",
        DATABASE_USER: name,
        DATABASE_PASSWORD: secret,
        DATABASE_HOST: "127.0.0.1",
        DATABASE_PORT: server.port,
        DATABASE_NAME: database,
      };
    case ".pgpass": {
      const escaped = secret.replaceAll("\\", "\\\\").replaceAll(":", "\\:");
      // SQLAlchemy leaves the database part of a URL as written: percent-encoded.
      const dbname = database.replaceAll("\\", "\\\\").replaceAll(":", "\\:");
      writeFileSync(
        join(home, ".pgpass"),
        `127.0.0.1:${server.port}:${dbname}:${name}:${escaped}\n`,
      );
      chmodSync(join(home, ".pgpass"), 0o600);
      return { ...base, DATABASE_URL: `postgresql://${name}@${host}/${database}` };
    }
    case "sslpassword":
      return {
        ...base,
        DATABASE_URL: `postgresql://${name}:${password}@${host}/${database}?sslmode=disable` +
          `&sslpassword=${database}`,
      };
  }
}

test("no output of the repair, the check or the probe shows a secret, from any source", async () => {
  await fc.assert(
    fc.asyncProperty(
      // .pgpass lines end at a newline, and a URL's query drops blank values.
      SECRET.filter((secret) => !/[\n\r]/.test(secret)),
      fc.constantFrom<Source>("url", "PGPASSWORD", "DATABASE_PASSWORD", ".pgpass", "sslpassword"),
      async (secret, source) => {
        const env = await environment(source, secret);
        const outputs: string[] = [];
        const report = await repair({ env, log: (line) => outputs.push(line), timeoutMs: 20_000 });
        outputs.push(JSON.stringify(report));
        outputs.push(JSON.stringify(await check({ env, timeoutMs: 20_000 })));
        const probe = createProbe({
          env,
          settings: { cacheMs: 0, timeoutMs: 20_000 },
          log: (line) => outputs.push(line),
        });
        try {
          for (
            const path of ["/health/invite-codes", "/health/invite-codes?format=text", "/metrics"]
          ) {
            outputs.push(await (await probe.app.request(path)).text());
          }
        } finally {
          await probe.close();
        }
        // The server did quote the database name back: the test looked where a leak would be.
        assert.match(outputs.join("\n"), /does not exist|authentication failed/);
        for (const output of outputs) assert.deepEqual(leaks(output, secret), [], output);
      },
    ),
    { numRuns: 40 },
  );
});
