/**
 * Reach: every URL form Open WebUI's SQLAlchemy + psycopg2 connect with
 * connects here too, against a real server listening on 127.0.0.1, ::1 and a
 * Unix socket, with TLS from a throwaway CA and a client-certificate rule.
 * Each form is repaired by the CLI as a subprocess and probed in-process.
 */
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import process from "node:process";
import { after, before, describe, test } from "node:test";
import postgres from "postgres";
import { createProbe } from "../health.ts";
import { LOG } from "../src/messages.ts";
import { startEmbeddedPostgres, type TestServer } from "../scripts/postgres.ts";
import { type Certificates, makeCertificates } from "../scripts/tls.ts";
import { lines, runCli, warned } from "./helpers.ts";

/** Roles whose passwords SQLAlchemy takes unencoded, as the issue found them. */
const ODD = {
  hash: "#Sup3rSecret",
  query: "?xQ9&y=1",
  slash: "/xK2/z",
  port: "5432#xZ",
  percent: "50%off",
};

let certs: Certificates;
let server: TestServer;
let admin: postgres.Sql;
const outputs: string[] = [];
const secrets = () => [...Object.values(ODD), certs.passphrase, server.password];

async function seedMissing(count: number) {
  await admin.unsafe(
    `UPDATE "user" SET invite_code = NULL WHERE id IN (SELECT id FROM "user" ORDER BY id LIMIT ${count})`,
  );
}

/** Repair through `env`, then check; both must succeed, and the probe must see missing=0. */
async function repairsAndProbes(env: Record<string, string>, extra: Record<string, string> = {}) {
  await seedMissing(4);
  const repaired = await runCli([], { ...env, ...extra, HOME: emptyHome() }, { timeoutMs: 60_000 });
  outputs.push(repaired.stdout, repaired.stderr);
  assert.equal(repaired.code, 0, repaired.stderr);
  const printed = lines(repaired.stdout).filter((line) => !line.startsWith("INFO: Ignoring"));
  assert.deepEqual(printed, [LOG.found(4), LOG.success(4)], JSON.stringify(env));
  const checked = await runCli(["--check"], { ...env, ...extra, HOME: emptyHome() });
  outputs.push(checked.stdout, checked.stderr);
  assert.equal(checked.code, 0, checked.stdout);
  // The probe reaches the database exactly the same way.
  const probe = createProbe({
    env: { ...env, ...extra, HOME: emptyHome() },
    settings: { cacheMs: 0, timeoutMs: 10_000 },
    log: (line) => outputs.push(line),
  });
  try {
    const response = await probe.app.request("/health/invite-codes?format=text");
    assert.equal(await response.text(), "missing=0\n");
    assert.equal(response.status, 200);
  } finally {
    await probe.close();
  }
}

/** Fails open: WARNING line, exit 0, quickly, and nothing written. */
async function failsOpen(env: Record<string, string>, reason: RegExp, home = emptyHome()) {
  await seedMissing(2);
  const started = Date.now();
  const result = await runCli([], { ...env, HOME: home }, { timeoutMs: 60_000 });
  outputs.push(result.stdout, result.stderr);
  assert.equal(result.code, 0);
  assert.match(result.stdout, warned(reason));
  assert.ok(Date.now() - started < 15_000, "fails within seconds");
  const [{ missing }] = await admin.unsafe<{ missing: number }[]>(
    `SELECT count(*)::int AS missing FROM "user" WHERE invite_code IS NULL`,
  );
  assert.equal(missing, 2, "nothing written");
  const checked = await runCli(["--check"], { ...env, HOME: home });
  outputs.push(checked.stdout, checked.stderr);
  assert.equal(checked.code, 2, "--check never passes without having looked");
}

let home: string | undefined;
/** A HOME without ~/.postgresql, so only what the URL says applies. */
function emptyHome(): string {
  return (home ??= mkdtempSync(join(tmpdir(), "invite-code-home-")));
}

describe("reach: sockets, IPv6, TLS and odd passwords, as SQLAlchemy + psycopg2 connect", () => {
  before(async () => {
    certs = makeCertificates("certuser");
    server = await startEmbeddedPostgres({
      listen: ["127.0.0.1", "::1"],
      socket: true,
      tls: { cert: certs.serverCert, key: certs.serverKey, ca: certs.ca },
      hba: [
        "local all all scram-sha-256",
        "hostssl all certuser 127.0.0.1/32 cert",
        "hostssl all certuser ::1/128 cert",
        // sslonly may only come over TLS, plainonly only without it.
        "hostssl all sslonly 127.0.0.1/32 scram-sha-256",
        "hostnossl all sslonly 127.0.0.1/32 reject",
        "hostnossl all plainonly 127.0.0.1/32 scram-sha-256",
        "hostssl all plainonly 127.0.0.1/32 reject",
        "host all all 127.0.0.1/32 scram-sha-256",
        "host all all ::1/128 scram-sha-256",
      ],
    });
    admin = postgres(server.url, { max: 1, onnotice: () => {} });
    await admin.unsafe(`CREATE TABLE "user" (
      id int PRIMARY KEY, created_at bigint NOT NULL, invite_code varchar(8) UNIQUE)`);
    await admin.unsafe(
      `INSERT INTO "user" SELECT i, i, 'SEED' || i FROM generate_series(1, 40) i`,
    );
    for (const [name, password] of Object.entries(ODD)) {
      await admin.unsafe(`CREATE ROLE ${name} LOGIN PASSWORD '${password.replaceAll("'", "''")}'`);
    }
    for (const name of ["certuser", "sslonly", "plainonly"]) {
      await admin.unsafe(`CREATE ROLE ${name} LOGIN PASSWORD 'rolepass-${name}'`);
    }
    await admin.unsafe(
      `GRANT SELECT, UPDATE ON "user" TO ${[
        ...Object.keys(ODD),
        "certuser",
        "sslonly",
        "plainonly",
      ]}`,
    );
  });
  after(async () => {
    await admin?.end();
    await server?.stop();
    for (const dir of [certs?.dir, home]) if (dir) rmSync(dir, { recursive: true, force: true });
    // Checked last, over everything every test printed.
    for (const output of outputs) {
      for (const secret of secrets()) assert.ok(!output.includes(secret), `leaked ${secret}`);
    }
  });

  const url = (rest: string) => `postgresql://${rest}`;

  test("a password with # written raw, over TCP (sslmode prefer: TLS)", async () => {
    await repairsAndProbes({
      DATABASE_URL: url(`hash:${ODD.hash}@127.0.0.1:${server.port}/postgres`),
    });
  });

  test("a Unix socket directory in ?host=, with a password holding ? and &", async () => {
    await repairsAndProbes({
      DATABASE_URL:
        `postgresql+psycopg2://query:${ODD.query}@/postgres?host=${server.socketDir}&port=${server.port}`,
    });
  });

  test("postgresql:///db?host=/socket/dir, user and password from libpq's variables", async () => {
    await repairsAndProbes(
      { DATABASE_URL: `postgresql:///postgres?host=${server.socketDir}&port=${server.port}` },
      { PGUSER: "slash", PGPASSWORD: ODD.slash },
    );
  });

  test("an IPv6 host in brackets, with a password holding 5432#", async () => {
    await repairsAndProbes({ DATABASE_URL: url(`port:${ODD.port}@[::1]:${server.port}/postgres`) });
  });

  test("DATABASE_* parts: an IPv6 DATABASE_HOST and a password holding %", async () => {
    await repairsAndProbes({
      DATABASE_TYPE: "postgresql",
      DATABASE_USER: "percent",
      DATABASE_PASSWORD: ODD.percent,
      DATABASE_HOST: "[::1]",
      DATABASE_PORT: String(server.port),
      DATABASE_NAME: "postgres",
    });
  });

  test("sslmode=verify-full with sslrootcert: the CA is used and the name checked", async () => {
    for (const host of ["localhost", "127.0.0.1", "[::1]"]) {
      await repairsAndProbes({
        DATABASE_URL: url(
          `hash:${ODD.hash}@${host}:${server.port}/postgres?sslmode=verify-full&sslrootcert=${certs.ca}`,
        ),
      });
    }
  });

  test("a client certificate against a hostssl ... cert rule, plain and passphrase-protected", async () => {
    const base = `certuser@localhost:${server.port}/postgres?sslmode=verify-full` +
      `&sslrootcert=${certs.ca}&sslcert=${certs.clientCert}`;
    await repairsAndProbes({ DATABASE_URL: url(`${base}&sslkey=${certs.clientKey}`) });
    await repairsAndProbes({
      DATABASE_URL: url(
        `${base}&sslkey=${certs.clientKeyEncrypted}&sslpassword=${
          encodeURIComponent(certs.passphrase)
        }`,
      ),
    });
  });

  test("keepalives, gssencmode, application_name, options, connect_timeout, target_session_attrs", async () => {
    await repairsAndProbes({
      DATABASE_URL: url(
        `hash:${encodeURIComponent(ODD.hash)}@127.0.0.1:${server.port}/postgres?keepalives=1` +
          `&keepalives_idle=30&gssencmode=disable&application_name=reach-test` +
          `&options=-c%20statement_timeout%3D60000&connect_timeout=5&target_session_attrs=read-write`,
      ),
    });
  });

  test("a host list: the first refuses, the second (IPv6) answers", async () => {
    await repairsAndProbes({
      DATABASE_URL: url(`hash:${ODD.hash}@/postgres?host=127.0.0.1,::1&port=1,${server.port}`),
    });
  });

  test("sslmode=allow upgrades to TLS for a hostssl-only role; prefer falls back for hostnossl", async () => {
    await repairsAndProbes({
      DATABASE_URL: url(`sslonly:rolepass-sslonly@127.0.0.1:${server.port}/postgres?sslmode=allow`),
    });
    await repairsAndProbes({
      DATABASE_URL: url(
        `plainonly:rolepass-plainonly@127.0.0.1:${server.port}/postgres?sslmode=prefer`,
      ),
    });
  });

  test("sslmode=allow and prefer against a server without TLS connect; require does not", async () => {
    const plain = new URL(process.env.TEST_DATABASE_URL!);
    for (const mode of ["allow", "prefer"]) {
      const result = await runCli(["--check"], {
        DATABASE_URL: `${plain.href}?sslmode=${mode}`,
        HOME: emptyHome(),
      });
      outputs.push(result.stdout, result.stderr);
      assert.notEqual(result.code, 2, `${mode}: ${result.stdout}`);
    }
    const required = await runCli(["--check"], {
      DATABASE_URL: `${plain.href}?sslmode=require`,
      HOME: emptyHome(),
    });
    assert.equal(required.code, 2);
    assert.match(required.stdout, /does not support SSL/);
  });

  test("verify-full with the wrong CA, with system roots, or with no CA at all fails open", async () => {
    const base = url(`hash:${ODD.hash}@localhost:${server.port}/postgres?sslmode=verify-full`);
    await failsOpen(
      { DATABASE_URL: `${base}&sslrootcert=${certs.otherCa}` },
      /cannot connect to PostgreSQL: .*certificate/,
    );
    await failsOpen({
      DATABASE_URL: url(`hash:${ODD.hash}@localhost:${server.port}/postgres?sslrootcert=system`),
    }, /cannot connect to PostgreSQL: .*certificate/);
    await failsOpen({ DATABASE_URL: base }, /root certificate file ".*root\.crt" does not exist/);
  });
});
