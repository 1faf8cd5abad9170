/**
 * Test peers that show what a client sends, for the connection-trust tests:
 * a PostgreSQL look-alike that asks for a cleartext password and records it
 * (which password reached which host), and a TLS server that speaks no
 * PostgreSQL and negotiates no ALPN (what a direct-TLS client must refuse to
 * talk to), one that records the server name (SNI) a TLS client sends, a
 * server that is starting up (57P03), and a relay that ends TLS in front of a
 * real server, as a man in the middle would.
 */
import { Buffer } from "node:buffer";
import { rmSync } from "node:fs";
import { connect as connectTcp, createServer, type Server, type Socket } from "node:net";
import { connect as connectTls, createServer as createTlsServer, TLSSocket } from "node:tls";

/** What one connection to a peer brought. */
export interface Arrival {
  user?: string;
  database?: string;
  /** The cleartext password, when the client sent one. */
  password?: string;
  /** The client asked for TLS first (and was told "N"). */
  askedTls: boolean;
}

/** A running peer. */
export interface Peer {
  port: number;
  /** Every connection so far, oldest first. */
  arrivals: Arrival[];
  close(): Promise<void>;
}

const SSL_REQUEST = 80877103;
const GSS_REQUEST = 80877104;

/**
 * A peer on `port` (0: any free port) of 127.0.0.1 and ::1, and on a Unix
 * socket `<socketDir>/.s.PGSQL.<port>` when `socketDir` is given.
 *
 * @param socketDir A folder for the Unix socket, or none.
 */
export async function startPasswordPeer(socketDir?: string): Promise<Peer> {
  const arrivals: Arrival[] = [];
  const servers: Server[] = [];
  const handler = (socket: Socket) => {
    const arrival: Arrival = { askedTls: false };
    arrivals.push(arrival);
    let buffer = Buffer.alloc(0);
    let stage: "startup" | "password" = "startup";
    socket.on("error", () => {});
    socket.on("data", (chunk: Buffer) => {
      buffer = Buffer.concat([buffer, chunk]);
      for (;;) {
        if (stage === "startup") {
          if (buffer.length < 8) return;
          const length = buffer.readInt32BE(0);
          if (buffer.length < length) return;
          const code = buffer.readInt32BE(4);
          const body = buffer.subarray(8, length);
          buffer = buffer.subarray(length);
          if (code === SSL_REQUEST || code === GSS_REQUEST) {
            if (code === SSL_REQUEST) arrival.askedTls = true;
            socket.write("N");
            continue;
          }
          const fields = body.toString("utf8").split("\0");
          for (let i = 0; i + 1 < fields.length; i += 2) {
            if (fields[i] === "user") arrival.user = fields[i + 1];
            if (fields[i] === "database") arrival.database = fields[i + 1];
          }
          // AuthenticationCleartextPassword.
          socket.write(Buffer.from([0x52, 0, 0, 0, 8, 0, 0, 0, 3]));
          stage = "password";
        } else {
          if (buffer.length < 5) return;
          const length = buffer.readInt32BE(1);
          if (buffer.length < length + 1) return;
          if (buffer[0] === 0x70 /* p */) {
            arrival.password = buffer.subarray(5, length).toString("utf8").replace(/\0$/, "");
          }
          const message = "28P01\0Mpassword authentication failed (test peer)\0\0";
          const fields = Buffer.from(`SFATAL\0VFATAL\0C${message}`, "utf8");
          const header = Buffer.alloc(5);
          header[0] = 0x45; // E
          header.writeInt32BE(fields.length + 4, 1);
          socket.end(Buffer.concat([header, fields]));
          return;
        }
      }
    });
  };
  const v4 = createServer(handler);
  await new Promise<void>((resolve, reject) => {
    v4.once("error", reject);
    v4.listen(0, "127.0.0.1", () => resolve());
  });
  servers.push(v4);
  const port = (v4.address() as { port: number }).port;
  const v6 = createServer(handler);
  await new Promise<void>((resolve) => {
    // Where ::1 is missing, the peer is reached over 127.0.0.1 only.
    v6.once("error", () => resolve());
    v6.listen(port, "::1", () => resolve());
  });
  servers.push(v6);
  let socketPath: string | undefined;
  if (socketDir) {
    socketPath = `${socketDir}/.s.PGSQL.${port}`;
    const unix = createServer(handler);
    await new Promise<void>((resolve, reject) => {
      unix.once("error", reject);
      unix.listen(socketPath, () => resolve());
    });
    servers.push(unix);
  }
  return {
    port,
    arrivals,
    async close() {
      await Promise.all(
        servers.map((server) => new Promise<void>((resolve) => server.close(() => resolve()))),
      );
      if (socketPath) rmSync(socketPath, { force: true });
    },
  };
}

/** A TLS server that negotiates no ALPN; it records whatever bytes a client sends after the handshake. */
export interface TlsPeer {
  port: number;
  /** Bytes received after the handshake, per connection. */
  received: number[];
  close(): Promise<void>;
}

/**
 * Start a TLS server with `cert` and `key` on 127.0.0.1 that speaks no
 * PostgreSQL and offers no ALPN.
 *
 * @param cert The server certificate (PEM).
 * @param key Its key (PEM).
 */
export async function startTlsPeer(cert: Uint8Array, key: Uint8Array): Promise<TlsPeer> {
  const received: number[] = [];
  const server = createTlsServer({ cert: Buffer.from(cert), key: Buffer.from(key) }, (socket) => {
    const index = received.push(0) - 1;
    socket.on("data", (chunk: Buffer) => (received[index] += chunk.length));
    socket.on("error", () => {});
    setTimeout(() => socket.destroy(), 2_000).unref();
  });
  server.on("tlsClientError", () => {});
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", () => resolve()));
  return {
    port: (server.address() as { port: number }).port,
    received,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

/** A peer that records the server name (SNI) each TLS client sends. */
export interface SniPeer {
  port: number;
  /** Per connection, the SNI of its ClientHello, or null when it sent none (or no ClientHello). */
  servernames: (string | null)[];
  close(): Promise<void>;
}

/**
 * Start a peer on 127.0.0.1 that says "S" to an SSLRequest (or takes TLS
 * straight away), reads the ClientHello, records its server name, and hangs
 * up: no handshake ever completes, so every client fails, having shown
 * whether it sent SNI.
 */
export async function startSniPeer(): Promise<SniPeer> {
  const servernames: (string | null)[] = [];
  const server = createServer((socket) => {
    const index = servernames.push(null) - 1;
    let buffer = Buffer.alloc(0);
    socket.on("error", () => {});
    socket.on("data", (chunk: Buffer) => {
      buffer = Buffer.concat([buffer, chunk]);
      if (buffer[0] !== 0x16) {
        if (buffer.length < 8) return;
        if (buffer.readInt32BE(4) !== SSL_REQUEST) return void socket.destroy();
        buffer = buffer.subarray(8);
        socket.write("S");
        return;
      }
      // A TLS record: type, version, length; then the ClientHello.
      if (buffer.length < 5 || buffer.length < 5 + buffer.readUInt16BE(3)) return;
      servernames[index] = serverNameOf(buffer.subarray(5, 5 + buffer.readUInt16BE(3)));
      socket.destroy();
    });
    setTimeout(() => socket.destroy(), 5_000).unref();
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", () => resolve()));
  return {
    port: (server.address() as { port: number }).port,
    servernames,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

/** A TLS-terminating relay in front of a real server, as a man in the middle would run one. */
export interface TlsRelay {
  port: number;
  /**
   * Per connection, what the client chose in its SASLInitialResponse: the
   * mechanism and the GS2 flag (`n`, `y` or `p`), as "SCRAM-SHA-256-PLUS p";
   * "none" when it sent no SASL response.
   */
  chosen: string[];
  close(): Promise<void>;
}

/** The bytes of one PostgreSQL message on a stream: the startup packet has no type byte. */
function takeMessage(buffer: Buffer, typed: boolean): [Buffer, Buffer] | null {
  const offset = typed ? 1 : 0;
  if (buffer.length < offset + 4) return null;
  const length = buffer.readInt32BE(offset) + offset;
  if (buffer.length < length) return null;
  return [buffer.subarray(0, length), buffer.subarray(length)];
}

/**
 * A relay on 127.0.0.1 that answers the client's SSLRequest itself, ends
 * TLS with `cert` and `key`, opens its own TLS connection to the server on
 * 127.0.0.1:`upstream`, and copies the plaintext both ways, noting the SASL
 * mechanism each client picks. With another certificate than the server's,
 * SCRAM channel binding is what tells the server; with the server's own, a
 * bound login passes through and shows that the client bound.
 *
 * @param cert The certificate the relay shows clients (PEM).
 * @param key Its key (PEM).
 * @param upstream The real server's port.
 * @param options `plainUpstream`: reach the server without TLS, so that it
 *   offers no SCRAM-SHA-256-PLUS; `chosen`: a list to note choices in,
 *   shared between relays.
 */
export async function startTlsRelay(
  cert: Uint8Array,
  key: Uint8Array,
  upstream: number,
  options: { plainUpstream?: boolean; chosen?: string[] } = {},
): Promise<TlsRelay> {
  const chosen = options.chosen ?? [];
  const sockets = new Set<Socket>();
  const server = createServer((client) => {
    sockets.add(client);
    client.on("error", () => {});
    client.once("close", () => sockets.delete(client));
    const index = chosen.push("none") - 1;
    client.once("data", (request: Buffer) => {
      if (request.length !== 8 || request.readInt32BE(4) !== SSL_REQUEST) {
        client.destroy();
        return;
      }
      // Nothing may flow past a listener before TLS takes the socket over.
      client.pause();
      client.write("S");
      const secured = new TLSSocket(client, {
        isServer: true,
        cert: Buffer.from(cert),
        key: Buffer.from(key),
      });
      secured.on("error", () => client.destroy());
      const raw = connectTcp({ host: "127.0.0.1", port: upstream });
      sockets.add(raw);
      raw.on("error", () => client.destroy());
      raw.once("close", () => {
        sockets.delete(raw);
        client.destroy();
      });
      const relay = (toServer: Socket) => {
        toServer.on("error", () => client.destroy());
        toServer.on("data", (data: Buffer) => secured.write(data));
        toServer.on("end", () => secured.end());
        let pending: Buffer = Buffer.alloc(0);
        let typed = false;
        secured.on("data", (data: Buffer) => {
          toServer.write(data);
          pending = Buffer.concat([pending, data]);
          for (let next = takeMessage(pending, typed); next; next = takeMessage(pending, typed)) {
            const [message, rest] = next;
            pending = rest;
            if (typed && message[0] === 0x70 /* p */ && chosen[index] === "none") {
              const end = message.indexOf(0, 5);
              const mechanism = message.toString("utf8", 5, end);
              chosen[index] = `${mechanism} ${String.fromCharCode(message[end + 5])}`;
            }
            typed = true;
          }
        });
        secured.on("end", () => toServer.end());
      };
      if (options.plainUpstream) {
        raw.once("connect", () => relay(raw));
        return;
      }
      raw.once("connect", () => raw.write(Buffer.from([0, 0, 0, 8, 0x04, 0xd2, 0x16, 0x2f])));
      raw.once("data", () => relay(connectTls({ socket: raw, rejectUnauthorized: false })));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", () => resolve()));
  return {
    port: (server.address() as { port: number }).port,
    chosen,
    close() {
      for (const socket of sockets) socket.destroy();
      return new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/** A server that is starting up: every session is refused with SQLSTATE 57P03. */
export async function startStartingUpPeer(): Promise<{ port: number; close(): Promise<void> }> {
  const server = createServer((socket) => {
    socket.on("error", () => {});
    let buffer: Buffer = Buffer.alloc(0);
    socket.on("data", (chunk: Buffer) => {
      buffer = Buffer.concat([buffer, chunk]);
      const next = takeMessage(buffer, false);
      if (!next) return;
      buffer = next[1];
      if (next[0].readInt32BE(4) === SSL_REQUEST || next[0].readInt32BE(4) === GSS_REQUEST) {
        socket.write("N");
        return;
      }
      const fields = Buffer.from(
        "SFATAL\0VFATAL\0C57P03\0Mthe database system is starting up\0\0",
        "utf8",
      );
      const header = Buffer.alloc(5);
      header[0] = 0x45; // E
      header.writeInt32BE(fields.length + 4, 1);
      socket.end(Buffer.concat([header, fields]));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", () => resolve()));
  return {
    port: (server.address() as { port: number }).port,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

/** The host_name of a ClientHello's server_name extension (RFC 6066), or null. */
function serverNameOf(hello: Buffer): string | null {
  // type (1), length (3), version (2), random (32), session id, cipher suites, compression.
  let at = 4 + 2 + 32;
  at += 1 + hello[at];
  at += 2 + hello.readUInt16BE(at);
  at += 1 + hello[at];
  const end = at + 2 + hello.readUInt16BE(at);
  for (at += 2; at + 4 <= end;) {
    const type = hello.readUInt16BE(at);
    const length = hello.readUInt16BE(at + 2);
    if (type === 0) {
      // server_name_list length (2), name type (1), name length (2), name.
      const nameLength = hello.readUInt16BE(at + 4 + 3);
      return hello.subarray(at + 4 + 5, at + 4 + 5 + nameLength).toString("latin1");
    }
    at += 4 + length;
  }
  return null;
}

/** A server that misbehaves in a SCRAM exchange, and what each client sent it. */
export interface ScramPeer {
  port: number;
  /** Per connection: the mechanism the client answered with, or "none". */
  answered: string[];
  close(): Promise<void>;
}

function backendMessage(type: string, body: Uint8Array): Buffer {
  const header = Buffer.alloc(5);
  header.write(type, 0, "latin1");
  header.writeInt32BE(body.length + 4, 1);
  return Buffer.concat([header, body]);
}

function authentication(code: number, data: Uint8Array = new Uint8Array()): Buffer {
  const body = Buffer.alloc(4 + data.length);
  body.writeInt32BE(code, 0);
  body.set(data, 4);
  return backendMessage("R", body);
}

/**
 * A plaintext peer on 127.0.0.1 for SCRAM misbehaviour. `plusWithoutTls`
 * offers SCRAM-SHA-256-PLUS over a connection without TLS (libpq refuses
 * to answer); `okTooEarly` runs SCRAM-SHA-256 up to the client's proof and
 * then says AuthenticationOk without proving that it knows the password.
 *
 * @param mode Which misbehaviour.
 */
export async function startScramPeer(mode: "plusWithoutTls" | "okTooEarly"): Promise<ScramPeer> {
  const answered: string[] = [];
  const server = createServer((socket) => {
    socket.on("error", () => {});
    const index = answered.push("none") - 1;
    let buffer: Buffer = Buffer.alloc(0);
    let typed = false;
    let saidOk = false;
    socket.on("data", (chunk: Buffer) => {
      // A client that took the early AuthenticationOk gets its query's connection closed.
      if (saidOk) {
        socket.destroy();
        return;
      }
      buffer = Buffer.concat([buffer, chunk]);
      for (let next = takeMessage(buffer, typed); next; next = takeMessage(buffer, typed)) {
        const [message, rest] = next;
        buffer = rest;
        if (!typed) {
          if (message.readInt32BE(4) === SSL_REQUEST || message.readInt32BE(4) === GSS_REQUEST) {
            socket.write("N");
            continue;
          }
          typed = true;
          const offered = mode === "plusWithoutTls"
            ? "SCRAM-SHA-256-PLUS\0SCRAM-SHA-256\0\0"
            : "SCRAM-SHA-256\0\0";
          socket.write(authentication(10, Buffer.from(offered)));
          continue;
        }
        if (message[0] !== 0x70 /* p */) continue;
        if (answered[index] === "none") {
          const end = message.indexOf(0, 5);
          answered[index] = message.toString("utf8", 5, end);
          const first = message.toString("utf8", end + 5);
          const nonce = /r=([^,]*)/.exec(first)?.[1] ?? "";
          const serverFirst = `r=${nonce}peer,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096`;
          socket.write(authentication(11, Buffer.from(serverFirst)));
        } else {
          // No SASLFinal: straight to AuthenticationOk and ReadyForQuery.
          socket.write(authentication(0));
          socket.write(backendMessage("Z", Buffer.from("I")));
          saidOk = true;
        }
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", () => resolve()));
  return {
    port: (server.address() as { port: number }).port,
    answered,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
