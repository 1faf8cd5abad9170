/**
 * The connector on its own: `connect` walks a resolved config's attempts
 * against fake servers on loopback (a closed port, a server that hangs up,
 * one that never answers, one starting up, one whose pg_hba.conf refuses
 * TLS, standbys), and the session postgres.js gets starts with the server's
 * startup answer. The real servers and psql's verdicts are oracle_test.ts's.
 */
import assert from "node:assert/strict";
import { Buffer } from "node:buffer";
import { mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type AddressInfo, createServer, type Server, type Socket } from "node:net";
import { after, before, describe, test } from "node:test";
import { TLSSocket } from "node:tls";
import { connect, connector, type SessionState } from "../src/connect/connector.ts";
import type { ConnectionConfig } from "../src/connect/conninfo.ts";
import { StartupError } from "../src/connect/startup.ts";
import { parseDatabaseUrl } from "../src/connect/target.ts";
import { CONNECT_FAILURE } from "../src/connect/tls.ts";
import { Deadline } from "../src/deadline.ts";
import { InviteCodeError, isInviteCodeError, SQLSTATE } from "../src/errors.ts";
import { freePort } from "../scripts/net.ts";
import { type Certificates, makeCertificates } from "../scripts/tls.ts";

/** A home without libpq's files: no ~/.pgpass, no ~/.postgresql. */
const HOME = mkdtempSync(join(tmpdir(), "connector-home-"));

/** What a fake server does with a session, once it has its StartupMessage. */
type Behaviour =
  | { kind: "ok"; state?: SessionState }
  | { kind: "refuse"; code: string; message: string }
  /** Refuses sessions over TLS with 28000 (a hostnossl rule), accepts plain ones. */
  | { kind: "plain only" }
  | { kind: "hang up" }
  | { kind: "silent" };

interface FakeServer {
  port: number;
  /** Startup packets received, and whether each came over TLS. */
  sessions: { tls: boolean }[];
  close(): Promise<void>;
}

const SSL_REQUEST_CODE = 80877103;

function message(type: string, body: Buffer): Buffer {
  const header = Buffer.alloc(5);
  header.write(type, 0, "latin1");
  header.writeInt32BE(body.length + 4, 1);
  return Buffer.concat([header, body]);
}

function int32(value: number): Buffer {
  const buffer = Buffer.alloc(4);
  buffer.writeInt32BE(value);
  return buffer;
}

const READY = message("Z", Buffer.from("I"));
const AUTH_OK = message("R", int32(0));

function errorResponse(code: string, text: string): Buffer {
  return message("E", Buffer.from(`SFATAL\0C${code}\0M${text}\0\0`, "utf8"));
}

/** A one-row answer to the session check: two text columns. */
function stateAnswer(state: SessionState): Buffer {
  const column = (value: string) => Buffer.concat([int32(1), Buffer.from(value)]);
  const row = Buffer.concat([
    Buffer.from([0, 2]),
    column(state.inRecovery ? "t" : "f"),
    column(state.defaultReadOnly ? "t" : "f"),
  ]);
  return Buffer.concat([
    message("D", row),
    message("C", Buffer.from("SELECT 1\0")),
    READY,
  ]);
}

/** A PostgreSQL server as far as a connection goes, on 127.0.0.1. */
async function fakeServer(behaviour: Behaviour, certs?: Certificates): Promise<FakeServer> {
  const sessions: { tls: boolean }[] = [];
  const sockets = new Set<Socket>();
  const serve = (socket: Socket, tls: boolean) => {
    let buffer = Buffer.alloc(0);
    let started = false;
    const onData = (data: Buffer) => {
      buffer = Buffer.concat([buffer, data]);
      if (!started) {
        if (buffer.length < 8 || buffer.length < buffer.readInt32BE(0)) return;
        const code = buffer.readInt32BE(4);
        buffer = buffer.subarray(buffer.readInt32BE(0));
        if (code === SSL_REQUEST_CODE) {
          if (!certs) return void socket.write("N");
          socket.write("S");
          socket.off("data", onData);
          const secured = new TLSSocket(socket, {
            isServer: true,
            cert: readFileSync(certs.serverCert),
            key: readFileSync(certs.serverKey),
          });
          secured.on("error", () => {});
          return serve(secured as unknown as Socket, true);
        }
        started = true;
        sessions.push({ tls });
        return answer(socket, tls);
      }
      // The session check: a simple query.
      if (buffer[0] === 0x51 && behaviour.kind === "ok") {
        buffer = Buffer.alloc(0);
        socket.write(stateAnswer(behaviour.state ?? { inRecovery: false, defaultReadOnly: false }));
      }
    };
    socket.on("data", onData);
  };
  const answer = (socket: Socket, tls: boolean) => {
    switch (behaviour.kind) {
      case "ok":
        return void socket.write(Buffer.concat([AUTH_OK, READY]));
      case "refuse":
        return void socket.end(errorResponse(behaviour.code, behaviour.message));
      case "plain only":
        return void (tls
          ? socket.end(errorResponse(SQLSTATE.INVALID_AUTHORIZATION, "no pg_hba.conf entry"))
          : socket.write(Buffer.concat([AUTH_OK, READY])));
      case "hang up":
        return void socket.end();
      case "silent":
        return;
    }
  };
  const server: Server = createServer((socket) => {
    sockets.add(socket);
    socket.on("error", () => {});
    socket.on("close", () => sockets.delete(socket));
    if (behaviour.kind === "hang up" && !certs) return void socket.end();
    serve(socket, false);
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return {
    port: (server.address() as AddressInfo).port,
    sessions,
    close: () => {
      for (const socket of sockets) socket.destroy();
      return new Promise((resolve) => server.close(() => resolve()));
    },
  };
}

/** The resolved connection for hosts on 127.0.0.1 at `ports`, with `query` keywords. */
function config(ports: number[], query = "sslmode=disable"): ConnectionConfig {
  const host = ports.map((port) => `host=127.0.0.1:${port}`).join("&");
  const target = parseDatabaseUrl(`postgresql://u:pw@/db?${host}&${query}`, { HOME });
  assert.equal(target.dialect, "postgres");
  return (target as Extract<typeof target, { dialect: "postgres" }>).connection;
}

/** postgres.js's StartupMessage for user u, database db. */
const STARTUP = (() => {
  const body = Buffer.from("user\0u\0database\0db\0\0", "utf8");
  return Buffer.concat([int32(body.length + 8), int32(196608), body]);
})();

const soon = () => Deadline.after(10_000);

async function rejection(work: Promise<unknown>): Promise<InviteCodeError> {
  const error = await work.then(() => undefined, (error: unknown) => error);
  assert.ok(isInviteCodeError(error, "connect"), String(error));
  return error;
}

describe("connect: libpq's walk over the hosts", () => {
  const servers: FakeServer[] = [];
  let certs: Certificates;
  const start = async (behaviour: Behaviour, withTls = false) => {
    const server = await fakeServer(behaviour, withTls ? certs : undefined);
    servers.push(server);
    return server;
  };

  before(() => {
    certs = makeCertificates("u");
  });
  after(async () => {
    await Promise.all(servers.map((server) => server.close()));
  });

  test("a closed port is passed over; the session replays the server's startup answer", async () => {
    const closed = await freePort();
    const ok = await start({ kind: "ok" });
    const session = await connect(config([closed, ok.port]), STARTUP, { deadline: soon });
    try {
      assert.equal(session.host.endpoint.port, ok.port);
      assert.deepEqual(session.replay, Buffer.concat([AUTH_OK, READY]));
    } finally {
      session.socket.destroy();
    }
  });

  test("every host failing: one connect error naming each host and why", async () => {
    const closed = await freePort();
    const hangUp = await start({ kind: "hang up" });
    const error = await rejection(
      connect(config([closed, hangUp.port]), STARTUP, { deadline: soon }),
    );
    assert.equal(error.code, CONNECT_FAILURE.EXHAUSTED);
    assert.match(
      error.message,
      new RegExp(
        `^cannot connect to PostgreSQL: 127\\.0\\.0\\.1:${closed}: .*ECONNREFUSED.*; ` +
          `127\\.0\\.0\\.1:${hangUp.port}: server closed the connection unexpectedly$`,
      ),
    );
  });

  test("a host that never answers: connect_timeout expires and the next host is tried", async () => {
    const silent = await start({ kind: "silent" });
    const ok = await start({ kind: "ok" });
    const began = Date.now();
    const session = await connect(
      config([silent.port, ok.port], "sslmode=disable&connect_timeout=1"),
      STARTUP,
      { deadline: soon },
    );
    session.socket.destroy();
    assert.equal(session.host.endpoint.port, ok.port);
    const waited = Date.now() - began;
    assert.ok(waited >= 900 && waited < 5_000, `${waited} ms`);
    const error = await rejection(
      connect(config([silent.port], "sslmode=disable&connect_timeout=1"), STARTUP, {
        deadline: soon,
      }),
    );
    assert.equal(
      error.message,
      `cannot connect to PostgreSQL: 127.0.0.1:${silent.port}: timeout expired`,
    );
  });

  test("the deadline bounds a host without connect_timeout", async () => {
    const silent = await start({ kind: "silent" });
    const began = Date.now();
    const deadline = Deadline.after(500);
    const error = await rejection(
      connect(config([silent.port]), STARTUP, { deadline: () => deadline }),
    );
    assert.match(error.message, /timeout expired$/);
    assert.ok(Date.now() - began < 3_000);
  });

  test("a server starting up (57P03) is passed over; alone, it is named", async () => {
    const startingUp = await start({
      kind: "refuse",
      code: SQLSTATE.CANNOT_CONNECT_NOW,
      message: "the database system is starting up",
    });
    const ok = await start({ kind: "ok" });
    const session = await connect(config([startingUp.port, ok.port]), STARTUP, {
      deadline: soon,
    });
    session.socket.destroy();
    assert.equal(session.host.endpoint.port, ok.port);
    const error = await rejection(connect(config([startingUp.port]), STARTUP, { deadline: soon }));
    assert.equal(
      error.message,
      `cannot connect to PostgreSQL: 127.0.0.1:${startingUp.port}: the database system is starting up`,
    );
  });

  test("any other refusal ends the walk with the server's own error and SQLSTATE", async () => {
    const wrong = await start({
      kind: "refuse",
      code: SQLSTATE.INVALID_PASSWORD,
      message: 'password authentication failed for user "u"',
    });
    const ok = await start({ kind: "ok" });
    const error = await connect(config([wrong.port, ok.port]), STARTUP, { deadline: soon })
      .then(() => undefined, (error: unknown) => error);
    assert.ok(error instanceof StartupError, String(error));
    assert.equal(error.code, SQLSTATE.INVALID_PASSWORD);
    assert.equal(ok.sessions.length, 0, "the next host is not tried");
  });

  test("prefer: a pg_hba.conf refusal over TLS (28000) is tried once more in plain", async () => {
    const server = await start({ kind: "plain only" }, true);
    const session = await connect(config([server.port], "sslmode=prefer"), STARTUP, {
      deadline: soon,
    });
    session.socket.destroy();
    assert.equal(session.way, "plain");
    assert.deepEqual(server.sessions, [{ tls: true }, { tls: false }]);
  });

  test("require: the same refusal is the error, never retried in plain", async () => {
    const server = await start({ kind: "plain only" }, true);
    const error = await connect(config([server.port], "sslmode=require"), STARTUP, {
      deadline: soon,
    }).then(() => undefined, (error: unknown) => error);
    assert.ok(error instanceof StartupError, String(error));
    assert.equal(error.code, SQLSTATE.INVALID_AUTHORIZATION);
    assert.deepEqual(server.sessions, [{ tls: true }]);
  });

  test("require against a server without TLS ends the walk; prefer goes on in plain", async () => {
    const plain = await start({ kind: "ok" });
    const ok = await start({ kind: "ok" });
    const error = await rejection(
      connect(config([plain.port, ok.port], "sslmode=require"), STARTUP, { deadline: soon }),
    );
    assert.equal(error.code, CONNECT_FAILURE.FAILED);
    assert.match(error.message, /server does not support SSL, but SSL was required$/);
    assert.equal(ok.sessions.length, 0);
    const session = await connect(config([plain.port], "sslmode=prefer"), STARTUP, {
      deadline: soon,
    });
    session.socket.destroy();
    assert.equal(session.host.endpoint.port, plain.port);
  });

  test("target_session_attrs: a standby is ended and passed over for read-write", async () => {
    const standby = await start({ kind: "ok", state: { inRecovery: true, defaultReadOnly: true } });
    const primary = await start({ kind: "ok" });
    const rw = "sslmode=disable&target_session_attrs=read-write";
    const session = await connect(config([standby.port, primary.port], rw), STARTUP, {
      deadline: soon,
    });
    session.socket.destroy();
    assert.equal(session.host.endpoint.port, primary.port);
    const error = await rejection(connect(config([standby.port], rw), STARTUP, { deadline: soon }));
    assert.equal(
      error.message,
      `cannot connect to PostgreSQL: 127.0.0.1:${standby.port}: server is in hot standby mode`,
    );
  });

  test("prefer-standby: with no standby anywhere, a second pass takes the first server", async () => {
    const first = await start({ kind: "ok" });
    const second = await start({ kind: "ok" });
    const checks: number[] = [];
    const session = await connect(
      config([first.port, second.port], "sslmode=disable&target_session_attrs=prefer-standby"),
      STARTUP,
      {
        deadline: soon,
        checkSession: () => {
          checks.push(1);
          return Promise.resolve({ inRecovery: false, defaultReadOnly: false });
        },
      },
    );
    session.socket.destroy();
    assert.equal(session.host.endpoint.port, first.port);
    assert.equal(checks.length, 3, "both hosts on the first pass, the first again on the second");
  });

  test("the driver's socket: startup answer first, then every byte through; a cancel goes to the session's host", async () => {
    const closed = await freePort();
    const ok = await start({ kind: "ok" });
    const link = connector(config([closed, ok.port]), { deadline: soon });
    const socket = await link.socket();
    const received: Buffer[] = [];
    socket.on("data", (data: Buffer) => received.push(data));
    socket.write(STARTUP);
    for (let i = 0; i < 100 && Buffer.concat(received).length < 11; i++) {
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    assert.deepEqual(Buffer.concat(received), Buffer.concat([AUTH_OK, READY]));
    const cancel = await link.socket();
    cancel.on("error", () => {});
    const request = Buffer.concat([int32(16), int32(80877102), int32(1), int32(2)]);
    cancel.write(request);
    for (let i = 0; i < 100 && ok.sessions.length < 2; i++) {
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    assert.equal(ok.sessions.length, 2, "the cancel reached the session's host, not the first");
    cancel.destroy();
    socket.end();
    await link.hungUp();
  });
});

describe("resolve: the files libpq reads, read once into the config", () => {
  test("a refused TLS file waits for the connection, with libpq's line", async () => {
    const resolved = config([5432], "sslmode=verify-full");
    assert.ok("refused" in resolved.tls);
    const error = await connect(resolved, STARTUP, { deadline: soon })
      .then(() => undefined, (error: unknown) => error);
    assert.ok(isInviteCodeError(error, "config"), String(error));
    assert.match(error.message, /^root certificate file ".*root\.crt" does not exist/);
  });

  test("an encrypted client key: a wrong or missing sslpassword is named, not sent", () => {
    const certs = makeCertificates("u");
    const files = `sslcert=${certs.clientCert}&sslkey=${certs.clientKeyEncrypted}`;
    const wrong = config([5432], `sslmode=require&${files}&sslpassword=wrong`);
    assert.ok("refused" in wrong.tls);
    assert.match(wrong.tls.refused.message, /bad decrypt \(wrong sslpassword\)$/);
    const missing = config([5432], `sslmode=require&${files}`);
    assert.ok("refused" in missing.tls);
    assert.match(missing.tls.refused.message, /it is encrypted: give sslpassword$/);
    const right = config(
      [5432],
      `sslmode=require&${files}&sslpassword=${encodeURIComponent(certs.passphrase)}`,
    );
    assert.ok("options" in right.tls);
    assert.match(String(right.tls.options.key), /BEGIN PRIVATE KEY/);
  });
});
