/**
 * Secrets never reach any output. Passwords made of every printable ASCII
 * character, and an sslpassword, go through every path that prints: the
 * repair's lines and --json, --check, the probe's JSON, text, metrics, its
 * startup line and its log, with failures whose driver error quotes the
 * URL's parts back.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { freePort } from "../scripts/net.ts";
import { redact } from "../src/errors.ts";
import { launch, ROOT, runCli, sendSignal, waitForHttp } from "./helpers.ts";
import { join } from "node:path";
import process from "node:process";
import { runtimeCommand } from "./helpers.ts";

const PRINTABLE = Array.from({ length: 95 }, (_, i) => String.fromCharCode(32 + i));

test("redact masks a secret as written, percent-encoded and URI-encoded", () => {
  const secret = PRINTABLE.filter((c) => c !== "@").join("");
  for (
    const form of [secret, encodeURIComponent(secret), encodeURI(secret)]
  ) {
    const line = `before ${form} after`;
    assert.equal(redact(line, [secret]), "before *** after");
  }
  assert.equal(redact("pw ab in line", ["ab"]), "pw *** in line", "a short secret standing alone");
  assert.equal(redact("tabs and labs", ["ab"]), "tabs and labs", "not inside words");
});

test("a password of only whitespace never masks a line's spaces", () => {
  const line = "WARNING: Failed to auto-fix invite codes: DATABASE_PASSWORD is required";
  for (const blank of ["   ", "\t", " \n "]) assert.equal(redact(line, [blank]), line);
});

test("a short password is masked where it stands, never inside a word", () => {
  const line = 'password authentication failed for user "webui"';
  assert.equal(redact(line, ["word"]), line, "not ***word authentication failed");
  assert.equal(redact(line, ["pass"]), line);
  assert.equal(redact(line, ["failed1"]), line);
  assert.equal(
    redact("postgresql://webui:word@db/x password=word (word)", ["word"]),
    "postgresql://webui:***@db/x password=*** (***)",
  );
  // Punctuation at a secret's edge sets it apart already: masked even touching letters.
  assert.equal(redact("x#pw!y", ["#pw!"]), "x***y");
  assert.equal(redact('role "pw7" does not exist', ["pw7"]), 'role "***" does not exist');
});

test("no output of any path shows a password or sslpassword, however the URL is written", async () => {
  const server = new URL(process.env.TEST_DATABASE_URL!);
  // Raw in the userinfo: every printable ASCII character but "@".
  const raw = PRINTABLE.filter((c) => c !== "@").join("");
  const keyPassphrase = "Key!Phrase#%2F?&=;x";
  const serverPassword = decodeURIComponent(server.password);
  const secrets = [
    raw,
    encodeURIComponent(raw),
    keyPassphrase,
    encodeURIComponent(keyPassphrase),
    serverPassword,
  ];
  const urls = [
    // Wrong password; the database name repeats the password percent-encoded,
    // so a "database does not exist" error would quote it back.
    `postgresql://postgres:${raw}@127.0.0.1:${server.port}/${encodeURIComponent(raw)}`,
    // The right password, and a nonexistent database named after it: the
    // server's error quotes the name, and so the password, back.
    `postgresql://postgres:${encodeURIComponent(serverPassword)}@127.0.0.1:${server.port}/` +
    `${encodeURIComponent(serverPassword)}-db`,
    // An sslpassword with a client certificate that cannot be read.
    `postgresql://u:${encodeURIComponent(raw)}@127.0.0.1:${server.port}/db?sslmode=require` +
    `&sslcert=/nonexistent/client.crt&sslpassword=${encodeURIComponent(keyPassphrase)}`,
    // Refused connection, and an unusable keyword next to the secrets.
    `postgresql://u:${raw}@127.0.0.1:1/db?bogus=1`,
    `mysql://u:${raw}@h/db`,
  ];
  const outputs: string[] = [];
  for (const url of urls) {
    for (const args of [[], ["--json"], ["--check"], ["--check", "--json"]]) {
      const result = await runCli([...args, "--timeout", "10"], { DATABASE_URL: url });
      outputs.push(result.stdout, result.stderr);
      assert.ok(result.stdout.length > 0, "something was printed");
    }
    const port = await freePort();
    const [command, argv] = runtimeCommand(join(ROOT, "health.ts"));
    const probe = launch(command, argv, {
      env: {
        DATABASE_URL: url,
        HEALTH_HOST: "127.0.0.1",
        HEALTH_PORT: String(port),
        HEALTH_DETAILS: "1",
      },
    });
    try {
      const base = `http://127.0.0.1:${port}`;
      await waitForHttp(`${base}/livez`, 30_000);
      for (const path of ["/health/invite-codes", "/health/invite-codes?format=text", "/metrics"]) {
        outputs.push(await (await fetch(`${base}${path}`)).text());
      }
    } finally {
      sendSignal(probe, "SIGTERM");
      await probe.exited;
    }
    outputs.push(probe.output());
  }
  assert.ok(outputs.some((o) => o.includes("does not exist")), "a driver error quoted a name back");
  for (const output of outputs) {
    for (const secret of secrets) {
      assert.ok(!output.includes(secret), `a secret leaked into:\n${output.slice(0, 400)}`);
    }
  }
});
