/**
 * libpq is the judge. Every case runs through `psql` (Debian's, on libpq 15,
 * and the same binary on the libpq 17 that the embedded PostgreSQL package
 * ships) and through the tool, in this process, on whichever runtime runs
 * this file; they must agree on the verdict (connected or refused), on the
 * server reached, and, against a peer that records it, on the password sent.
 *
 * The servers: one real PostgreSQL on 127.0.0.1, ::1 and a Unix socket whose
 * certificate is switched between cases (good, another name, a DNS name
 * only, expired, revoked, TLS off), with hostssl / hostnossl / cert rules;
 * a peer that asks for a cleartext password and records it; a TLS server
 * without ALPN. Files under HOME (~/.pgpass, ~/.postgresql/...) are made per
 * case; psql sees them as its home through a private bind mount over /root
 * (libpq before 18 takes the home folder from the password database, not
 * $HOME), which needs root and unshare: without them those cases are skipped
 * with that reason, and CI, as root, runs them all.
 *
 * A new case is one entry in CASES.
 */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import {
  chmodSync,
  chownSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import process from "node:process";
import { after, before, describe, test } from "node:test";
import postgres from "postgres";
import { STARTUP_ERRORS } from "../src/connect/startup.ts";
import { RUNTIME } from "../src/runtime.ts";
import { freePort } from "../scripts/net.ts";
import {
  type Peer,
  type ScramPeer,
  type SniPeer,
  startPasswordPeer,
  startScramPeer,
  startSniPeer,
  startStartingUpPeer,
  startTlsPeer,
  startTlsRelay,
  type TlsPeer,
  type TlsRelay,
} from "../scripts/peer.ts";
import { startEmbeddedPostgres, type TestServer } from "../scripts/postgres.ts";
import { type Certificates, makeCertificates } from "../scripts/tls.ts";
import { canMountHome, type Oracle, oracleMissing, psqlVerdict, toolVerdict } from "./oracle.ts";
import { literal, type SilentListener, silentListener } from "./helpers.ts";

/** The servers and files a case's keywords may name. */
interface World {
  certs: Certificates;
  /** The real server's port (TCP on 127.0.0.1 and ::1). */
  pg: number;
  socketDir: string;
  peer: Peer;
  peerSocketDir: string;
  tlsPeer: TlsPeer;
  /** A port nothing listens on. */
  closed: number;
  /** A port that accepts connections and never says a word. */
  silent: SilentListener;
  /** A folder of OpenSSL hashed links to the test CA, for SSL_CERT_DIR. */
  hashedCaDir: string;
  /** Records the SNI of each ClientHello. */
  sniPeer: SniPeer;
  /**
   * Relays that end TLS in front of the real server: `other` shows another
   * certificate from the same CA (named other.invalid), `same` the server's
   * own, `plain` the server's own but reaches it without TLS (so the server
   * offers no SCRAM-SHA-256-PLUS). `same` and `plain` note choices in one list.
   */
  relays: { other: TlsRelay; same: TlsRelay; plain: TlsRelay };
  /** A server that refuses every session with 57P03 (starting up). */
  startingUp: { port: number; close(): Promise<void> };
  /** A plaintext peer that offers SCRAM-SHA-256-PLUS. */
  plusPeer: ScramPeer;
}

type ServerState =
  | "good"
  | "otherName"
  | "dnsOnly"
  | "expired"
  | "revoked"
  | "pss"
  | "off"
  | NameCheckState
  | "chained";

/** Certificates for libpq's name check (see scripts/tls.ts). */
const NAME_CHECK_STATES = [
  "wildcard",
  "partialWildcard",
  "mixedCase",
  "cnOnly",
  "dnsSanAndCn",
  "cnWithIpSan",
  "cnIp",
] as const;
type NameCheckState = typeof NAME_CHECK_STATES[number];

interface HomeFiles {
  rootCrt?: (w: World) => string;
  rootCrl?: (w: World) => string;
  cert?: (w: World) => string;
  key?: (w: World) => string;
  /** ~/.pgpass, written with `pgpassMode` (default 0600). */
  pgpass?: (w: World) => string;
  pgpassMode?: number;
}

interface Case {
  name: string;
  keywords: (w: World) => Record<string, string>;
  /** libpq's variables, for both clients. */
  env?: (w: World) => Record<string, string>;
  home?: HomeFiles;
  /** The real server's certificate, or TLS off; default "good". */
  server?: ServerState;
  /** The libpq versions that judge; default both (a PostgreSQL 16+ keyword: 17 only). */
  oracles?: readonly Oracle[];
  /** Which password reached the peer matters: both clients must send the same, or none. */
  peer?: boolean;
  /** Where this runtime cannot do what libpq does, the tool refuses with this line instead. */
  refusedOn?: { runtime: typeof RUNTIME; because: RegExp };
  /** An extra check on the tool's own refusal. */
  toolWhy?: RegExp;
  /** The case gives a file to another user, which only root may do. */
  chowns?: true;
  /** The TLS server without ALPN must receive nothing after the handshake (no startup, no password). */
  silentTlsPeer?: boolean;
  /**
   * A host that never answers is in the list: both clients give it a whole
   * connect_timeout (1 s here), and open the same number of connections to it.
   */
  silentHost?: true;
  /** The case reaches the SNI peer: both clients must send the same server name, or none. */
  sni?: true;
  /**
   * Through the relay with the server's own certificate: the SASL mechanism
   * and GS2 flag every client must have chosen ("SCRAM-SHA-256-PLUS p").
   */
  chose?: string;
  /** The plaintext peer offering SCRAM-SHA-256-PLUS must get no SASL answer from anyone. */
  noSaslAnswer?: true;
}

const BOTH: readonly Oracle[] = [15, 17];
const V17: readonly Oracle[] = [17];

const PASSWORD = "oracle-pw-7Q";
const SSL_ONLY_PASSWORD = "sslonly-pw-3K";
const PLAIN_ONLY_PASSWORD = "plainonly-pw-5M";
/** Roles that the server authenticates with md5, a cleartext password, or not at all. */
const MD5_PASSWORD = "md5-pw-8R";
const CLEARTEXT_PASSWORD = "cleartext-pw-2W";

/** The real server, by name, with the password and database of the `oracle` role. */
const base = (w: World, extra: Record<string, string> = {}) => ({
  host: "localhost",
  port: String(w.pg),
  user: "oracle",
  password: PASSWORD,
  dbname: "postgres",
  connect_timeout: "10",
  ...extra,
});

/** The password peer, with no password given: whatever arrives came from elsewhere. */
const atPeer = (w: World, extra: Record<string, string> = {}) => ({
  host: "127.0.0.1",
  port: String(w.peer.port),
  user: "peeruser",
  dbname: "peerdb",
  connect_timeout: "10",
  sslmode: "disable",
  ...extra,
});

const pgpassLine = (...fields: (string | number)[]) => fields.join(":");

/** The password peer with no sslmode of its own: the case's keywords follow, in the order given. */
const atPeerThen = (w: World, ...pairs: [string, string][]) => {
  const { sslmode: _, ...rest } = atPeer(w);
  return { ...rest, ...Object.fromEntries(pairs) };
};

/** The real server reached at 127.0.0.1, its certificate checked against `host` (verify-full). */
const named = (w: World, host: string) =>
  base(w, { host, hostaddr: "127.0.0.1", sslmode: "verify-full", sslrootcert: w.certs.ca });

/** The real server by address only: `hostaddr`, no `host`. */
const addressOnly = (w: World, extra: Record<string, string>) => {
  const { host: _, ...rest } = base(w, { hostaddr: "127.0.0.1", ...extra });
  return rest;
};

/** The SNI peer, TLS required (no plaintext retry), by name. */
const atSniPeer = (w: World, extra: Record<string, string> = {}) => ({
  host: "localhost",
  port: String(w.sniPeer.port),
  user: "oracle",
  password: "sni-peer-pw",
  dbname: "postgres",
  sslmode: "require",
  connect_timeout: "10",
  ...extra,
});

const SSLMODES = ["disable", "allow", "prefer", "require", "verify-ca", "verify-full"];

const CASES: Case[] = [
  // Each sslmode against TLS on and off, the CA given.
  ...SSLMODES.map((sslmode): Case => ({
    name: `sslmode=${sslmode}, TLS on, sslrootcert given`,
    keywords: (w) => base(w, { sslmode, sslrootcert: w.certs.ca }),
  })),
  ...SSLMODES.map((sslmode): Case => ({
    name: `sslmode=${sslmode}, TLS off`,
    server: "off",
    keywords: (w) => base(w, { sslmode, sslrootcert: w.certs.ca }),
  })),
  {
    name: "sslmode=require, the first host without TLS: libpq does not try the next",
    keywords: (w) =>
      base(w, {
        host: "127.0.0.1,localhost",
        port: `${w.peer.port},${w.pg}`,
        sslmode: "require",
        sslrootcert: w.certs.ca,
      }),
  },
  // Verification failures.
  ...["prefer", "require", "verify-ca", "verify-full"].map((sslmode): Case => ({
    name: `sslmode=${sslmode} with another CA as sslrootcert`,
    keywords: (w) => base(w, { sslmode, sslrootcert: w.certs.otherCa }),
  })),
  ...["require", "verify-ca", "verify-full"].map((sslmode): Case => ({
    name: `sslmode=${sslmode}, a certificate for another host name`,
    server: "otherName",
    keywords: (w) => base(w, { sslmode, sslrootcert: w.certs.ca }),
  })),
  {
    name: "verify-full, DNS-only SAN reached by IP",
    server: "dnsOnly",
    keywords: (w) =>
      base(w, { host: "127.0.0.1", sslmode: "verify-full", sslrootcert: w.certs.ca }),
  },
  {
    name: "verify-full, DNS-only SAN reached by its name",
    server: "dnsOnly",
    keywords: (w) => base(w, { sslmode: "verify-full", sslrootcert: w.certs.ca }),
  },
  {
    name: "verify-full, hostaddr with the name in host",
    server: "dnsOnly",
    keywords: (w) =>
      base(w, { hostaddr: "127.0.0.1", sslmode: "verify-full", sslrootcert: w.certs.ca }),
  },
  ...["require", "verify-ca"].map((sslmode): Case => ({
    name: `sslmode=${sslmode}, an expired certificate, the CA given`,
    server: "expired",
    keywords: (w) => base(w, { sslmode, sslrootcert: w.certs.ca }),
  })),
  {
    name: "sslmode=require, an expired certificate, no CA anywhere",
    server: "expired",
    keywords: (w) => base(w),
  },
  // Revocation.
  {
    name: "verify-full, a revoked certificate, no CRL",
    server: "revoked",
    keywords: (w) => base(w, { sslmode: "verify-full", sslrootcert: w.certs.ca }),
  },
  {
    name: "verify-full, a revoked certificate, sslcrl",
    server: "revoked",
    keywords: (w) =>
      base(w, { sslmode: "verify-full", sslrootcert: w.certs.ca, sslcrl: w.certs.crl }),
    refusedOn: { runtime: "deno", because: /sslcrl: deno's TLS cannot check/ },
  },
  {
    name: "verify-full, a revoked certificate, sslcrldir",
    server: "revoked",
    keywords: (w) =>
      base(w, { sslmode: "verify-full", sslrootcert: w.certs.ca, sslcrldir: w.certs.crlDir }),
    refusedOn: { runtime: "deno", because: /sslcrldir: deno's TLS cannot check/ },
  },
  {
    name: "verify-full, a revoked certificate, ~/.postgresql/root.crt and root.crl",
    server: "revoked",
    home: { rootCrt: (w) => w.certs.ca, rootCrl: (w) => w.certs.crl },
    keywords: (w) => base(w, { sslmode: "verify-full" }),
    refusedOn: { runtime: "deno", because: /sslcrl: deno's TLS cannot check/ },
  },
  {
    name: "verify-full, a good certificate, sslcrl",
    keywords: (w) =>
      base(w, { sslmode: "verify-full", sslrootcert: w.certs.ca, sslcrl: w.certs.crl }),
    refusedOn: { runtime: "deno", because: /sslcrl: deno's TLS cannot check/ },
  },
  {
    name: "verify-full, a revoked certificate, sslcrl naming no file",
    server: "revoked",
    keywords: (w) =>
      base(w, {
        sslmode: "verify-full",
        sslrootcert: w.certs.ca,
        sslcrl: join(w.certs.dir, "absent.crl"),
      }),
  },
  {
    name: "sslmode=require, a revoked certificate, root.crl but no root.crt",
    server: "revoked",
    home: { rootCrl: (w) => w.certs.crl },
    keywords: (w) => base(w, { sslmode: "require" }),
  },
  // ~/.postgresql/root.crt.
  {
    name: "sslmode=require with ~/.postgresql/root.crt: verified",
    home: { rootCrt: (w) => w.certs.ca },
    keywords: (w) => base(w, { sslmode: "require" }),
  },
  {
    name: "sslmode=require with another CA in ~/.postgresql/root.crt",
    home: { rootCrt: (w) => w.certs.otherCa },
    keywords: (w) => base(w, { sslmode: "require" }),
  },
  {
    name: "sslmode=prefer with another CA in ~/.postgresql/root.crt",
    home: { rootCrt: (w) => w.certs.otherCa },
    keywords: (w) => base(w, { sslmode: "prefer" }),
  },
  {
    name: "sslmode=verify-ca with no root certificate anywhere",
    keywords: (w) => base(w, { sslmode: "verify-ca" }),
  },
  {
    name: "sslmode=require with sslrootcert naming no file",
    keywords: (w) => base(w, { sslmode: "require", sslrootcert: join(w.certs.dir, "absent.crt") }),
  },
  // Client certificates: a `cert` rule for certuser.
  // libpq allows 0640 only when root owns the key; anyone else's must be 0600.
  ...([[0o600, "0600", 0], [0o640, "0640", 0], [0o644, "0644", 0], [0o640, "0640", 1000]] as const)
    .map(([mode, shown, owner]): Case => ({
      name: `client certificate, key mode ${shown}${
        owner ? " owned by another user than root" : ""
      }`,
      ...(owner ? { chowns: true, toolWhy: /has group or world access/ } : {}),
      keywords: (w) => {
        const key = join(w.certs.dir, `client-${shown}-${owner}.key`);
        writeFileSync(key, readFileSync(w.certs.clientKey));
        chmodSync(key, mode);
        if (owner) chownSync(key, owner, owner);
        return base(w, {
          user: "certuser",
          password: "",
          sslmode: "verify-full",
          sslrootcert: w.certs.ca,
          sslcert: w.certs.clientCert,
          sslkey: key,
        });
      },
    })),
  ...([["right", true], ["wrong", false], ["no", undefined]] as const).map((
    [label, right],
  ): Case => ({
    name: `client certificate, encrypted key, ${label} sslpassword`,
    keywords: (w) =>
      base(w, {
        user: "certuser",
        password: "",
        sslmode: "verify-full",
        sslrootcert: w.certs.ca,
        sslcert: w.certs.clientCert,
        sslkey: w.certs.clientKeyEncrypted,
        ...(right === undefined
          ? {}
          : { sslpassword: right ? w.certs.passphrase : "not-the-passphrase" }),
      }),
  })),
  {
    name: "client certificate, encrypted key, wrong sslpassword, for a password role",
    keywords: (w) =>
      base(w, {
        sslmode: "require",
        sslcert: w.certs.clientCert,
        sslkey: w.certs.clientKeyEncrypted,
        sslpassword: "not-the-passphrase",
      }),
  },
  {
    name: "client certificate: sslcert naming no file goes on without one (cert rule refuses)",
    keywords: (w) =>
      base(w, {
        user: "certuser",
        password: "",
        sslmode: "verify-full",
        sslrootcert: w.certs.ca,
        sslcert: join(w.certs.dir, "absent.crt"),
      }),
  },
  {
    name: "client certificate: sslcert naming no file goes on without one (password role)",
    keywords: (w) => base(w, { sslmode: "require", sslcert: join(w.certs.dir, "absent.crt") }),
  },
  {
    name: "client certificate: a certificate without its key",
    keywords: (w) =>
      base(w, {
        user: "certuser",
        password: "",
        sslmode: "require",
        sslcert: w.certs.clientCert,
        sslkey: join(w.certs.dir, "absent.key"),
      }),
  },
  {
    name: "client certificate from ~/.postgresql/postgresql.crt and .key",
    home: { cert: (w) => w.certs.clientCert, key: (w) => w.certs.clientKey },
    keywords: (w) =>
      base(w, { user: "certuser", password: "", sslmode: "verify-full", sslrootcert: w.certs.ca }),
  },
  {
    name: "sslcertmode=disable keeps ~/.postgresql/postgresql.crt back",
    home: { cert: (w) => w.certs.clientCert, key: (w) => w.certs.clientKey },
    oracles: V17,
    keywords: (w) =>
      base(w, {
        user: "certuser",
        password: "",
        sslmode: "verify-full",
        sslrootcert: w.certs.ca,
        sslcertmode: "disable",
      }),
  },
  // hostssl and hostnossl rules.
  ...["disable", "allow", "prefer"].map((sslmode): Case => ({
    name: `a hostssl-only role with sslmode=${sslmode}`,
    keywords: (w) => base(w, { user: "sslonly", password: SSL_ONLY_PASSWORD, sslmode }),
  })),
  ...["prefer", "require"].map((sslmode): Case => ({
    name: `a hostnossl-only role with sslmode=${sslmode}`,
    keywords: (w) => base(w, { user: "plainonly", password: PLAIN_ONLY_PASSWORD, sslmode }),
  })),
  // The password file.
  {
    name: ".pgpass, mode 0600: its password is sent",
    peer: true,
    home: {
      pgpass: (w) => pgpassLine("127.0.0.1", w.peer.port, "peerdb", "peeruser", "from-pgpass-1"),
    },
    keywords: (w) => atPeer(w),
  },
  {
    name: ".pgpass, mode 0640: ignored",
    peer: true,
    home: {
      pgpass: (w) => pgpassLine("127.0.0.1", w.peer.port, "peerdb", "peeruser", "from-pgpass-2"),
      pgpassMode: 0o640,
    },
    keywords: (w) => atPeer(w),
  },
  {
    name: ".pgpass, per host: the second host's own line, not the first's",
    peer: true,
    home: {
      pgpass: (w) =>
        [
          pgpassLine("127.0.0.1", w.closed, "peerdb", "peeruser", "first-host-pw"),
          pgpassLine("localhost", w.peer.port, "peerdb", "peeruser", "second-host-pw"),
        ].join("\n"),
    },
    keywords: (w) => atPeer(w, { host: "127.0.0.1,localhost", port: `${w.closed},${w.peer.port}` }),
  },
  {
    name: ".pgpass, per host: no line for the host that answers, none sent",
    peer: true,
    home: {
      pgpass: (w) => pgpassLine("127.0.0.1", w.closed, "peerdb", "peeruser", "first-only-pw"),
    },
    keywords: (w) => atPeer(w, { host: "127.0.0.1,localhost", port: `${w.closed},${w.peer.port}` }),
  },
  {
    name: ".pgpass, a socket directory matches its /dir line, not localhost",
    peer: true,
    home: {
      pgpass: (w) =>
        [
          pgpassLine("localhost", w.peer.port, "peerdb", "peeruser", "localhost-pw"),
          pgpassLine(w.peerSocketDir, w.peer.port, "peerdb", "peeruser", "socket-dir-pw"),
        ].join("\n"),
    },
    keywords: (w) => atPeer(w, { host: w.peerSocketDir }),
  },
  {
    name: ".pgpass, escaped ':' and '\\' in fields and password",
    peer: true,
    home: {
      pgpass: (w) =>
        pgpassLine("127.0.0.1", w.peer.port, "peerdb", "peer\\:user", "p\\:a\\\\ss:ignored"),
    },
    keywords: (w) => atPeer(w, { user: "peer:user" }),
  },
  {
    name: ".pgpass with CRLF line ends",
    peer: true,
    home: {
      pgpass: (w) =>
        [
          "# a comment\r",
          pgpassLine("127.0.0.1", w.peer.port, "peerdb", "peeruser", "crlf-pw") + "\r",
          "",
        ].join("\n"),
    },
    keywords: (w) => atPeer(w),
  },
  {
    name: ".pgpass wildcards",
    peer: true,
    home: { pgpass: () => "*:*:*:*:wildcard-pw" },
    keywords: (w) => atPeer(w),
  },
  {
    name: ".pgpass, a line for another port does not match",
    peer: true,
    home: { pgpass: (w) => pgpassLine("*", w.closed, "*", "*", "other-port-pw") },
    keywords: (w) => atPeer(w),
  },
  {
    name: ".pgpass, the database defaults to the user name",
    peer: true,
    home: { pgpass: (w) => pgpassLine("*", w.peer.port, "peeruser", "peeruser", "db-is-user-pw") },
    keywords: (w) => {
      const { dbname: _, ...rest } = atPeer(w);
      return rest;
    },
  },
  {
    name: "passfile names the password file",
    peer: true,
    keywords: (w) => {
      const file = join(w.certs.dir, "passfile");
      writeFileSync(file, pgpassLine("*", w.peer.port, "*", "*", "passfile-pw"), { mode: 0o600 });
      chmodSync(file, 0o600);
      return atPeer(w, { passfile: file });
    },
  },
  {
    name: "PGPASSFILE names the password file",
    peer: true,
    env: (w) => {
      const file = join(w.certs.dir, "pgpassfile-env");
      writeFileSync(file, pgpassLine("*", w.peer.port, "*", "*", "pgpassfile-env-pw"));
      chmodSync(file, 0o600);
      return { PGPASSFILE: file };
    },
    keywords: (w) => atPeer(w),
  },
  {
    name: "a password in the URL wins over .pgpass",
    peer: true,
    home: { pgpass: () => "*:*:*:*:pgpass-loses" },
    keywords: (w) => atPeer(w, { password: "url-wins" }),
  },
  {
    name: "PGPASSWORD wins over .pgpass",
    peer: true,
    home: { pgpass: () => "*:*:*:*:pgpass-loses-too" },
    env: () => ({ PGPASSWORD: "env-wins" }),
    keywords: (w) => atPeer(w),
  },
  {
    name: ".pgpass, the real server: its password logs in",
    home: { pgpass: (w) => pgpassLine("localhost", w.pg, "postgres", "oracle", PASSWORD) },
    keywords: (w) => base(w, { password: "" }),
  },
  // libpq's variables against the URL.
  {
    name: "PGHOST and PGPORT fill what the URL leaves out",
    env: (w) => ({ PGHOST: "localhost", PGPORT: String(w.pg) }),
    keywords: (w) => {
      const { host: _, port: __, ...rest } = base(w);
      return rest;
    },
  },
  {
    name: "the URL's port wins over PGPORT",
    env: (w) => ({ PGPORT: String(w.closed) }),
    keywords: (w) => base(w),
  },
  {
    name: "PGSSLMODE=verify-full when the URL is silent: no CA, refused",
    env: () => ({ PGSSLMODE: "verify-full" }),
    keywords: (w) => base(w),
  },
  {
    name: "the URL's sslmode wins over PGSSLMODE",
    env: () => ({ PGSSLMODE: "verify-full" }),
    keywords: (w) => base(w, { sslmode: "require" }),
  },
  {
    name: "PGSSLROOTCERT when the URL is silent",
    env: (w) => ({ PGSSLROOTCERT: w.certs.otherCa }),
    keywords: (w) => base(w, { sslmode: "verify-ca" }),
  },
  {
    name: "PGUSER and PGDATABASE",
    env: () => ({ PGUSER: "oracle", PGDATABASE: "postgres" }),
    keywords: (w) => {
      const { user: _, dbname: __, ...rest } = base(w);
      return rest;
    },
  },
  // Direct TLS (PostgreSQL 17).
  ...["disable", "allow", "prefer"].map((sslmode): Case => ({
    name: `sslnegotiation=direct with sslmode=${sslmode}`,
    oracles: V17,
    keywords: (w) => base(w, { sslmode, sslnegotiation: "direct", sslrootcert: w.certs.ca }),
  })),
  ...["require", "verify-full"].map((sslmode): Case => ({
    name: `sslnegotiation=direct with sslmode=${sslmode}`,
    oracles: V17,
    keywords: (w) => base(w, { sslmode, sslnegotiation: "direct", sslrootcert: w.certs.ca }),
  })),
  {
    name: "sslnegotiation=direct against a peer without TLS: no password leaves",
    oracles: V17,
    peer: true,
    keywords: (w) =>
      atPeer(w, { sslmode: "require", sslnegotiation: "direct", password: "direct-pw" }),
  },
  {
    name: "sslnegotiation=direct against a TLS server without ALPN",
    oracles: V17,
    keywords: (w) => ({
      host: "localhost",
      port: String(w.tlsPeer.port),
      user: "oracle",
      password: "alpaca-pw",
      dbname: "postgres",
      sslmode: "require",
      sslnegotiation: "direct",
      connect_timeout: "10",
    }),
    toolWhy: /ALPN/,
    silentTlsPeer: true,
  },
  // The system's roots.
  {
    name: "sslrootcert=system with SSL_CERT_FILE holding the CA",
    oracles: V17,
    env: (w) => ({ SSL_CERT_FILE: w.certs.ca, SSL_CERT_DIR: join(w.certs.dir, "no-such-dir") }),
    keywords: (w) => base(w, { sslrootcert: "system" }),
  },
  {
    name: "sslrootcert=system with SSL_CERT_DIR holding the CA",
    oracles: V17,
    env: (w) => ({ SSL_CERT_FILE: join(w.certs.dir, "no-such-file"), SSL_CERT_DIR: w.hashedCaDir }),
    keywords: (w) => base(w, { sslrootcert: "system" }),
  },
  {
    name: "sslrootcert=system with another CA only",
    oracles: V17,
    env: (w) => ({
      SSL_CERT_FILE: w.certs.otherCa,
      SSL_CERT_DIR: join(w.certs.dir, "no-such-dir"),
    }),
    keywords: (w) => base(w, { sslrootcert: "system" }),
  },
  {
    name: "sslrootcert=system with sslmode=require",
    oracles: V17,
    env: (w) => ({ SSL_CERT_FILE: w.certs.ca }),
    keywords: (w) => base(w, { sslrootcert: "system", sslmode: "require" }),
  },
  // IPv6 and Unix sockets.
  {
    name: "IPv6: host=::1, verify-full",
    keywords: (w) => base(w, { host: "::1", sslmode: "verify-full", sslrootcert: w.certs.ca }),
  },
  {
    name: "IPv6: hostaddr=::1 with the name in host, verify-full",
    keywords: (w) => base(w, { hostaddr: "::1", sslmode: "verify-full", sslrootcert: w.certs.ca }),
  },
  {
    name: "a Unix socket directory",
    keywords: (w) => base(w, { host: w.socketDir }),
  },
  {
    name: "a Unix socket directory with sslmode=require",
    keywords: (w) => base(w, { host: w.socketDir, sslmode: "require" }),
  },
  // Host lists.
  {
    name: "a host list: the first refuses, the second answers",
    keywords: (w) => base(w, { host: "localhost,localhost", port: `${w.closed},${w.pg}` }),
  },
  {
    name: "a host list: a failed TLS check on the first ends the attempt",
    server: "dnsOnly",
    keywords: (w) =>
      base(w, {
        host: "127.0.0.1,localhost",
        port: `${w.pg},${w.pg}`,
        sslmode: "verify-full",
        sslrootcert: w.certs.ca,
      }),
  },
  // connect_timeout bounds a host's whole attempt, up to its session's answer
  // (libpq 17 reads 1 as one second; 16 and older as two).
  ...["1.5", "ten", " 3 ", "-1", "0"].map((value): Case => ({
    name: `connect_timeout=${JSON.stringify(value)}: a whole number or refused, as libpq reads it`,
    keywords: (w) => base(w, { connect_timeout: value }),
  })),
  ...(["disable", "prefer"] as const).flatMap((sslmode): Case[] => [
    {
      name:
        `connect_timeout=1, a host that never answers, sslmode=${sslmode}: a second, then an error`,
      keywords: (w) =>
        base(w, { host: "127.0.0.1", port: String(w.silent.port), sslmode, connect_timeout: "1" }),
      silentHost: true,
    },
    {
      name: `connect_timeout=1, a host that never answers, then the server, sslmode=${sslmode}`,
      keywords: (w) =>
        base(w, {
          host: "127.0.0.1,127.0.0.1",
          port: `${w.silent.port},${w.pg}`,
          sslmode,
          connect_timeout: "1",
        }),
      silentHost: true,
    },
  ]),
  // requiressl is sslmode where it is written (libpq's conninfo_storeval): the
  // later of the two wins, and PGSSLMODE cannot override it.
  {
    name: "requiressl=1 with PGSSLMODE=disable, a server without TLS: refused, no password",
    peer: true,
    env: () => ({ PGSSLMODE: "disable" }),
    keywords: (w) => atPeerThen(w, ["password", "requiressl-pw-1"], ["requiressl", "1"]),
    toolWhy: /SSL was required/,
  },
  {
    name: "sslmode=prefer, then requiressl=1, a server without TLS: require wins, no password",
    peer: true,
    keywords: (w) =>
      atPeerThen(w, ["password", "requiressl-pw-2"], ["sslmode", "prefer"], ["requiressl", "1"]),
  },
  {
    name: "requiressl=1, then sslmode=prefer, a server without TLS: prefer wins, plaintext",
    peer: true,
    keywords: (w) =>
      atPeerThen(w, ["password", "requiressl-pw-3"], ["requiressl", "1"], ["sslmode", "prefer"]),
  },
  {
    name: "sslmode=require, then requiressl=0: requiressl=0 is prefer",
    peer: true,
    keywords: (w) =>
      atPeerThen(w, ["password", "requiressl-pw-4"], ["sslmode", "require"], ["requiressl", "0"]),
  },
  ...[["10", "require"], ["yes", "prefer"]].map(([value, mode]): Case => ({
    name: `requiressl=${value} is ${mode}: its first character decides`,
    peer: true,
    keywords: (w) => atPeerThen(w, ["password", `requiressl-pw-${value}`], ["requiressl", value]),
  })),
  {
    name: "PGREQUIRESSL=1 where nothing else names a mode: require",
    peer: true,
    env: () => ({ PGREQUIRESSL: "1" }),
    keywords: (w) => atPeerThen(w, ["password", "requiressl-pw-5"]),
  },
  {
    name: "PGSSLMODE=prefer wins over PGREQUIRESSL=1",
    peer: true,
    env: () => ({ PGREQUIRESSL: "1", PGSSLMODE: "prefer" }),
    keywords: (w) => atPeerThen(w, ["password", "requiressl-pw-6"]),
  },
  {
    name: "the URL's requiressl=1 wins over PGREQUIRESSL=0",
    peer: true,
    env: () => ({ PGREQUIRESSL: "0" }),
    keywords: (w) => atPeerThen(w, ["password", "requiressl-pw-7"], ["requiressl", "1"]),
  },
  // TLS versions: the range is checked before connecting, in every sslmode.
  {
    name: "ssl_min_protocol_version above ssl_max_protocol_version, prefer: refused, no plaintext",
    peer: true,
    keywords: (w) =>
      atPeerThen(
        w,
        ["password", "tls-range-pw"],
        ["sslmode", "prefer"],
        ["ssl_min_protocol_version", "TLSv1.3"],
        ["ssl_max_protocol_version", "TLSv1.2"],
      ),
    toolWhy: /invalid SSL protocol version range/,
  },
  {
    name: "ssl_min_protocol_version above ssl_max_protocol_version, the real server, disable",
    keywords: (w) =>
      base(w, {
        sslmode: "disable",
        ssl_min_protocol_version: "TLSv1.3",
        ssl_max_protocol_version: "TLSv1.2",
      }),
    toolWhy: /invalid SSL protocol version range/,
  },
  {
    name: "ssl_max_protocol_version=TLSv1.1 alone: below libpq's default minimum, refused",
    keywords: (w) => base(w, { ssl_max_protocol_version: "TLSv1.1" }),
    toolWhy: /invalid SSL protocol version range/,
  },
  {
    name: "PGSSLMINPROTOCOLVERSION=TLSv1.3 with ssl_max_protocol_version=TLSv1.2: refused",
    env: () => ({ PGSSLMINPROTOCOLVERSION: "TLSv1.3" }),
    keywords: (w) => base(w, { ssl_max_protocol_version: "TLSv1.2" }),
  },
  {
    name: "ssl_min_protocol_version=tlsv1.3 in lower case: libpq reads versions in any case",
    keywords: (w) => base(w, { sslmode: "require", ssl_min_protocol_version: "tlsv1.3" }),
  },
  {
    name: "ssl_max_protocol_version=TLSv1.2 against a TLSv1.3 server: TLSv1.2 is agreed",
    keywords: (w) =>
      base(w, {
        sslmode: "verify-full",
        sslrootcert: w.certs.ca,
        ssl_max_protocol_version: "TLSv1.2",
      }),
  },
  // libpq's enumerated values are case-sensitive.
  ...([
    ["sslmode", "Require", BOTH],
    ["sslmode", "VERIFY-FULL", BOTH],
    ["target_session_attrs", "Read-Write", BOTH],
    ["target_session_attrs", "ANY", BOTH],
    ["channel_binding", "Prefer", BOTH],
    ["gssencmode", "Disable", BOTH],
    ["load_balance_hosts", "Random", V17],
    ["sslnegotiation", "Direct", V17],
    ["sslcertmode", "Allow", V17],
  ] as const).map(([keyword, value, oracles]): Case => ({
    name: `${keyword}=${value}: libpq's values are case-sensitive, refused`,
    oracles,
    keywords: (w) => base(w, { [keyword]: value }),
    toolWhy: new RegExp(`invalid ${keyword} value`),
  })),
  ...([
    ["PGSSLMODE", "Prefer", BOTH],
    ["PGTARGETSESSIONATTRS", "Any", BOTH],
    ["PGCHANNELBINDING", "Disable", BOTH],
    ["PGGSSENCMODE", "Prefer", BOTH],
    ["PGLOADBALANCEHOSTS", "Disable", V17],
    ["PGSSLNEGOTIATION", "Postgres", V17],
    ["PGSSLCERTMODE", "Disable", V17],
  ] as const).map(([variable, value, oracles]): Case => ({
    name: `${variable}=${value}: case-sensitive from the environment too, refused`,
    oracles,
    env: () => ({ [variable]: value }),
    keywords: (w) => base(w),
    toolWhy: /invalid \w+ value/,
  })),
  {
    name: "keepalives=2: libpq reads an integer, not 0 or 1, and connects",
    keywords: (w) => base(w, { keepalives: "2" }),
  },
  {
    name: "keepalives=yes: not an integer, refused",
    keywords: (w) => base(w, { keepalives: "yes" }),
  },
  // libpq's name check (verify-full), the host named by host= and reached by hostaddr=.
  {
    name: "verify-full, *.example.com for db1.example.com: a leading wildcard, one label",
    server: "wildcard",
    keywords: (w) => named(w, "db1.example.com"),
  },
  {
    name: "verify-full, *.example.com for a.db1.example.com: never two labels",
    server: "wildcard",
    keywords: (w) => named(w, "a.db1.example.com"),
  },
  {
    name: "verify-full, *.example.com for example.com itself",
    server: "wildcard",
    keywords: (w) => named(w, "example.com"),
  },
  {
    name: "verify-full, db*.example.com for db1.example.com: a partial wildcard, refused",
    server: "partialWildcard",
    keywords: (w) => named(w, "db1.example.com"),
    toolWhy: /does not match host name "db1\.example\.com"/,
  },
  {
    name: "verify-full, DB1.Example.COM for db1.example.com: names ignore case",
    server: "mixedCase",
    keywords: (w) => named(w, "db1.example.com"),
  },
  {
    name: "verify-full, the CN and no subjectAltName: the CN counts",
    server: "cnOnly",
    keywords: (w) => named(w, "db1.example.com"),
  },
  {
    name: "verify-full, a DNS entry for another name hides the CN",
    server: "dnsSanAndCn",
    keywords: (w) => named(w, "db1.example.com"),
  },
  {
    name: "verify-full, an address entry does not hide the CN from a name",
    server: "cnWithIpSan",
    keywords: (w) => named(w, "db1.example.com"),
  },
  {
    name: "verify-full, the address entry matches host=127.0.0.1",
    server: "cnWithIpSan",
    keywords: (w) =>
      base(w, { host: "127.0.0.1", sslmode: "verify-full", sslrootcert: w.certs.ca }),
  },
  {
    name: "verify-full, reached by address, no address entry: libpq reads the CN",
    server: "cnIp",
    keywords: (w) =>
      base(w, { host: "127.0.0.1", sslmode: "verify-full", sslrootcert: w.certs.ca }),
  },
  ...["127.1", "0x7f000001"].map((host): Case => ({
    name: `verify-full, host=${host}: an address as inet_aton reads it, matched to 127.0.0.1`,
    keywords: (w) => base(w, { host, sslmode: "verify-full", sslrootcert: w.certs.ca }),
  })),
  {
    name: "verify-full, hostaddr and no host: no name to check, refused",
    keywords: (w) => addressOnly(w, { sslmode: "verify-full", sslrootcert: w.certs.ca }),
    toolWhy: /host name must be specified/,
  },
  {
    name: "verify-ca, hostaddr and no host: no name is checked",
    keywords: (w) => addressOnly(w, { sslmode: "verify-ca", sslrootcert: w.certs.ca }),
  },
  // A chain must end at a self-signed root of sslrootcert (Deno's TLS takes an intermediate as one).
  ...["require", "verify-ca", "verify-full"].map((sslmode): Case => ({
    name: `sslmode=${sslmode}, the intermediate CA alone as sslrootcert: refused`,
    server: "chained",
    keywords: (w) => base(w, { sslmode, sslrootcert: w.certs.intermediateCa }),
    toolWhy: /issuer certificate/,
  })),
  {
    name: "sslmode=prefer, the intermediate CA alone as sslrootcert: plaintext, as libpq",
    server: "chained",
    keywords: (w) => base(w, { sslmode: "prefer", sslrootcert: w.certs.intermediateCa }),
  },
  {
    name: "sslmode=require, the intermediate CA alone in ~/.postgresql/root.crt: refused",
    server: "chained",
    home: { rootCrt: (w) => w.certs.intermediateCa },
    keywords: (w) => base(w, { sslmode: "require" }),
  },
  {
    name: "verify-full, the chain's root as sslrootcert, the server sending its intermediate",
    server: "chained",
    keywords: (w) => base(w, { sslmode: "verify-full", sslrootcert: w.certs.chainRoot }),
  },
  {
    name: "verify-full, the intermediate and its root in one sslrootcert file",
    server: "chained",
    keywords: (w) => base(w, { sslmode: "verify-full", sslrootcert: w.certs.chainBundle }),
  },
  // SNI, as the SNI peer sees it: the host entry unless an address, and only with sslsni=1.
  { name: "SNI: the host name is sent by default", sni: true, keywords: (w) => atSniPeer(w) },
  ...["0", "2"].map((value): Case => ({
    name: `SNI: sslsni=${value} sends none`,
    sni: true,
    keywords: (w) => atSniPeer(w, { sslsni: value }),
  })),
  {
    name: "SNI: PGSSLSNI=0 sends none",
    sni: true,
    env: () => ({ PGSSLSNI: "0" }),
    keywords: (w) => atSniPeer(w),
  },
  {
    name: "SNI: host=127.1, all digits and dots, sends none",
    sni: true,
    keywords: (w) => atSniPeer(w, { host: "127.1" }),
  },
  {
    name: "SNI: an address as host sends none",
    sni: true,
    keywords: (w) => atSniPeer(w, { host: "127.0.0.1" }),
  },
  {
    name: "SNI: host names the server and hostaddr reaches it: the host name is sent",
    sni: true,
    keywords: (w) => atSniPeer(w, { host: "db1.example.com", hostaddr: "127.0.0.1" }),
  },
  {
    name: "SNI: hostaddr and no host sends none",
    sni: true,
    keywords: (w) => {
      const { host: _, ...rest } = atSniPeer(w, { hostaddr: "127.0.0.1" });
      return rest;
    },
  },
  {
    name: "SNI: sslnegotiation=direct, sslsni=0 sends none",
    sni: true,
    oracles: V17,
    keywords: (w) => atSniPeer(w, { sslnegotiation: "direct", sslsni: "0" }),
  },
  // Channel binding (libpq's channel_binding; SCRAM-SHA-256-PLUS with tls-server-end-point).
  {
    name: "a relay ending TLS with another certificate, sslmode=require: channel binding tells",
    keywords: (w) =>
      base(w, { host: "127.0.0.1", port: String(w.relays.other.port), sslmode: "require" }),
    toolWhy: /channel binding check failed/,
  },
  {
    name: "a relay ending TLS with another certificate from the same CA, sslmode=verify-ca",
    keywords: (w) =>
      base(w, {
        host: "127.0.0.1",
        port: String(w.relays.other.port),
        sslmode: "verify-ca",
        sslrootcert: w.certs.ca,
      }),
    toolWhy: /channel binding check failed/,
  },
  {
    name: "a relay ending TLS with another certificate, channel_binding=disable: it gets in",
    keywords: (w) =>
      base(w, {
        host: "127.0.0.1",
        port: String(w.relays.other.port),
        sslmode: "require",
        channel_binding: "disable",
      }),
  },
  ...(["prefer", "require"] as const).map((binding): Case => ({
    name: `channel_binding=${binding}, TLS on: SCRAM-SHA-256-PLUS, bound to the certificate`,
    keywords: (w) =>
      base(w, {
        host: "127.0.0.1",
        port: String(w.relays.same.port),
        sslmode: "require",
        channel_binding: binding,
      }),
    chose: "SCRAM-SHA-256-PLUS p",
  })),
  {
    name: "channel_binding=disable, TLS on: plain SCRAM-SHA-256, no binding claimed",
    keywords: (w) =>
      base(w, {
        host: "127.0.0.1",
        port: String(w.relays.same.port),
        sslmode: "require",
        channel_binding: "disable",
      }),
    chose: "SCRAM-SHA-256 n",
  },
  {
    name: "channel_binding=require, a server certificate signed with RSASSA-PSS (SHA-384)",
    server: "pss",
    keywords: (w) => base(w, { sslmode: "require", channel_binding: "require" }),
  },
  ...(["prefer", "require"] as const).map((binding): Case => ({
    name: `channel_binding=${binding}, TLS on, a server that offers no SCRAM-SHA-256-PLUS`,
    keywords: (w) =>
      base(w, {
        host: "127.0.0.1",
        port: String(w.relays.plain.port),
        sslmode: "require",
        channel_binding: binding,
      }),
    ...(binding === "prefer"
      ? { chose: "SCRAM-SHA-256 y" }
      : { toolWhy: /^channel binding is required, but server did not offer/ }),
  })),
  {
    name: "channel_binding=require against the real server over TLS",
    keywords: (w) =>
      base(w, { sslmode: "verify-full", sslrootcert: w.certs.ca, channel_binding: "require" }),
  },
  ...([
    ["md5user", MD5_PASSWORD, "an md5 role"],
    ["cleartextuser", CLEARTEXT_PASSWORD, "a cleartext-password role"],
    ["trustuser", "", "a trusted role (no authentication)"],
  ] as const).flatMap(([user, password, what]): Case[] =>
    (["require", "prefer"] as const).map((binding): Case => ({
      name: `channel_binding=${binding}, ${what}, TLS on`,
      keywords: (w) => base(w, { user, password, sslmode: "require", channel_binding: binding }),
      ...(binding === "require"
        ? {
          toolWhy: literal(
            user === "trustuser" ? STARTUP_ERRORS.notBound : STARTUP_ERRORS.bindingNotSupported,
          ),
        }
        : {}),
    }))
  ),
  {
    name: "channel_binding=require over a Unix socket",
    keywords: (w) => base(w, { host: w.socketDir, channel_binding: "require" }),
    toolWhy: /^channel binding required, but SSL not in use$/,
  },
  {
    name: "channel_binding=require with sslmode=disable",
    keywords: (w) => base(w, { sslmode: "disable", channel_binding: "require" }),
    toolWhy: /^channel binding required, but SSL not in use$/,
  },
  {
    name: "channel_binding=require, TLS off at the server",
    server: "off",
    keywords: (w) => base(w, { sslmode: "prefer", channel_binding: "require" }),
  },
  {
    name: "channel_binding=require at a peer asking for a cleartext password: none is sent",
    keywords: (w) => atPeer(w, { password: "binding-pw-4T", channel_binding: "require" }),
    peer: true,
    toolWhy: literal(STARTUP_ERRORS.bindingNotSupported),
  },
  {
    name: "channel_binding=Require: values are case-sensitive",
    keywords: (w) => base(w, { channel_binding: "Require" }),
  },
  {
    name: "a server offering SCRAM-SHA-256-PLUS without TLS: refused, nothing answered",
    keywords: (w) =>
      base(w, { host: "127.0.0.1", port: String(w.plusPeer.port), sslmode: "prefer" }),
    toolWhy: /SCRAM-SHA-256-PLUS authentication over a non-SSL connection/,
    noSaslAnswer: true,
  },
  // 57P03: a server that is starting up sends libpq to the next host.
  {
    name: "a host list: the first is starting up (57P03), the second answers",
    keywords: (w) =>
      base(w, {
        host: "127.0.0.1,127.0.0.1",
        port: `${w.startingUp.port},${w.pg}`,
        sslmode: "disable",
      }),
  },
  {
    name: "a host list: the server, then one starting up, with target_session_attrs=standby",
    keywords: (w) =>
      base(w, {
        host: "127.0.0.1,127.0.0.1",
        port: `${w.pg},${w.startingUp.port}`,
        sslmode: "disable",
        target_session_attrs: "standby",
      }),
  },
  {
    name: "one host, starting up (57P03): refused",
    keywords: (w) =>
      base(w, { host: "127.0.0.1", port: String(w.startingUp.port), sslmode: "disable" }),
    toolWhy: /starting up/,
  },
];

let world: World;
let server: TestServer;
let admin: postgres.Sql;
let serverState: ServerState = "good";
const scratch: string[] = [];
/** A HOME with the case's files, as libpq looks for them. */
function makeHome(files: HomeFiles | undefined): string {
  const home = mkdtempSync(join(tmpdir(), "invite-code-oracle-home-"));
  scratch.push(home);
  if (!files) return home;
  const dot = join(home, ".postgresql");
  mkdirSync(dot);
  const put = (name: string, from: string, mode = 0o600) => {
    writeFileSync(join(dot, name), readFileSync(from));
    chmodSync(join(dot, name), mode);
  };
  if (files.rootCrt) put("root.crt", files.rootCrt(world), 0o644);
  if (files.rootCrl) put("root.crl", files.rootCrl(world), 0o644);
  if (files.cert) put("postgresql.crt", files.cert(world), 0o644);
  if (files.key) put("postgresql.key", files.key(world));
  if (files.pgpass) {
    writeFileSync(join(home, ".pgpass"), files.pgpass(world));
    chmodSync(join(home, ".pgpass"), files.pgpassMode ?? 0o600);
  }
  return home;
}

/** Put the real server in `state`: its certificate, or TLS off. */
async function serve(state: ServerState): Promise<void> {
  if (state === serverState) return;
  const pair = state === "good" || state === "off"
    ? ["server.crt", "server.key"]
    : [`${state}.crt`, `${state}.key`];
  const ssl = state === "off" ? "off" : "on";
  await admin.unsafe(`ALTER SYSTEM SET ssl = ${ssl}`);
  await admin.unsafe(`ALTER SYSTEM SET ssl_cert_file = '${join(server.dataDir, pair[0])}'`);
  await admin.unsafe(`ALTER SYSTEM SET ssl_key_file = '${join(server.dataDir, pair[1])}'`);
  await admin.unsafe("SELECT pg_reload_conf()");
  for (let i = 0; i < 200; i++) {
    const [row] = await admin.unsafe<{ ssl: string; file: string }[]>(
      "SELECT current_setting('ssl') AS ssl, current_setting('ssl_cert_file') AS file",
    );
    if (row.ssl === ssl && row.file.endsWith(pair[0])) {
      serverState = state;
      return;
    }
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  throw new Error(`the server did not take its ${state} TLS settings`);
}

const missing = oracleMissing();

describe("libpq as the oracle: psql and the tool agree, case by case", () => {
  before(async () => {
    if (missing) return;
    const certs = makeCertificates("certuser");
    scratch.push(certs.dir);
    // Signed with RSASSA-PSS over SHA-384: tls-server-end-point hashes with
    // the digest in the signature's parameters. An RSA key (Deno's TLS takes
    // no RSA-PSS key), signed with PSS padding.
    const pss = spawnSync("openssl", [
      "req",
      "-x509",
      "-newkey",
      "rsa:2048",
      "-sha384",
      "-sigopt",
      "rsa_padding_mode:pss",
      "-nodes",
      "-keyout",
      join(certs.dir, "pss.key"),
      "-out",
      join(certs.dir, "pss.crt"),
      "-days",
      "2",
      "-subj",
      "/CN=localhost",
      "-addext",
      "subjectAltName=DNS:localhost,IP:127.0.0.1",
    ], { encoding: "utf8" });
    assert.equal(pss.status, 0, pss.stderr);
    server = await startEmbeddedPostgres({
      listen: ["127.0.0.1", "::1"],
      socket: true,
      tls: { cert: certs.serverCert, key: certs.serverKey, ca: certs.ca, reloadable: true },
      files: {
        "otherName.crt": certs.otherName.cert,
        "otherName.key": certs.otherName.key,
        "dnsOnly.crt": certs.dnsOnly.cert,
        "dnsOnly.key": certs.dnsOnly.key,
        "expired.crt": certs.expired.cert,
        "expired.key": certs.expired.key,
        "revoked.crt": certs.revoked.cert,
        "revoked.key": certs.revoked.key,
        "chained.crt": certs.chained.cert,
        "chained.key": certs.chained.key,
        ...Object.fromEntries(
          NAME_CHECK_STATES.flatMap((state) => [
            [`${state}.crt`, certs[state].cert],
            [`${state}.key`, certs[state].key],
          ]),
        ),
        "pss.crt": join(certs.dir, "pss.crt"),
        "pss.key": join(certs.dir, "pss.key"),
      },
      hba: [
        "local all all scram-sha-256",
        "host all md5user all md5",
        "host all cleartextuser all password",
        "host all trustuser all trust",
        "hostssl all certuser 127.0.0.1/32 cert",
        "hostssl all certuser ::1/128 cert",
        "hostssl all sslonly all scram-sha-256",
        "hostnossl all sslonly all reject",
        "hostnossl all plainonly all scram-sha-256",
        "hostssl all plainonly all reject",
        "host all all 127.0.0.1/32 scram-sha-256",
        "host all all ::1/128 scram-sha-256",
      ],
    });
    admin = postgres(server.url, { max: 1, onnotice: () => {} });
    for (
      const [role, password] of [
        ["oracle", PASSWORD],
        ["sslonly", SSL_ONLY_PASSWORD],
        ["plainonly", PLAIN_ONLY_PASSWORD],
        ["certuser", "unused-cert-role-pw"],
      ]
    ) {
      await admin.unsafe(`CREATE ROLE ${role} LOGIN PASSWORD '${password}'`);
    }
    await admin.unsafe(`CREATE ROLE cleartextuser LOGIN PASSWORD '${CLEARTEXT_PASSWORD}'`);
    await admin.unsafe("CREATE ROLE trustuser LOGIN");
    // An md5 rule with a SCRAM secret would run SCRAM: this role keeps an md5 secret.
    await admin.unsafe("SET password_encryption = 'md5'");
    await admin.unsafe(`CREATE ROLE md5user LOGIN PASSWORD '${MD5_PASSWORD}'`);
    await admin.unsafe("RESET password_encryption");
    const peerSocketDir = mkdtempSync(join(tmpdir(), "invite-code-peer-"));
    scratch.push(peerSocketDir);
    const hashedCaDir = mkdtempSync(join(tmpdir(), "invite-code-cadir-"));
    scratch.push(hashedCaDir);
    const hash = spawnSync("openssl", ["x509", "-in", certs.ca, "-noout", "-hash"], {
      encoding: "utf8",
    }).stdout.trim();
    writeFileSync(join(hashedCaDir, `${hash}.0`), readFileSync(certs.ca));
    const chosen: string[] = [];
    world = {
      certs,
      pg: server.port,
      socketDir: server.socketDir!,
      peer: await startPasswordPeer(peerSocketDir),
      peerSocketDir,
      tlsPeer: await startTlsPeer(
        readFileSync(certs.serverCert),
        readFileSync(certs.serverKey),
      ),
      closed: await freePort(),
      silent: await silentListener(),
      hashedCaDir,
      sniPeer: await startSniPeer(),
      relays: {
        other: await startTlsRelay(
          readFileSync(certs.otherName.cert),
          readFileSync(certs.otherName.key),
          server.port,
        ),
        same: await startTlsRelay(
          readFileSync(certs.serverCert),
          readFileSync(certs.serverKey),
          server.port,
          { chosen },
        ),
        plain: await startTlsRelay(
          readFileSync(certs.serverCert),
          readFileSync(certs.serverKey),
          server.port,
          { chosen, plainUpstream: true },
        ),
      },
      startingUp: await startStartingUpPeer(),
      plusPeer: await startScramPeer("plusWithoutTls"),
    };
  });

  after(async () => {
    world?.silent.close();
    await world?.sniPeer.close();
    await world?.peer.close();
    await world?.tlsPeer.close();
    await world?.relays.other.close();
    await world?.relays.same.close();
    await world?.relays.plain.close();
    await world?.startingUp.close();
    await world?.plusPeer.close();
    await admin?.end();
    await server?.stop();
    for (const dir of scratch) rmSync(dir, { recursive: true, force: true });
  });

  test(`at least 60 cases (${CASES.length})`, () => {
    assert.ok(CASES.length >= 60);
  });

  for (const c of CASES) {
    const skip = missing ??
      (c.home && !canMountHome
        ? "files under HOME need root and unshare to show psql the same home"
        : c.chowns && process.getuid?.() !== 0
        ? "giving a file to another user needs root"
        : undefined);
    test(c.name, { skip }, async () => {
      await serve(c.server ?? "good");
      const keywords = c.keywords(world);
      const env = c.env?.(world) ?? {};
      const home = makeHome(c.home);
      const before = world.peer.arrivals.length;
      const tlsBefore = world.tlsPeer.received.length;
      const toolStarted = Date.now();
      const silentBefore = world.silent.accepted.length;
      const sniBefore = world.sniPeer.servernames.length;
      const chosenBefore = world.relays.same.chosen.length;
      const tool = await toolVerdict(keywords, env, home);
      const toolSni = world.sniPeer.servernames.slice(sniBefore);
      const toolMs = Date.now() - toolStarted;
      const toolSilent = world.silent.accepted.length - silentBefore;
      const toolArrivals = world.peer.arrivals.slice(before);
      const toolChose = world.relays.same.chosen.slice(chosenBefore);
      for (const version of c.oracles ?? BOTH) {
        const start = world.peer.arrivals.length;
        const sniStart = world.sniPeer.servernames.length;
        const libpqStarted = Date.now();
        const libpqSilentBefore = world.silent.accepted.length;
        const chosenStart = world.relays.same.chosen.length;
        const libpq = await psqlVerdict(version, keywords, env, home);
        const libpqMs = Date.now() - libpqStarted;
        const libpqChose = world.relays.same.chosen.slice(chosenStart);
        if (c.silentHost) {
          assert.ok(libpqMs >= 950, `libpq ${version} took ${libpqMs} ms`);
          assert.ok(toolMs >= 950, `the tool took ${toolMs} ms`);
          assert.equal(
            toolSilent,
            world.silent.accepted.length - libpqSilentBefore,
            `connections to the silent host, tool against libpq ${version}`,
          );
        }
        const libpqArrivals = world.peer.arrivals.slice(start);
        const libpqSni = world.sniPeer.servernames.slice(sniStart);
        const say = `libpq ${version}: ${JSON.stringify(libpq)}; tool: ${JSON.stringify(tool)}`;
        if (c.refusedOn?.runtime === RUNTIME) {
          // This runtime cannot do what libpq does: refused, and said why.
          assert.equal(tool.connected, false, say);
          assert.match(tool.why ?? "", c.refusedOn.because, say);
        } else {
          assert.equal(tool.connected, libpq.connected, say);
          if (libpq.connected) assert.equal(tool.port, libpq.port, say);
        }
        if (c.sni) {
          assert.ok(libpqSni.length > 0, `libpq ${version} reached the SNI peer`);
          assert.deepEqual(toolSni, libpqSni, `the same server name, or none, was sent; ${say}`);
        }
        if (c.chose) {
          assert.deepEqual(libpqChose, [c.chose], `libpq ${version} through the relay`);
          assert.deepEqual(toolChose, [c.chose], "the tool through the relay");
        }
        if (c.peer) {
          assert.deepEqual(
            toolArrivals.map((a) => a.password ?? null),
            libpqArrivals.map((a) => a.password ?? null),
            `the same password, or none, reached the peer; ${say}`,
          );
        }
      }
      if (c.toolWhy) assert.match(tool.why ?? "", c.toolWhy);
      if (c.noSaslAnswer) {
        assert.ok(world.plusPeer.answered.length >= 3, "every client reached the peer");
        assert.ok(world.plusPeer.answered.every((mechanism) => mechanism === "none"));
      }
      if (c.silentTlsPeer) {
        // Give the last connection's bytes time to arrive before reading the counts.
        await new Promise((resolve) => setTimeout(resolve, 200));
        assert.deepEqual(
          world.tlsPeer.received.slice(tlsBefore).filter((bytes) => bytes > 0),
          [],
          "nothing was sent to a TLS peer that does not speak PostgreSQL",
        );
      }
    });
  }
});
