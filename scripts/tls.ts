/**
 * A throwaway certificate authority for TLS tests, made with Debian's
 * `openssl`: a CA, a server certificate for localhost, 127.0.0.1 and ::1,
 * and a client certificate (plain key and passphrase-protected key).
 */
import { spawnSync } from "node:child_process";
import { chmodSync, mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

/** Paths of the files made, and the client key's passphrase. */
export interface Certificates {
  dir: string;
  ca: string;
  serverCert: string;
  serverKey: string;
  clientCert: string;
  clientKey: string;
  /** The client key again, encrypted with `passphrase`. */
  clientKeyEncrypted: string;
  passphrase: string;
  /** A second CA that signed nothing here: trusting it must fail. */
  otherCa: string;
}

function openssl(args: string[], cwd: string): void {
  const result = spawnSync("openssl", args, { cwd, encoding: "utf8" });
  if (result.status !== 0) {
    const why = result.error ? String(result.error) : result.stderr.trim().split("\n")[0];
    throw new Error(`openssl ${args[0]} failed: ${why} (apt-get install openssl)`);
  }
}

/**
 * Make the certificates in a new folder.
 *
 * @param clientName The client certificate's CN: the role a `cert` rule maps it to.
 */
export function makeCertificates(clientName: string): Certificates {
  const dir = mkdtempSync(join(tmpdir(), "invite-code-tls-"));
  chmodSync(dir, 0o755);
  const days = ["-days", "2"];
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
      ...days,
      "-subj",
      `/CN=invite-code-repair test ${ca}`,
    ], dir);
  }
  writeFileSync(
    join(dir, "server.ext"),
    "subjectAltName=DNS:localhost,IP:127.0.0.1,IP:::1\n",
  );
  writeFileSync(join(dir, "client.ext"), "extendedKeyUsage=clientAuth\n");
  for (const [name, subject] of [["server", "localhost"], ["client", clientName]]) {
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
      "x509",
      "-req",
      "-in",
      `${name}.csr`,
      "-CA",
      "ca.crt",
      "-CAkey",
      "ca.key",
      "-CAcreateserial",
      "-out",
      `${name}.crt`,
      ...days,
      "-extfile",
      `${name}.ext`,
    ], dir);
  }
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
  for (const key of ["client.key", "client-encrypted.key", "server.key"]) {
    chmodSync(join(dir, key), 0o600);
  }
  return {
    dir,
    ca: join(dir, "ca.crt"),
    serverCert: join(dir, "server.crt"),
    serverKey: join(dir, "server.key"),
    clientCert: join(dir, "client.crt"),
    clientKey: join(dir, "client.key"),
    clientKeyEncrypted: join(dir, "client-encrypted.key"),
    passphrase,
    otherCa: join(dir, "other-ca.crt"),
  };
}
