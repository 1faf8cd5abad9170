/**
 * SCRAM-SHA-256 and SCRAM-SHA-256-PLUS (RFC 5802, RFC 7677) as libpq's
 * fe-auth-scram.c speaks them, with `tls-server-end-point` channel binding
 * (RFC 5929) and libpq's `channel_binding` rules from fe-auth.c. Every
 * refusal is libpq's own line.
 *
 * @module
 */
import { Buffer } from "node:buffer";
import { createHash, createHmac, pbkdf2, randomBytes, timingSafeEqual } from "node:crypto";
import { InviteCodeError } from "../errors.ts";
import { scramPassword } from "./saslprep.ts";

/** libpq's `channel_binding` values. */
export type ChannelBinding = "disable" | "prefer" | "require";

export const SCRAM = "SCRAM-SHA-256";
export const SCRAM_PLUS = "SCRAM-SHA-256-PLUS";
export type Mechanism = typeof SCRAM | typeof SCRAM_PLUS;

/** libpq's words for each refusal, written once. */
export const SCRAM_ERRORS = {
  requiredWithoutTls: "channel binding required, but SSL not in use",
  duplicate: "duplicate SASL authentication request",
  plusWithoutTls: "server offered SCRAM-SHA-256-PLUS authentication over a non-SSL connection",
  noMechanism: "none of the server's SASL authentication mechanisms are supported",
  bindingNotOffered:
    "channel binding is required, but server did not offer an authentication method that supports channel binding",
  nonceMismatch: "invalid SCRAM response (nonce mismatch)",
  badSalt: "malformed SCRAM message (invalid salt)",
  badIterations: "malformed SCRAM message (invalid iteration count)",
  garbageFirst: "malformed SCRAM message (garbage at end of server-first-message)",
  garbageFinal: "malformed SCRAM message (garbage at end of server-final-message)",
  badSignature: "malformed SCRAM message (invalid server signature)",
  wrongSignature: "incorrect server signature",
  serverError: (why: string) => `error received from server in SCRAM exchange: ${why}`,
  attribute: (name: string) => `malformed SCRAM message (attribute "${name}" expected)`,
  noSignatureAlgorithm: "could not determine server certificate signature algorithm",
  noDigest: (name: string) => `could not find digest for NID ${name}`,
} as const;

function fail(message: string): never {
  throw new InviteCodeError("connect", message);
}

/**
 * The mechanism libpq's `pg_SASL_init` picks from the server's list: PLUS
 * when TLS is up and binding is not disabled; a server offering PLUS
 * without TLS is refused (a proxy may have stripped TLS); `require` takes
 * nothing but PLUS, and nothing at all without TLS.
 *
 * @example
 * ```ts
 * chooseMechanism([SCRAM_PLUS, SCRAM], true, "prefer"); // "SCRAM-SHA-256-PLUS"
 * chooseMechanism([SCRAM], true, "prefer"); // "SCRAM-SHA-256"
 * ```
 * @param offered The mechanisms in the AuthenticationSASL message.
 * @param tls Whether the connection is encrypted.
 * @param binding The `channel_binding` in force.
 */
export function chooseMechanism(
  offered: readonly string[],
  tls: boolean,
  binding: ChannelBinding,
): Mechanism {
  if (binding === "require" && !tls) fail(SCRAM_ERRORS.requiredWithoutTls);
  let chosen: Mechanism | undefined;
  for (const mechanism of offered) {
    if (mechanism === SCRAM_PLUS) {
      if (!tls) fail(SCRAM_ERRORS.plusWithoutTls);
      if (binding !== "disable") chosen = SCRAM_PLUS;
    } else if (mechanism === SCRAM && chosen === undefined) {
      chosen = SCRAM;
    }
  }
  if (chosen === undefined) fail(SCRAM_ERRORS.noMechanism);
  if (binding === "require" && chosen !== SCRAM_PLUS) fail(SCRAM_ERRORS.bindingNotOffered);
  return chosen;
}

/**
 * The GS2 header (RFC 5802): `p=tls-server-end-point` for PLUS; `y` when
 * TLS is up and binding allowed, but the server did not offer it (a server
 * that could bind then knows a downgrade happened); `n` otherwise.
 *
 * @param mechanism The chosen mechanism.
 * @param tls Whether the connection is encrypted.
 * @param binding The `channel_binding` in force.
 */
export function gs2Header(mechanism: Mechanism, tls: boolean, binding: ChannelBinding): string {
  if (mechanism === SCRAM_PLUS) return "p=tls-server-end-point,,";
  return tls && binding !== "disable" ? "y,," : "n,,";
}

/**
 * Signature algorithm OIDs and their hash, as OpenSSL's
 * `X509_get_signature_info` reports them; null where there is no digest
 * (EdDSA), which libpq refuses.
 */
const SIGNATURE_HASHES: Record<string, { name: string; hash: string | null }> = {
  "1.2.840.113549.1.1.4": { name: "RSA-MD5", hash: "md5" },
  "1.2.840.113549.1.1.5": { name: "RSA-SHA1", hash: "sha1" },
  "1.2.840.113549.1.1.14": { name: "RSA-SHA224", hash: "sha224" },
  "1.2.840.113549.1.1.11": { name: "RSA-SHA256", hash: "sha256" },
  "1.2.840.113549.1.1.12": { name: "RSA-SHA384", hash: "sha384" },
  "1.2.840.113549.1.1.13": { name: "RSA-SHA512", hash: "sha512" },

  "1.2.840.10045.4.1": { name: "ecdsa-with-SHA1", hash: "sha1" },
  "1.2.840.10045.4.3.1": { name: "ecdsa-with-SHA224", hash: "sha224" },
  "1.2.840.10045.4.3.2": { name: "ecdsa-with-SHA256", hash: "sha256" },
  "1.2.840.10045.4.3.3": { name: "ecdsa-with-SHA384", hash: "sha384" },
  "1.2.840.10045.4.3.4": { name: "ecdsa-with-SHA512", hash: "sha512" },
  "1.2.840.10040.4.3": { name: "DSA-SHA1", hash: "sha1" },
  "2.16.840.1.101.3.4.3.1": { name: "dsa_with_SHA224", hash: "sha224" },
  "2.16.840.1.101.3.4.3.2": { name: "dsa_with_SHA256", hash: "sha256" },
  // EdDSA signs without a separate digest: OpenSSL reports NID_undef.
  "1.3.101.112": { name: "UNDEF", hash: null },
  "1.3.101.113": { name: "UNDEF", hash: null },
};

/** RSASSA-PSS: the hash is in its parameters (RFC 4055), SHA-1 when absent. */
const RSASSA_PSS = "1.2.840.113549.1.1.10";
const DIGESTS: Record<string, string> = {
  "1.3.14.3.2.26": "sha1",
  "2.16.840.1.101.3.4.2.4": "sha224",
  "2.16.840.1.101.3.4.2.1": "sha256",
  "2.16.840.1.101.3.4.2.2": "sha384",
  "2.16.840.1.101.3.4.2.3": "sha512",
};

/** One DER element: where its contents start and end. */
function derElement(der: Uint8Array, at: number): { tag: number; start: number; end: number } {
  if (at + 2 > der.length) fail(SCRAM_ERRORS.noSignatureAlgorithm);
  const tag = der[at];
  let length = der[at + 1];
  let start = at + 2;
  if (length & 0x80) {
    const bytes = length & 0x7f;
    if (bytes === 0 || bytes > 4 || start + bytes > der.length) {
      fail(SCRAM_ERRORS.noSignatureAlgorithm);
    }
    length = 0;
    for (let i = 0; i < bytes; i++) length = length * 256 + der[start + i];
    start += bytes;
  }
  if (start + length > der.length) fail(SCRAM_ERRORS.noSignatureAlgorithm);
  return { tag, start, end: start + length };
}

/** The dotted form of the OID whose element starts at `at`. */
function oidAt(der: Uint8Array, at: number): { oid: string; end: number } {
  const element = derElement(der, at);
  if (element.tag !== 0x06) fail(SCRAM_ERRORS.noSignatureAlgorithm);
  const bytes = der.subarray(element.start, element.end);
  const parts: number[] = [];
  let value = 0;
  for (const byte of bytes) {
    value = value * 128 + (byte & 0x7f);
    if (!(byte & 0x80)) {
      parts.push(value);
      value = 0;
    }
  }
  if (parts.length === 0) fail(SCRAM_ERRORS.noSignatureAlgorithm);
  const first = Math.min(2, Math.floor(parts[0] / 40));
  return { oid: [first, parts[0] - first * 40, ...parts.slice(1)].join("."), end: element.end };
}

/**
 * The certificate's signature algorithm OID, dotted, and where its
 * parameters start: `Certificate ::= SEQUENCE { tbsCertificate,
 * signatureAlgorithm AlgorithmIdentifier, ... }`.
 *
 * @param der The certificate, DER-encoded.
 */
export function signatureAlgorithm(der: Uint8Array): { oid: string; params: Uint8Array } {
  const certificate = derElement(der, 0);
  const tbs = derElement(der, certificate.start);
  const algorithm = derElement(der, tbs.end);
  if (certificate.tag !== 0x30 || algorithm.tag !== 0x30) fail(SCRAM_ERRORS.noSignatureAlgorithm);
  const { oid, end } = oidAt(der, algorithm.start);
  return { oid, params: der.subarray(end, algorithm.end) };
}

/** The hash named by RSASSA-PSS parameters: `[0] hashAlgorithm`, SHA-1 by default. */
function pssHash(params: Uint8Array): string {
  if (params.length === 0) return "sha1";
  const sequence = derElement(params, 0);
  if (sequence.tag !== 0x30) fail(SCRAM_ERRORS.noSignatureAlgorithm);
  if (sequence.start === sequence.end) return "sha1";
  const first = derElement(params, sequence.start);
  if (first.tag !== 0xa0) return "sha1";
  const hashAlgorithm = derElement(params, first.start);
  const { oid } = oidAt(params, hashAlgorithm.start);
  return DIGESTS[oid] ?? fail(SCRAM_ERRORS.noSignatureAlgorithm);
}

/**
 * The hash `tls-server-end-point` takes for this certificate (RFC 5929
 * section 4.1): its signature algorithm's, except MD5 and SHA-1, which
 * become SHA-256.
 *
 * @example
 * ```ts
 * declare const sha384SignedCertificate: Uint8Array; // DER, signed with ecdsa-with-SHA384
 * endPointHash(sha384SignedCertificate); // "sha384"
 * ```
 * @param der The server certificate, DER-encoded.
 */
export function endPointHash(der: Uint8Array): string {
  const { oid, params } = signatureAlgorithm(der);
  // libpq asks OpenSSL's X509_get_signature_info, which reads PSS parameters.
  const known = oid === RSASSA_PSS
    ? { name: "RSASSA-PSS", hash: pssHash(params) }
    : SIGNATURE_HASHES[oid];
  if (!known) fail(SCRAM_ERRORS.noSignatureAlgorithm);
  if (known.hash === null) fail(SCRAM_ERRORS.noDigest(known.name));
  return known.hash === "md5" || known.hash === "sha1" ? "sha256" : known.hash;
}

/**
 * The `tls-server-end-point` channel binding data: the certificate's hash.
 *
 * @param der The server certificate, DER-encoded.
 */
export function serverEndPoint(der: Uint8Array): Buffer {
  return createHash(endPointHash(der)).update(der).digest();
}

/** The client's side of one SCRAM exchange. */
export interface ScramExchange {
  mechanism: Mechanism;
  /** client-first-message. */
  first: string;
  /** client-final-message for the server-first-message; checks the server's nonce. */
  final(serverFirst: string): Promise<string>;
  /** Checks server-final-message's signature; throws unless it is the server's. */
  verify(serverFinal: string): void;
  /** Whether the server's signature was verified. */
  readonly done: boolean;
}

/** libpq's read_attr_value: `<name>=<value>` up to the next comma. */
function readAttribute(input: { rest: string }, name: string): string {
  if (!input.rest.startsWith(`${name}=`)) fail(SCRAM_ERRORS.attribute(name));
  const comma = input.rest.indexOf(",");
  const value = input.rest.slice(2, comma === -1 ? undefined : comma);
  input.rest = comma === -1 ? "" : input.rest.slice(comma + 1);
  return value;
}

const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

function hmac(key: Uint8Array, text: string): Buffer {
  return createHmac("sha256", key).update(text).digest();
}

function saltedPassword(password: string, salt: Buffer, iterations: number): Promise<Buffer> {
  return new Promise((resolve, reject) =>
    pbkdf2(password, salt, iterations, 32, "sha256", (error, key) => {
      if (error) reject(error);
      else resolve(key);
    })
  );
}

/**
 * Start a SCRAM exchange as libpq does: an 18-byte random nonce, no user
 * name (the server takes the startup packet's), the password SASLprepped.
 *
 * @param mechanism The chosen mechanism.
 * @param password The password.
 * @param header From `gs2Header`.
 * @param binding For PLUS: the `tls-server-end-point` data.
 * @param fixed The client nonce and user name, which tests fix (RFC 7677's example).
 */
export function scramExchange(
  mechanism: Mechanism,
  password: string,
  header: string,
  binding: Uint8Array | null,
  fixed: { nonce?: string; user?: string } = {},
): ScramExchange {
  const nonce = fixed.nonce ?? randomBytes(18).toString("base64");
  const firstBare = `n=${fixed.user ?? ""},r=${nonce}`;
  let expectedSignature: Buffer | undefined;
  let done = false;
  return {
    mechanism,
    first: `${header}${firstBare}`,
    async final(serverFirst) {
      const input = { rest: serverFirst };
      const serverNonce = readAttribute(input, "r");
      // The server must extend the client's nonce, never replace it.
      if (serverNonce.length < nonce.length || !serverNonce.startsWith(nonce)) {
        fail(SCRAM_ERRORS.nonceMismatch);
      }
      const salt = readAttribute(input, "s");
      if (!BASE64.test(salt) || salt === "") fail(SCRAM_ERRORS.badSalt);
      const rawIterations = readAttribute(input, "i");
      const iterations = /^[+-]?\d+$/.test(rawIterations) ? Number(rawIterations) : NaN;
      if (!(iterations >= 1 && iterations <= 2 ** 31 - 1)) fail(SCRAM_ERRORS.badIterations);
      if (input.rest !== "") fail(SCRAM_ERRORS.garbageFirst);
      const channel = Buffer.concat([Buffer.from(header), binding ?? new Uint8Array()]);
      const finalBare = `c=${channel.toString("base64")},r=${serverNonce}`;
      const authMessage = `${firstBare},${serverFirst},${finalBare}`;
      const salted = await saltedPassword(
        scramPassword(password),
        Buffer.from(salt, "base64"),
        iterations,
      );
      const clientKey = hmac(salted, "Client Key");
      const storedKey = createHash("sha256").update(clientKey).digest();
      const signature = hmac(storedKey, authMessage);
      const proof = Buffer.from(clientKey.map((byte, i) => byte ^ signature[i]));
      expectedSignature = hmac(hmac(salted, "Server Key"), authMessage);
      return `${finalBare},p=${proof.toString("base64")}`;
    },
    verify(serverFinal) {
      const input = { rest: serverFinal };
      if (serverFinal.startsWith("e=")) fail(SCRAM_ERRORS.serverError(readAttribute(input, "e")));
      const encoded = readAttribute(input, "v");
      if (input.rest !== "") fail(SCRAM_ERRORS.garbageFinal);
      const signature = Buffer.from(encoded, "base64");
      if (!BASE64.test(encoded) || signature.length !== 32) fail(SCRAM_ERRORS.badSignature);
      if (expectedSignature === undefined || !timingSafeEqual(signature, expectedSignature)) {
        fail(SCRAM_ERRORS.wrongSignature);
      }
      done = true;
    },
    get done() {
      return done;
    },
  };
}
