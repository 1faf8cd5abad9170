/**
 * The keywords as one resolved connection: what `postgresTarget` makes of
 * them for the connector (each host's ways per sslmode, timeouts, startup
 * parameters, keepalive, session attributes), so that nothing below resolve
 * reads a keyword again.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { type ConnectionConfig, postgresTarget } from "../src/connect/conninfo.ts";
import { parseSqlalchemyUrl } from "../src/connect/sqlalchemy.ts";
import { InviteCodeError } from "../src/errors.ts";

function connection(url: string, env: Record<string, string> = {}): ConnectionConfig {
  return postgresTarget(parseSqlalchemyUrl(url), env, []).connection;
}

test("each sslmode's ways, in libpq's order; a Unix socket is plain", () => {
  const ways = (mode: string) =>
    connection(`postgresql://u:pw@db/x?sslmode=${mode}`).attempts[0].ways;
  assert.deepEqual(ways("disable"), ["plain"]);
  assert.deepEqual(ways("allow"), ["plain", "tls"]);
  assert.deepEqual(ways("prefer"), ["tls", "plain"]);
  assert.deepEqual(ways("require"), ["tls"]);
  assert.deepEqual(ways("verify-full"), ["tls"]);
  const unix = connection("postgresql://u:pw@/x?host=/run/pg&sslmode=require");
  assert.deepEqual(unix.attempts[0].ways, ["plain"]);
  assert.equal(unix.sslmode, "require");
});

test("hosts in order, each with the password keyword and connect_timeout in ms", () => {
  const config = connection(
    "postgresql://u:pw@/x?host=a:5433&host=b:5434&connect_timeout=3&sslmode=disable",
  );
  assert.deepEqual(
    config.attempts.map((attempt) => [attempt.endpoint.label, attempt.password, attempt.timeoutMs]),
    [["a:5433", "pw", 3000], ["b:5434", "pw", 3000]],
  );
  assert.equal(connection("postgresql://u@db/x").connectTimeoutMs, Infinity);
  assert.equal(connection("postgresql://u@db/x?connect_timeout=0").connectTimeoutMs, Infinity);
  assert.throws(
    () => connection("postgresql://u@db/x?connect_timeout=1.5"),
    (error: unknown) =>
      error instanceof InviteCodeError && error.kind === "config" &&
      error.message === 'invalid integer value "1.5" for connection option "connect_timeout"',
  );
});

test("what every session sends and checks, with libpq's defaults and PG* variables", () => {
  const defaults = connection("postgresql://u@db");
  assert.equal(defaults.user, "u");
  assert.equal(defaults.database, "u");
  assert.deepEqual(defaults.parameters, { application_name: "invite-code-repair" });
  assert.equal(defaults.keepAliveSeconds, 60);
  assert.equal(defaults.targetSessionAttrs, "any");
  assert.equal(defaults.channelBinding, "prefer");
  assert.equal(defaults.negotiation, "postgres");
  assert.equal(defaults.loadBalanceHosts, "disable");
  const given = connection(
    "postgresql://u@db/x?application_name=app&options=-c%20a%3D1&keepalives=0" +
      "&channel_binding=require&load_balance_hosts=random",
    { PGTARGETSESSIONATTRS: "read-write", PGSSLNEGOTIATION: "direct", PGSSLMODE: "require" },
  );
  assert.deepEqual(given.parameters, { application_name: "app", options: "-c a=1" });
  assert.equal(given.keepAliveSeconds, null);
  assert.equal(given.targetSessionAttrs, "read-write");
  assert.equal(given.channelBinding, "require");
  assert.equal(given.negotiation, "direct");
  assert.equal(given.loadBalanceHosts, "random");
});

test("a target made without the TLS step never connects: its TLS settings are a refusal", () => {
  const config = connection("postgresql://u@db/x?sslmode=require");
  assert.ok("refused" in config.tls);
});
