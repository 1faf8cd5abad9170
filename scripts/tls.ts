/**
 * A throwaway certificate authority for TLS tests, made with Debian's
 * `openssl ca`: a CA and its revocation list, server certificates good and
 * bad (another host name, a DNS name only, expired, revoked), a client
 * certificate (plain key and passphrase-protected key), a second CA that
 * signed nothing here, certificates for libpq's name check (wildcards, CN
 * and subjectAltName), and a chain through an intermediate CA.
 */
import { spawnSync } from "node:child_process";
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

/** A certificate and its key. */
export interface Pair {
  cert: string;
  key: string;
}

/** Paths of the files made, and the client key's passphrase. */
export interface Certificates {
  dir: string;
  ca: string;
  /** The CA's revocation list, naming `revoked`. */
  crl: string;
  /** A folder holding the CRL under OpenSSL's hashed name (`<hash>.r0`), for sslcrldir. */
  crlDir: string;
  /** localhost, 127.0.0.1 and ::1. */
  serverCert: string;
  serverKey: string;
  /** Named other.invalid only. */
  otherName: Pair;
  /** DNS:localhost only: reached by IP, verify-full must refuse it. */
  dnsOnly: Pair;
  /** Valid for localhost and 127.0.0.1, but expired. */
  expired: Pair;
  /** Valid for localhost and 127.0.0.1, but on the CRL. */
  revoked: Pair;
  clientCert: string;
  clientKey: string;
  /** The client key again, encrypted with `passphrase`. */
  clientKeyEncrypted: string;
  passphrase: string;
  /** A second CA that signed nothing here: trusting it must fail. */
  otherCa: string;
  /** For libpq's name check, reached as host=db1.example.com hostaddr=127.0.0.1: DNS:*.example.com. */
  wildcard: Pair;
  /** DNS:db*.example.com: a partial wildcard, which libpq refuses (Node's own check would not). */
  partialWildcard: Pair;
  /** DNS:DB1.Example.COM: names compare ignoring case. */
  mixedCase: Pair;
  /** CN=db1.example.com and no subjectAltName: the CN counts. */
  cnOnly: Pair;
  /** CN=db1.example.com, DNS:other.example.com: a DNS entry hides the CN. */
  dnsSanAndCn: Pair;
  /** CN=db1.example.com, IP:127.0.0.1: an address entry does not hide the CN from a name. */
  cnWithIpSan: Pair;
  /** CN=127.0.0.1, DNS:localhost: reached by address, libpq still reads the CN. */
  cnIp: Pair;
  /** Issued by `intermediateCa` (localhost, 127.0.0.1, ::1); the file holds it and the intermediate. */
  chained: Pair;
  /** A CA issued by `chainRoot`, which issued `chained`: alone it anchors nothing. */
  intermediateCa: string;
  /** The self-signed root above `intermediateCa`. */
  chainRoot: string;
  /** `intermediateCa` and `chainRoot` in one file. */
  chainBundle: string;
}

function openssl(args: string[], cwd: string): string {
  const result = spawnSync("openssl", args, { cwd, encoding: "utf8" });
  if (result.status !== 0) {
    const why = result.error ? String(result.error) : result.stderr.trim().split("\n")[0];
    throw new Error(`openssl ${args[0]} failed: ${why} (apt-get install openssl)`);
  }
  return result.stdout;
}

const CA_CONFIG = `[ca]
default_ca = test_ca
[test_ca]
dir = .
database = index.txt
new_certs_dir = issued
serial = serial
crlnumber = crlnumber
default_md = sha256
default_days = 2
default_crl_days = 2
policy = anything
copy_extensions = none
unique_subject = no
[anything]
commonName = supplied
`;

/**
 * Make the certificates in a new folder.
 *
 * @param clientName The client certificate's CN: the role a `cert` rule maps it to.
 */
export function makeCertificates(clientName: string): Certificates {
  const dir = mkdtempSync(join(tmpdir(), "invite-code-tls-"));
  chmodSync(dir, 0o755);
  mkdirSync(join(dir, "issued"));
  writeFileSync(join(dir, "index.txt"), "");
  writeFileSync(join(dir, "serial"), "1000\n");
  writeFileSync(join(dir, "crlnumber"), "1000\n");
  writeFileSync(join(dir, "ca.cnf"), CA_CONFIG);
  for (const ca of ["ca", "other-ca"]) {
    openssl([
      "req",
      "-x509",
      "-newkey",
      "rsa:2048",
      "-nodes",
      "-keyout",
      `${ca}.key`,
      "-out",
      `${ca}.crt`,
      "-days",
      "2",
      "-subj",
      `/CN=invite-code-repair test ${ca}`,
    ], dir);
  }
  const everywhere = "DNS:localhost,IP:127.0.0.1,IP:::1";
  const issue = (name: string, subject: string, extensions: string, dates?: string[]) => {
    writeFileSync(join(dir, `${name}.ext`), `${extensions}\n`);
    openssl([
      "req",
      "-newkey",
      "rsa:2048",
      "-nodes",
      "-keyout",
      `${name}.key`,
      "-out",
      `${name}.csr`,
      "-subj",
      `/CN=${subject}`,
    ], dir);
    openssl([
      "ca",
      "-batch",
      "-config",
      "ca.cnf",
      "-cert",
      "ca.crt",
      "-keyfile",
      "ca.key",
      "-in",
      `${name}.csr`,
      "-out",
      `${name}.crt`,
      "-notext",
      "-extfile",
      `${name}.ext`,
      ...(dates ?? []),
    ], dir);
    chmodSync(join(dir, `${name}.key`), 0o600);
    return { cert: join(dir, `${name}.crt`), key: join(dir, `${name}.key`) };
  };
  issue("server", "localhost", `subjectAltName=${everywhere}`);
  const otherName = issue("other-name", "other.invalid", "subjectAltName=DNS:other.invalid");
  const dnsOnly = issue("dns-only", "localhost", "subjectAltName=DNS:localhost");
  const expired = issue("expired", "localhost", `subjectAltName=${everywhere}`, [
    "-startdate",
    "20200101000000Z",
    "-enddate",
    "20200102000000Z",
  ]);
  const revoked = issue("revoked", "localhost", `subjectAltName=${everywhere}`);
  issue("client", clientName, "extendedKeyUsage=clientAuth");
  const wildcard = issue("wildcard", "wildcard", "subjectAltName=DNS:*.example.com");
  const partialWildcard = issue(
    "partial-wildcard",
    "partial",
    "subjectAltName=DNS:db*.example.com",
  );
  const mixedCase = issue("mixed-case", "mixed", "subjectAltName=DNS:DB1.Example.COM");
  const cnOnly = issue("cn-only", "db1.example.com", "basicConstraints=CA:FALSE");
  const dnsSanAndCn = issue(
    "dns-san-and-cn",
    "db1.example.com",
    "subjectAltName=DNS:other.example.com",
  );
  const cnWithIpSan = issue("cn-with-ip-san", "db1.example.com", "subjectAltName=IP:127.0.0.1");
  const cnIp = issue("cn-ip", "127.0.0.1", "subjectAltName=DNS:localhost");
  // A root, an intermediate it issued, and a server certificate the intermediate issued.
  const x509 = (name: string, subject: string, issuer: string, extensions: string) => {
    writeFileSync(join(dir, `${name}.ext`), `${extensions}\n`);
    openssl(
      ["req", "-newkey", "rsa:2048", "-nodes", "-keyout", `${name}.key`, "-out", `${name}.csr`]
        .concat(["-subj", `/CN=${subject}`]),
      dir,
    );
    openssl([
      "x509",
      "-req",
      "-in",
      `${name}.csr`,
      "-CA",
      `${issuer}.crt`,
      "-CAkey",
      `${issuer}.key`,
      "-CAcreateserial",
      "-days",
      "2",
      "-out",
      `${name}.crt`,
      "-extfile",
      `${name}.ext`,
    ], dir);
    chmodSync(join(dir, `${name}.key`), 0o600);
  };
  openssl([
    "req",
    "-x509",
    "-newkey",
    "rsa:2048",
    "-nodes",
    "-keyout",
    "chain-root.key",
    "-out",
    "chain-root.crt",
    "-days",
    "2",
    "-subj",
    "/CN=invite-code-repair test chain root",
  ], dir);
  x509(
    "intermediate",
    "invite-code-repair test intermediate",
    "chain-root",
    "basicConstraints=critical,CA:true\nkeyUsage=critical,keyCertSign,cRLSign",
  );
  x509("chained-leaf", "localhost", "intermediate", `subjectAltName=${everywhere}`);
  const pem = (name: string) => readFileSync(join(dir, name), "utf8");
  writeFileSync(join(dir, "chained.crt"), pem("chained-leaf.crt") + pem("intermediate.crt"));
  writeFileSync(join(dir, "chain-bundle.crt"), pem("intermediate.crt") + pem("chain-root.crt"));
  const ca = (...args: string[]) =>
    openssl(["ca", "-config", "ca.cnf", "-cert", "ca.crt", "-keyfile", "ca.key", ...args], dir);
  ca("-revoke", revoked.cert);
  ca("-gencrl", "-out", "ca.crl");
  const crlDir = join(dir, "crls");
  mkdirSync(crlDir);
  const hash = openssl(["crl", "-in", "ca.crl", "-noout", "-hash"], dir).trim();
  openssl(["crl", "-in", "ca.crl", "-out", join(crlDir, `${hash}.r0`)], dir);
  const passphrase = "key-passphrase-Q7#";
  openssl([
    "pkey",
    "-in",
    "client.key",
    "-aes256",
    "-passout",
    `pass:${passphrase}`,
    "-out",
    "client-encrypted.key",
  ], dir);
  chmodSync(join(dir, "client-encrypted.key"), 0o600);
  return {
    dir,
    ca: join(dir, "ca.crt"),
    crl: join(dir, "ca.crl"),
    crlDir,
    serverCert: join(dir, "server.crt"),
    serverKey: join(dir, "server.key"),
    otherName,
    dnsOnly,
    expired,
    revoked,
    clientCert: join(dir, "client.crt"),
    clientKey: join(dir, "client.key"),
    clientKeyEncrypted: join(dir, "client-encrypted.key"),
    passphrase,
    otherCa: join(dir, "other-ca.crt"),
    wildcard,
    partialWildcard,
    mixedCase,
    cnOnly,
    dnsSanAndCn,
    cnWithIpSan,
    cnIp,
    chained: { cert: join(dir, "chained.crt"), key: join(dir, "chained-leaf.key") },
    intermediateCa: join(dir, "intermediate.crt"),
    chainRoot: join(dir, "chain-root.crt"),
    chainBundle: join(dir, "chain-bundle.crt"),
  };
}
