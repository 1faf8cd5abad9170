/**
 * TLS the libpq way: the options the `ssl*` keywords ask for (root
 * certificate, client certificate, revocation list, SNI, protocol versions),
 * read from their files before any connection, and the handshake itself
 * (an SSLRequest, or direct TLS).
 *
 * @module
 */
import { readFileSync } from "node:fs";
import { isIP, type Socket } from "node:net";
import { connect as tlsConnect, type ConnectionOptions, type TLSSocket } from "node:tls";
import { errorMessage } from "../errors.ts";
import { type Conninfo, type Endpoint, refuse, shown, type SslMode, sslMode } from "./conninfo.ts";
import type { Env } from "./environment.ts";
import { homeFile, present } from "./files.ts";

/** How TLS starts: libpq's SSLRequest, or a TLS handshake straight away (PostgreSQL 17). */
export type Negotiation = "postgres" | "direct";

/** Node TLS options, and whether the server's name is checked (verify-full). */
export type TlsOptions = ConnectionOptions & { verifyHost: boolean };

/** Node TLS options for the keywords: CA, client certificate, CRL, SNI, versions. */
export function tlsOptions(conninfo: Conninfo, env: Env): TlsOptions {
  const mode = sslMode(conninfo);
  const read = (keyword: string, file: string) => {
    try {
      return readFileSync(file);
    } catch (error) {
      refuse(
        `cannot read ${keyword} file ${shown(file)}: ${errorMessage(error).replace(/^.*?: /, "")}`,
      );
    }
  };
  const options: TlsOptions = {
    verifyHost: mode === "verify-full",
    minVersion: (conninfo.ssl_min_protocol_version ?? "TLSv1.2") as ConnectionOptions["minVersion"],
    maxVersion: conninfo.ssl_max_protocol_version as ConnectionOptions["maxVersion"],
  };
  if (mode === "disable") return options;
  const rootcert = conninfo.sslrootcert ?? homeFile(env, ".postgresql", "root.crt");
  if (conninfo.sslrootcert === "system") {
    options.rejectUnauthorized = true; // Node's bundled roots
  } else if (conninfo.sslrootcert !== undefined || present(rootcert)) {
    // As libpq: a root certificate, once there, is checked in every mode.
    options.ca = read("sslrootcert", rootcert);
    options.rejectUnauthorized = true;
  } else if (mode === "verify-ca" || mode === "verify-full") {
    refuse(
      `root certificate file "${rootcert}" does not exist: give sslrootcert, use ` +
        `sslrootcert=system for the system's trusted roots, or use sslmode=require`,
    );
  } else {
    options.rejectUnauthorized = false;
  }
  if (conninfo.sslcertmode !== "disable") {
    const cert = conninfo.sslcert ?? homeFile(env, ".postgresql", "postgresql.crt");
    if (conninfo.sslcert !== undefined || present(cert)) {
      options.cert = read("sslcert", cert);
      options.key = read(
        "sslkey",
        conninfo.sslkey ?? homeFile(env, ".postgresql", "postgresql.key"),
      );
      if (conninfo.sslpassword !== undefined) options.passphrase = conninfo.sslpassword;
    }
  }
  if (conninfo.sslcrl !== undefined) options.crl = read("sslcrl", conninfo.sslcrl);
  if (conninfo.sslsni === "0") options.servername = "";
  return options;
}

const SSL_REQUEST = new Uint8Array([0, 0, 0, 8, 0x04, 0xd2, 0x16, 0x2f]);

/** The libpq TLS handshake: SSLRequest, then TLS when the server says "S". */
export async function secure(
  socket: Socket,
  endpoint: Extract<Endpoint, { kind: "tcp" }>,
  mode: SslMode,
  tls: TlsOptions,
  negotiation: Negotiation,
): Promise<Socket | TLSSocket> {
  if (negotiation === "postgres") {
    socket.write(SSL_REQUEST);
    const answer = await new Promise<number>((resolve, reject) => {
      socket.once("data", (data: Uint8Array) => resolve(data[0]));
      socket.once("error", reject);
      socket.once("close", () => reject(new Error("server closed the connection")));
    });
    socket.removeAllListeners();
    if (answer !== 0x53 /* S */) {
      if (mode === "prefer") return socket;
      throw new Error("server does not support SSL, but SSL was required");
    }
  }
  const { verifyHost, ...options } = tls;
  const name = endpoint.tlsName;
  const servername = options.servername === "" || isIP(name) ? undefined : name;
  return await new Promise<TLSSocket>((resolve, reject) => {
    const secured = tlsConnect({
      ...options,
      socket,
      servername,
      ...(negotiation === "direct" ? { ALPNProtocols: ["postgresql"] } : {}),
      // Omitted, Node's own hostname check runs; verify-ca and weaker skip it.
      ...(verifyHost ? {} : { checkServerIdentity: () => undefined }),
      host: name,
    });
    secured.once("secureConnect", () => {
      secured.removeListener("error", reject);
      resolve(secured);
    });
    secured.once("error", reject);
  });
}
