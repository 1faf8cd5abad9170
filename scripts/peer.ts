/**
 * Test peers that show what a client sends, for the connection-trust tests:
 * a PostgreSQL look-alike that asks for a cleartext password and records it
 * (which password reached which host), and a TLS server that speaks no
 * PostgreSQL and negotiates no ALPN (what a direct-TLS client must refuse to
 * talk to), and one that records the server name (SNI) a TLS client sends.
 * None is a database: every session ends with an error.
 */
import { Buffer } from "node:buffer";
import { rmSync } from "node:fs";
import { createServer, type Server, type Socket } from "node:net";
import { createServer as createTlsServer } from "node:tls";

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
