/**
 * libpq's judgement of the server's certificate, written out here rather than
 * left to a runtime: whether its chain ends at a self-signed root from
 * `sslrootcert` (OpenSSL's rule, which Deno's TLS does not keep: it takes any
 * certificate given as a root, an intermediate too), and, for `verify-full`,
 * whether it names the host (`pq_verify_peer_name_matches_certificate` and
 * `pgtls_verify_peer_name_matches_certificate_guts`, never Node's
 * `checkServerIdentity`, which takes partial wildcards such as `db*.example.com`).
 *
 * @module
 */
import { Buffer } from "node:buffer";
import { X509Certificate } from "node:crypto";

/**
 * The certificates of a PEM file (or several), as OpenSSL's
 * `SSL_CTX_load_verify_locations` reads them; a block that does not parse is
 * left out (the TLS handshake refuses such a file anyway).
 *
 * @param pem The file contents.
 */
export function certificatesOf(
  pem: string | Buffer | readonly (string | Buffer)[],
): X509Certificate[] {
  const text = [pem].flat().map((part) => part.toString()).join("\n");
  const found: X509Certificate[] = [];
  for (
    const block of text.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g) ?? []
  ) {
    try {
      found.push(new X509Certificate(block));
    } catch {
      // Not a certificate this runtime can read: it anchors nothing.
    }
  }
  return found;
}

/** Issued by itself and signed by its own key: what OpenSSL accepts as the end of a chain. */
function selfSigned(cert: X509Certificate): boolean {
  return cert.checkIssued(cert) && cert.verify(cert.publicKey);
}

function validAt(cert: X509Certificate, now: Date): boolean {
  return new Date(cert.validFrom) <= now && now <= new Date(cert.validTo);
}

/** Longer chains than this are not followed (OpenSSL's default depth is 100; real ones are short). */
const MAX_DEPTH = 10;

/**
 * Whether the server's chain leads, by valid signatures of valid CA
 * certificates, to a self-signed certificate of `roots`: OpenSSL's rule
 * without `X509_V_FLAG_PARTIAL_CHAIN`, which libpq keeps. An intermediate
 * given as `sslrootcert` anchors nothing unless its own root is there too.
 *
 * @param presented The server's certificates, its own first, as the runtime reports them.
 * @param roots The certificates of `sslrootcert` (or the system's store).
 * @param now The time the certificates must be valid at.
 */
export function chainEndsAtRoot(
  presented: readonly X509Certificate[],
  roots: readonly X509Certificate[],
  now: Date = new Date(),
): boolean {
  const [leaf] = presented;
  if (!leaf) return false;
  const anchors = roots.filter(selfSigned);
  const pool = [...presented.slice(1), ...roots];
  const isAnchor = (cert: X509Certificate) => anchors.some((root) => root.raw.equals(cert.raw));
  const reaches = (cert: X509Certificate, depth: number): boolean => {
    if (isAnchor(cert)) return true;
    if (depth >= MAX_DEPTH) return false;
    return pool.some((issuer) =>
      !issuer.raw.equals(cert.raw) && cert.checkIssued(issuer) && issuer.ca &&
      validAt(issuer, now) && cert.verify(issuer.publicKey) && reaches(issuer, depth + 1)
    );
  };
  return reaches(leaf, 0);
}

/** The names libpq reads from a certificate: its subjectAltName entries of the two kinds it knows, and its first CN. */
export interface CertificateNames {
  /** dNSName and iPAddress entries, in the certificate's order (raw bytes). */
  altNames: ({ kind: "dns"; bytes: Uint8Array } | { kind: "ip"; bytes: Uint8Array })[];
  /** The first commonName of the subject (raw bytes of whichever string type), if any. */
  commonName?: Uint8Array;
}

/** One DER element: its tag, where its contents start, and where it ends. */
interface Element {
  tag: number;
  start: number;
  end: number;
}

function element(der: Uint8Array, at: number): Element {
  const tag = der[at];
  let length = der[at + 1];
  let start = at + 2;
  if (length & 0x80) {
    const bytes = length & 0x7f;
    if (bytes < 1 || bytes > 4) throw new Error("unsupported DER length");
    length = 0;
    for (let i = 0; i < bytes; i++) length = length * 256 + der[start + i];
    start += bytes;
  }
  if (tag === undefined || start + length > der.length) throw new Error("truncated DER");
  return { tag, start, end: start + length };
}

function children(der: Uint8Array, parent: Element): Element[] {
  const list: Element[] = [];
  for (let at = parent.start; at < parent.end;) {
    const child = element(der, at);
    list.push(child);
    at = child.end;
  }
  return list;
}

const OID_SUBJECT_ALT_NAME = [0x55, 0x1d, 0x11]; // 2.5.29.17
const OID_COMMON_NAME = [0x55, 0x04, 0x03]; // 2.5.4.3

function isOid(der: Uint8Array, at: Element, oid: readonly number[]): boolean {
  return at.tag === 0x06 && at.end - at.start === oid.length &&
    oid.every((byte, i) => der[at.start + i] === byte);
}

/**
 * The names of a DER certificate, as OpenSSL hands them to libpq.
 *
 * @param der The certificate (`getPeerCertificate().raw`).
 */
export function certificateNames(der: Uint8Array): CertificateNames {
  const certificate = element(der, 0);
  const tbs = children(der, certificate)[0];
  const fields = children(der, tbs);
  // version [0] is optional; then serial, signature, issuer, validity, subject.
  const rest = fields[0]?.tag === 0xa0 ? fields.slice(1) : fields;
  const subject = rest[4];
  const names: CertificateNames = { altNames: [] };
  for (const rdn of subject ? children(der, subject) : []) {
    for (const pair of children(der, rdn)) {
      const [type, value] = children(der, pair);
      if (names.commonName === undefined && value && isOid(der, type, OID_COMMON_NAME)) {
        names.commonName = der.subarray(value.start, value.end);
      }
    }
  }
  const extensions = rest.find((field) => field.tag === 0xa3);
  const list = extensions ? children(der, extensions)[0] : undefined;
  for (const extension of list ? children(der, list) : []) {
    const parts = children(der, extension);
    if (!isOid(der, parts[0], OID_SUBJECT_ALT_NAME)) continue;
    const value = parts[parts.length - 1];
    const generalNames = element(der, value.start);
    for (const name of children(der, generalNames)) {
      const bytes = der.subarray(name.start, name.end);
      if (name.tag === 0x82) names.altNames.push({ kind: "dns", bytes });
      if (name.tag === 0x87) names.altNames.push({ kind: "ip", bytes });
    }
  }
  return names;
}

/**
 * glibc's `inet_aton`, which libpq uses to tell an IPv4 host (and to compare
 * it): one to four parts, decimal, octal (`0` first) or hex (`0x`), the last
 * filling the bytes left; anything after a blank is ignored.
 *
 * @param text The host as given.
 */
export function inetAton(text: string): Uint8Array | undefined {
  const body = text.split(/[ \t\n\v\f\r]/)[0];
  const parts = body.split(".");
  if (parts.length > 4) return undefined;
  const values: number[] = [];
  for (const part of parts) {
    let value: number;
    if (/^0[xX][0-9a-fA-F]*$/.test(part)) {
      value = part.length === 2 ? 0 : parseInt(part.slice(2), 16);
    } else if (/^0[0-7]*$/.test(part)) value = parseInt(part, 8);
    else if (/^[1-9][0-9]*$/.test(part)) value = parseInt(part, 10);
    else return undefined;
    values.push(value);
  }
  const last = values.pop()!;
  if (values.some((value) => value > 0xff) || last >= 2 ** (8 * (4 - values.length))) {
    return undefined;
  }
  const bytes = new Uint8Array(4);
  values.forEach((value, i) => (bytes[i] = value));
  for (let i = 3, rest = last; i >= values.length; i--, rest = Math.floor(rest / 256)) {
    bytes[i] = rest % 256;
  }
  return bytes;
}

/** `inet_pton(AF_INET6)`'s reading of a host, as the canonical text form, or undefined. */
function ipv6(text: string): string | undefined {
  if (!/^[0-9a-fA-F:.]+$/.test(text) || !text.includes(":")) return undefined;
  try {
    return new URL(`http://[${text}]/`).hostname;
  } catch {
    return undefined;
  }
}

function ipv6FromBytes(bytes: Uint8Array): string {
  const groups: string[] = [];
  for (let i = 0; i < 16; i += 2) groups.push(((bytes[i] << 8) | bytes[i + 1]).toString(16));
  return new URL(`http://[${groups.join(":")}]/`).hostname;
}

/** ASCII-only case folding, as `pg_strcasecmp` does it. */
function fold(text: string): string {
  return text.replace(/[A-Z]/g, (letter) => letter.toLowerCase());
}

/** libpq's `wildcard_certificate_match`: only a leading `*.`, matching within one label. */
function wildcardMatches(pattern: string, host: string): boolean {
  if (pattern.length < 3 || !pattern.startsWith("*.")) return false;
  if (pattern.length > host.length) return false;
  const from = host.length - pattern.length;
  if (fold(pattern.slice(1)) !== fold(host.slice(from + 1))) return false;
  return host.indexOf(".") >= from;
}

/** 1 match, 0 no match, or why the certificate cannot be checked (libpq's -1). */
type Verdict = { rc: 0 | 1; shown: string } | { rc: -1; why: string };

function nameVerdict(bytes: Uint8Array, host: string): Verdict {
  if (bytes.includes(0)) return { rc: -1, why: "SSL certificate's name contains embedded null" };
  const name = Buffer.from(bytes).toString("latin1");
  const matches = fold(name) === fold(host) || wildcardMatches(name, host);
  return { rc: matches ? 1 : 0, shown: name };
}

function addressVerdict(bytes: Uint8Array, host: string): Verdict {
  if (bytes.length === 4) {
    const address = inetAton(host);
    const matches = address !== undefined && address.every((byte, i) => byte === bytes[i]);
    return { rc: matches ? 1 : 0, shown: bytes.join(".") };
  }
  if (bytes.length === 16) {
    const shown = ipv6FromBytes(bytes);
    return { rc: ipv6(host) === shown ? 1 : 0, shown };
  }
  return { rc: -1, why: `certificate contains IP address with invalid length ${bytes.length}` };
}

/**
 * Why the certificate does not name `host` by libpq's rules, or undefined
 * when it does. `host` is the `host` keyword's entry (never `hostaddr`: an
 * address given only as `hostaddr` cannot be verified). A host that
 * `inet_aton` or `inet_pton` reads as an address is matched against iPAddress
 * entries, a name against dNSName entries (a `*.` wildcard standing for one
 * label); the CN counts only when no entry of the host's kind is there.
 * Comparisons ignore ASCII case.
 *
 * @param der The server's certificate.
 * @param host The `host` entry the connection was made for.
 */
export function hostMismatch(der: Uint8Array, host: string): string | undefined {
  if (host === "") return "host name must be specified for a verified SSL connection";
  let names: CertificateNames;
  try {
    names = certificateNames(der);
  } catch {
    return "could not get server's host name from server certificate";
  }
  // libpq compares bytes: a non-ASCII host is compared as its UTF-8.
  const hostBytes = Buffer.from(host, "utf8").toString("latin1");
  const hostKind = inetAton(host) || ipv6(host) ? "ip" : "dns";
  let checkCommonName = true;
  let examined = 0;
  let first: string | undefined;
  let verdict: Verdict = { rc: 0, shown: "" };
  for (const name of names.altNames) {
    if (name.kind === hostKind) checkCommonName = false;
    examined++;
    verdict = name.kind === "dns"
      ? nameVerdict(name.bytes, hostBytes)
      : addressVerdict(name.bytes, host);
    if (verdict.rc !== -1) first ??= verdict.shown;
    if (verdict.rc !== 0) {
      checkCommonName = false;
      break;
    }
  }
  if (checkCommonName && names.commonName !== undefined) {
    examined++;
    verdict = nameVerdict(names.commonName, hostBytes);
    if (verdict.rc !== -1) first ??= verdict.shown;
  }
  if (verdict.rc === 1) return undefined;
  if (verdict.rc === -1) return verdict.why;
  if (examined === 0 || first === undefined) {
    return "could not get server's host name from server certificate";
  }
  const others = examined - 1;
  return `server certificate for "${first}"${
    others > 0 ? ` (and ${others} other name${others === 1 ? "" : "s"})` : ""
  } does not match host name "${host}"`;
}
