/**
 * TLS the libpq way: the options the `ssl*` keywords ask for (root
 * certificate, revocation lists, client certificate and key, SNI, protocol
 * versions), read from their files before any connection as libpq's
 * `initialize_SSL()` reads them, and the handshake itself (an SSLRequest, or
 * direct TLS with ALPN).
 *
 * @module
 */
import type { Buffer } from "node:buffer";
import { createPrivateKey, X509Certificate } from "node:crypto";
import { readdirSync } from "node:fs";
import type { Socket } from "node:net";
import { join } from "node:path";
import {
  connect as tlsConnect,
  type ConnectionOptions,
  type DetailedPeerCertificate,
  type TLSSocket,
} from "node:tls";
import { errorMessage, InviteCodeError } from "../errors.ts";
import { RUNTIME, TLS_CHECKS_REVOCATION } from "../runtime.ts";
import { certificatesOf, chainEndsAtRoot, hostMismatch } from "./certificate.ts";
import {
  type Conninfo,
  DEFAULT_MIN_TLS_VERSION,
  type Endpoint,
  type Negotiation,
  type PostgresTarget,
  refuse,
  type SslMode,
  type TlsOptions,
  type TlsSettings,
} from "./conninfo.ts";
import type { Env } from "./environment.ts";
import { homeFile, look, present, readFor } from "./files.ts";

/**
 * The codes of a connection attempt that failed before its session began,
 * written once: decisions compare these, never a message. The server's own
 * refusals carry their SQLSTATE instead (`startup.ts`).
 */
export const CONNECT_FAILURE = {
  /** The server answered the SSLRequest with "N" where TLS was required: libpq gives up. */
  NO_TLS: "CONNECT_NO_TLS",
  /** The server took the socket and hung up before it said anything. */
  SERVER_CLOSED: "CONNECT_SERVER_CLOSED",
  /** The server's certificate or ALPN is not one libpq would accept. */
  TLS_REFUSED: "CONNECT_TLS_REFUSED",
  /** A host did not answer within connect_timeout (or the deadline). */
  TIMEOUT: "CONNECT_TIMEOUT_EXPIRED",
  /** Every host was tried and none would do. */
  EXHAUSTED: "CONNECT_EXHAUSTED",
  /** A host failed in a way libpq does not move on from. */
  FAILED: "CONNECT_FAILED",
} as const;

/**
 * A failed attempt's error, with its code.
 *
 * @param code One of `CONNECT_FAILURE`.
 * @param message libpq's words where it has them.
 * @param cause What the runtime raised, if anything.
 */
export function connectFailure(
  code: typeof CONNECT_FAILURE[keyof typeof CONNECT_FAILURE],
  message: string,
  cause?: unknown,
): InviteCodeError {
  return new InviteCodeError("connect", message, { code, cause });
}

/**
 * The target with its TLS files read, once, as libpq's `initialize_SSL()`
 * reads them; a file libpq would refuse is kept as the refusal, raised when
 * the target is opened (libpq, too, says so when it connects).
 *
 * @example
 * ```ts
 * import type { PostgresTarget } from "./conninfo.ts";
 * declare const target: PostgresTarget; // with its passwords (withPasswords)
 * withTls(target, process.env).connection.tls; // { options: { ca: [...], ... } }
 * ```
 * @param target The target with its passwords.
 * @param env Where `HOME` and OpenSSL's `SSL_CERT_FILE` / `SSL_CERT_DIR` come from.
 */
export function withTls(target: PostgresTarget, env: Env): PostgresTarget {
  let tls: TlsSettings;
  try {
    tls = { options: tlsOptions(target.conninfo, target.connection.sslmode, env) };
  } catch (error) {
    if (!(error instanceof InviteCodeError)) throw error;
    tls = { refused: error };
  }
  return { ...target, connection: { ...target.connection, tls } };
}

/** The ALPN protocol PostgreSQL 17 servers speak on a direct TLS connection. */
const ALPN_PROTOCOL = "postgresql";

/**
 * Node TLS options for the keywords.
 *
 * @example
 * ```ts
 * tlsOptions({ sslrootcert: "/etc/ssl/db-ca.pem" }, "verify-full", process.env);
 * ```
 * @param conninfo The keywords.
 * @param mode The sslmode in force (`sslMode`, computed once at resolve).
 * @param env Where `HOME` and OpenSSL's `SSL_CERT_FILE` / `SSL_CERT_DIR` come from.
 */
export function tlsOptions(conninfo: Conninfo, mode: SslMode, env: Env): TlsOptions {
  const options: TlsOptions = {
    verifyHost: mode === "verify-full",
    sni: (conninfo.sslsni ?? "1").startsWith("1"),
    minVersion: (conninfo.ssl_min_protocol_version ??
      DEFAULT_MIN_TLS_VERSION) as ConnectionOptions["minVersion"],
    maxVersion: conninfo.ssl_max_protocol_version as ConnectionOptions["maxVersion"],
  };
  if (mode === "disable") return options;
  const rootcert = conninfo.sslrootcert || homeFile(env, ".postgresql", "root.crt");
  if (rootcert === "system") {
    options.ca = systemRoots(env);
    options.roots = certificatesOf(options.ca);
    options.rejectUnauthorized = true;
  } else if (present("sslrootcert", rootcert)) {
    // As libpq: a root certificate, once there, is checked in every mode.
    options.ca = readFor("sslrootcert", rootcert);
    options.roots = certificatesOf(options.ca);
    options.rejectUnauthorized = true;
    const crl = revocationLists(conninfo, env);
    if (crl.length > 0) {
      if (!TLS_CHECKS_REVOCATION) {
        refuse(
          `${conninfo.sslcrldir ? "sslcrldir" : "sslcrl"}: ${RUNTIME}'s TLS cannot check ` +
            `certificate revocation lists, and libpq would: set INVITE_CODE_RUNTIME=node`,
        );
      }
      options.crl = crl;
    }
  } else if (mode === "verify-ca" || mode === "verify-full") {
    refuse(
      `root certificate file "${rootcert}" does not exist: provide the file, use the system's ` +
        `trusted roots with sslrootcert=system, or change sslmode to disable server ` +
        `certificate verification`,
    );
  } else {
    options.rejectUnauthorized = false;
  }
  if (conninfo.sslcertmode !== "disable") {
    const cert = conninfo.sslcert || homeFile(env, ".postgresql", "postgresql.crt");
    const looked = look("sslcert", cert);
    if (looked.stats) {
      options.cert = readFor("sslcert", cert);
      options.key = clientKey(conninfo, env);
    } else if (looked.code !== "ENOENT" && looked.code !== "ENOTDIR") {
      // Only a file that is not there lets libpq go on without a certificate.
      refuse(`could not open certificate file "${cert}": ${looked.code}`);
    }
  }
  return options;
}

/**
 * The client's private key, decrypted here so that a wrong or missing
 * `sslpassword` is an error on every runtime (Deno's TLS silently sends no
 * certificate instead), after libpq's checks of the file.
 */
function clientKey(conninfo: Conninfo, env: Env): string {
  const path = conninfo.sslkey || homeFile(env, ".postgresql", "postgresql.key");
  const { stats, code } = look("sslkey", path);
  if (!stats) {
    refuse(
      code === "ENOENT"
        ? `certificate present, but not private key file "${path}"`
        : `could not stat private key file "${path}": ${code}`,
    );
  }
  if (!stats.isFile()) refuse(`private key file "${path}" is not a regular file`);
  // libpq: 0600 or less, or 0640 or less when root owns the file.
  if ((stats.uid === 0 ? stats.mode & 0o037 : stats.mode & 0o077) !== 0) {
    refuse(
      `private key file "${path}" has group or world access; file must have permissions ` +
        `u=rw (0600) or less if owned by the current user, or permissions u=rw,g=r (0640) or ` +
        `less if owned by root`,
    );
  }
  const pem = readFor("sslkey", path);
  try {
    return createPrivateKey({
      key: pem,
      format: "pem",
      passphrase: conninfo.sslpassword ?? "",
    }).export({ format: "pem", type: "pkcs8" }) as string;
  } catch (error) {
    const why = isBadDecrypt(error, pem)
      ? conninfo.sslpassword
        ? "bad decrypt (wrong sslpassword)"
        : "it is encrypted: give sslpassword"
      : errorMessage(error);
    refuse(`could not load private key file "${path}": ${why}`);
  }
}

/**
 * Whether a key failed to load for its passphrase (wrong, or none given).
 * Node says so with OpenSSL's code, and so does Deno for a PKCS#1 key
 * (`ERR_OSSL_EVP_BAD_DECRYPT`); Deno 2 gives an encrypted PKCS#8 key's error
 * no code at all, so there, and only without a code, the key itself decides:
 * an encrypted key that would not load was not decrypted.
 */
function isBadDecrypt(error: unknown, pem: Buffer | string): boolean {
  const code = (error as { code?: unknown })?.code;
  if (typeof code === "string") return BAD_DECRYPT_CODES.includes(code);
  return isEncryptedKey(String(pem));
}

const BAD_DECRYPT_CODES = ["ERR_OSSL_BAD_DECRYPT", "ERR_OSSL_EVP_BAD_DECRYPT"];

/** A PEM key under a passphrase: PKCS#8's own label, or the legacy PKCS#1 header. */
function isEncryptedKey(pem: string): boolean {
  return /^-----BEGIN ENCRYPTED PRIVATE KEY-----$/m.test(pem) ||
    /^Proc-Type: 4,ENCRYPTED$/m.test(pem);
}

/**
 * The revocation lists libpq would load with the root certificate: `sslcrl`
 * and the files of `sslcrldir`, else `~/.postgresql/root.crl`. A list that is
 * not there is no list, as for libpq.
 */
function revocationLists(conninfo: Conninfo, env: Env): Buffer[] {
  const file = conninfo.sslcrl ||
    (conninfo.sslcrldir ? undefined : homeFile(env, ".postgresql", "root.crl"));
  const lists: Buffer[] = [];
  if (file && present("sslcrl", file)) lists.push(readFor("sslcrl", file));
  const dir = conninfo.sslcrldir;
  if (dir && present("sslcrldir", dir)) {
    // OpenSSL looks lists up in a hashed folder by their issuer's hash: <hash>.r<n>.
    for (const name of readdirSync(dir).sort()) {
      if (/^[0-9a-f]{8}\.r\d+$/.test(name)) lists.push(readFor("sslcrldir", join(dir, name)));
    }
  }
  return lists;
}

/**
 * `sslrootcert=system`: the roots OpenSSL would load, the way libpq asks for
 * them (`SSL_CTX_set_default_verify_paths`): `SSL_CERT_FILE` and the hashed
 * folders of `SSL_CERT_DIR`, else the system's bundle and folder. Never the
 * roots a runtime bundles.
 */
function systemRoots(env: Env): Buffer[] {
  const roots: Buffer[] = [];
  const file = env.SSL_CERT_FILE ?? SYSTEM_BUNDLES.find((path) => present("sslrootcert", path));
  if (file && present("sslrootcert", file)) roots.push(readFor("sslrootcert", file));
  for (const dir of (env.SSL_CERT_DIR ?? SYSTEM_CERT_DIR).split(":")) {
    if (!dir || !present("sslrootcert", dir)) continue;
    for (const name of readdirSync(dir).sort()) {
      if (/^[0-9a-f]{8}\.\d+$/.test(name)) roots.push(readFor("sslrootcert", join(dir, name)));
    }
  }
  if (roots.length === 0) {
    refuse("sslrootcert=system: no system root certificates found (SSL_CERT_FILE, SSL_CERT_DIR)");
  }
  return roots;
}

/** OpenSSL's default bundle, as Debian (OPENSSLDIR /usr/lib/ssl) and others place it. */
const SYSTEM_BUNDLES = [
  "/usr/lib/ssl/cert.pem",
  "/etc/ssl/certs/ca-certificates.crt",
  "/etc/pki/tls/certs/ca-bundle.crt",
  "/etc/ssl/cert.pem",
];
const SYSTEM_CERT_DIR = "/usr/lib/ssl/certs";

const SSL_REQUEST = new Uint8Array([0, 0, 0, 8, 0x04, 0xd2, 0x16, 0x2f]);

/**
 * The libpq TLS handshake: an SSLRequest, then TLS when the server says "S";
 * or, with `direct`, TLS straight away, which must agree on ALPN.
 *
 * @param socket A connected TCP socket.
 * @param endpoint Where it is connected (the name to verify and send as SNI).
 * @param mode The sslmode in force.
 * @param tls The options from `tlsOptions`.
 * @param negotiation How TLS starts.
 */
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
      socket.once(
        "close",
        () => reject(connectFailure(CONNECT_FAILURE.SERVER_CLOSED, "server closed the connection")),
      );
    });
    socket.removeAllListeners();
    if (answer !== 0x53 /* S */) {
      if (mode === "prefer") return socket;
      throw connectFailure(
        CONNECT_FAILURE.NO_TLS,
        "server does not support SSL, but SSL was required",
      );
    }
  }
  const { verifyHost, sni, roots, ...options } = tls;
  // libpq's SNI: the host entry, unless it is all digits and dots or holds a ":".
  const host = endpoint.host;
  const servername = sni && host !== "" && !/^[0-9.]*$/.test(host) && !host.includes(":")
    ? host
    : undefined;
  const secured = await new Promise<TLSSocket>((resolve, reject) => {
    const secured = tlsConnect({
      ...options,
      socket,
      // false, not undefined: Deno otherwise sends the socket's host name as SNI.
      servername: servername ?? (false as unknown as string),
      ...(negotiation === "direct" ? { ALPNProtocols: [ALPN_PROTOCOL] } : {}),
      // The name is checked below, by libpq's rules.
      checkServerIdentity: () => undefined,
    });
    secured.once("secureConnect", () => {
      secured.removeListener("error", reject);
      resolve(secured);
    });
    secured.once("error", reject);
  });
  const refusal = certificateRefusal(secured, roots, verifyHost ? host : undefined);
  if (refusal) {
    secured.destroy();
    throw connectFailure(CONNECT_FAILURE.TLS_REFUSED, refusal);
  }
  // The ALPACA defence (libpq 17): a direct peer that does not speak
  // PostgreSQL's ALPN may be another TLS service; it gets no startup packet.
  if (negotiation === "direct" && secured.alpnProtocol !== ALPN_PROTOCOL) {
    secured.destroy();
    throw connectFailure(
      CONNECT_FAILURE.TLS_REFUSED,
      secured.alpnProtocol
        ? "SSL connection was established with unexpected ALPN protocol"
        : "direct SSL connection was established without ALPN protocol negotiation extension",
    );
  }
  return secured;
}

/**
 * Why libpq would refuse the server's certificate after the runtime accepted
 * it: a chain that does not end at a self-signed root of `roots` (Deno takes
 * an intermediate as a root), or, with `host` (verify-full), a certificate
 * that does not name it by libpq's rules.
 */
function certificateRefusal(
  secured: TLSSocket,
  roots: readonly X509Certificate[] | undefined,
  host: string | undefined,
): string | undefined {
  // The server's own certificate first, then the issuers the runtime found for it.
  const presented: X509Certificate[] = [];
  let cert: DetailedPeerCertificate | undefined = secured.getPeerCertificate(true);
  while (cert?.raw && !presented.some((seen) => seen.raw.equals(cert!.raw))) {
    presented.push(new X509Certificate(cert.raw));
    cert = cert.issuerCertificate;
  }
  if (roots && !chainEndsAtRoot(presented, roots)) {
    return "SSL error: certificate verify failed: the server's chain does not end at a " +
      "self-signed root certificate of sslrootcert (unable to get issuer certificate)";
  }
  const leaf = presented[0];
  if (host === undefined) return undefined;
  if (!leaf) return "certificate could not be obtained";
  return hostMismatch(leaf.raw, host);
}
