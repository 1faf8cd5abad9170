/**
 * libpq's connection keywords, honoured as libpq honours them, on top of
 * postgres.js. Open WebUI hands `DATABASE_URL` to SQLAlchemy, whose psycopg2
 * dialect hands the URL's parts and query to libpq; this file does the same
 * hand-off, fills what the URL leaves out from `PG*` variables, and turns the
 * result into postgres.js options.
 *
 * postgres.js never sees a URL, a host string or TLS settings: it splits
 * hosts on ":" (IPv6 breaks, porsager/postgres#663), throws `URIError` on a
 * password with a stray "%" (porsager/postgres#735), and sends query
 * parameters it does not know to the server as settings. Instead it gets a
 * `socket` function (`connector` below) that reaches the first endpoint that
 * answers, over TCP or a Unix socket, negotiates TLS the libpq way, and hands
 * back a connected socket.
 *
 * A new keyword goes in `KEYWORDS`, and, when it changes how a connection is
 * made, in `connector` or `tlsOptions`.
 *
 * @module
 */
import { existsSync, readFileSync, statSync } from "node:fs";
import { connect as tcpConnect, isIP, type Socket } from "node:net";
import { homedir, userInfo } from "node:os";
import { join } from "node:path";
import { connect as tlsConnect, type ConnectionOptions, type TLSSocket } from "node:tls";
import { errorMessage, InviteCodeError, redact } from "../errors.ts";
import type { Env, SqlalchemyUrl } from "../target.ts";

/** libpq keywords and their values, after the URL and the environment. */
export type Conninfo = Record<string, string>;

/** A PostgreSQL database as resolved from the environment. */
export interface PostgresTarget {
  dialect: "postgres";
  /** libpq keywords, password included. */
  conninfo: Conninfo;
  /** Schema holding `"user"`; undefined means the connection's current schema. */
  schema?: string;
  /** The target with secrets masked, safe to print. */
  display: string;
  /** Secrets that must never reach any output. */
  secrets: string[];
  /** Keywords given that change nothing here, named once in a log line. */
  ignored: string[];
}

type Handling =
  /** Applied as libpq applies it. */
  | "use"
  /** Accepted, but it has no effect here; named in one INFO line. */
  | "ignore"
  /** Would weaken a guarantee the operator asked for: refused with a clear line. */
  | "refuse";

interface Keyword {
  handling: Handling;
  /** libpq's environment variable for it, read when the URL is silent. */
  env?: string;
  /** The values libpq accepts; others are refused. */
  values?: readonly string[];
  /** For `refuse`, or values refused: why. */
  why?: string;
  /** Values of a `use` keyword that are refused (`why` says why). */
  refused?: readonly string[];
  secret?: boolean;
}

const SSLMODES = ["disable", "allow", "prefer", "require", "verify-ca", "verify-full"] as const;
type SslMode = typeof SSLMODES[number];
const TLS_VERSIONS = ["TLSv1", "TLSv1.1", "TLSv1.2", "TLSv1.3"] as const;
const NO_GSS = "GSSAPI is not available to this tool";

/** Every keyword libpq 17 knows, and what this tool does with it. */
const KEYWORDS: Record<string, Keyword> = {
  host: { handling: "use", env: "PGHOST" },
  hostaddr: { handling: "use", env: "PGHOSTADDR" },
  port: { handling: "use", env: "PGPORT" },
  dbname: { handling: "use", env: "PGDATABASE" },
  user: { handling: "use", env: "PGUSER" },
  password: { handling: "use", env: "PGPASSWORD", secret: true },
  passfile: { handling: "use", env: "PGPASSFILE" },
  connect_timeout: { handling: "use", env: "PGCONNECT_TIMEOUT" },
  application_name: { handling: "use", env: "PGAPPNAME" },
  fallback_application_name: { handling: "use" },
  options: { handling: "use", env: "PGOPTIONS" },
  sslmode: { handling: "use", env: "PGSSLMODE", values: SSLMODES },
  requiressl: { handling: "use", env: "PGREQUIRESSL", values: ["0", "1"] },
  sslrootcert: { handling: "use", env: "PGSSLROOTCERT" },
  sslcert: { handling: "use", env: "PGSSLCERT" },
  sslkey: { handling: "use", env: "PGSSLKEY" },
  sslpassword: { handling: "use", secret: true },
  sslcrl: { handling: "use", env: "PGSSLCRL" },
  sslsni: { handling: "use", env: "PGSSLSNI", values: ["0", "1"] },
  sslnegotiation: { handling: "use", env: "PGSSLNEGOTIATION", values: ["postgres", "direct"] },
  ssl_min_protocol_version: {
    handling: "use",
    env: "PGSSLMINPROTOCOLVERSION",
    values: TLS_VERSIONS,
  },
  ssl_max_protocol_version: {
    handling: "use",
    env: "PGSSLMAXPROTOCOLVERSION",
    values: TLS_VERSIONS,
  },
  sslcertmode: {
    handling: "use",
    env: "PGSSLCERTMODE",
    values: ["disable", "allow", "require"],
    refused: ["require"],
    why: "this tool cannot tell whether the server asked for the certificate",
  },
  sslcompression: { handling: "ignore", env: "PGSSLCOMPRESSION" },
  sslcrldir: {
    handling: "refuse",
    env: "PGSSLCRLDIR",
    why: "give the revocation list as one file with sslcrl",
  },
  target_session_attrs: {
    handling: "use",
    env: "PGTARGETSESSIONATTRS",
    values: ["any", "read-write", "read-only", "primary", "standby", "prefer-standby"],
  },
  load_balance_hosts: {
    handling: "use",
    env: "PGLOADBALANCEHOSTS",
    values: ["disable", "random"],
  },
  keepalives: { handling: "use", values: ["0", "1"] },
  keepalives_idle: { handling: "use" },
  keepalives_interval: { handling: "ignore" },
  keepalives_count: { handling: "ignore" },
  tcp_user_timeout: { handling: "ignore" },
  gssencmode: {
    handling: "use",
    env: "PGGSSENCMODE",
    values: ["disable", "prefer", "require"],
    refused: ["require"],
    why: NO_GSS,
  },
  krbsrvname: { handling: "ignore", env: "PGKRBSRVNAME" },
  gsslib: { handling: "ignore", env: "PGGSSLIB" },
  gssdelegation: { handling: "ignore", env: "PGGSSDELEGATION" },
  channel_binding: {
    handling: "use",
    env: "PGCHANNELBINDING",
    values: ["disable", "prefer", "require"],
    refused: ["require"],
    why: "SCRAM channel binding is not available to this tool",
  },
  client_encoding: { handling: "ignore", env: "PGCLIENTENCODING" },
  require_auth: {
    handling: "refuse",
    env: "PGREQUIREAUTH",
    why: "this tool cannot restrict the server's authentication method",
  },
  requirepeer: {
    handling: "refuse",
    env: "PGREQUIREPEER",
    why: "this tool cannot check the peer of a Unix socket",
  },
  service: { handling: "refuse", env: "PGSERVICE", why: "pg_service.conf is not read" },
  replication: { handling: "refuse", why: "the repair needs an ordinary connection" },
};

const SQLSTATE_NO_HBA_ENTRY = /no pg_hba\.conf entry|SSL off|no encryption|SSL encryption/;

/**
 * The libpq keywords psycopg2 would receive for this URL, completed from the
 * `PG*` environment, as a target; a keyword libpq would refuse, or one this
 * tool cannot honour safely, is a `config` error naming it.
 *
 * @example
 * ```ts
 * postgresTarget(parseSqlalchemyUrl("postgresql://u:pw@/db?host=/var/run/postgresql"), {}, [])
 *   .conninfo; // { user: "u", password: "pw", dbname: "db", host: "/var/run/postgresql" }
 * ```
 * @param url The URL, split as SQLAlchemy splits it.
 * @param env Where `PG*` variables and `DATABASE_SCHEMA` come from.
 * @param envSecrets Secrets the environment already holds.
 */
export function postgresTarget(
  url: SqlalchemyUrl,
  env: Env,
  envSecrets: readonly string[],
): PostgresTarget {
  const conninfo = fromUrl(url);
  const secrets = [...envSecrets];
  for (const [name, value] of Object.entries(conninfo)) {
    if (KEYWORDS[name]?.secret) secrets.push(value);
  }
  for (const [name, keyword] of Object.entries(KEYWORDS)) {
    const fallback = keyword.env ? env[keyword.env] : undefined;
    if (conninfo[name] === undefined && fallback) conninfo[name] = fallback;
  }
  const ignored: string[] = [];
  for (const [name, value] of Object.entries(conninfo)) {
    const keyword = KEYWORDS[name];
    if (keyword.handling === "ignore") ignored.push(name);
    if (keyword.handling === "refuse") refuse(`${name} is not supported: ${keyword.why}`);
    if (keyword.values && !keyword.values.includes(value)) {
      refuse(`invalid ${name} value ${shown(value)} (expected ${keyword.values.join(", ")})`);
    }
    if (keyword.refused?.includes(value)) {
      refuse(`${name}=${value} is not supported: ${keyword.why}`);
    }
  }
  // Problems with hosts, ports and TLS modes surface now, not at connect.
  endpoints(conninfo);
  sslMode(conninfo);
  return {
    dialect: "postgres",
    conninfo,
    schema: databaseSchema(env),
    // Masked as well: a secret can hide in any part (a database named like it).
    display: redact(displayOf(url, conninfo), secrets),
    secrets,
    ignored,
  };
}

/** SQLAlchemy's psycopg2 `create_connect_args`: URL parts, then the query, hosts merged. */
function fromUrl(url: SqlalchemyUrl): Conninfo {
  const conninfo: Conninfo = {};
  // translate_connect_args skips empty parts.
  if (url.username) conninfo.user = url.username;
  if (url.password) conninfo.password = url.password;
  if (url.host) conninfo.host = url.host;
  if (url.port !== null) conninfo.port = String(url.port);
  if (url.database) conninfo.dbname = url.database;
  const query = { ...url.query };
  // postgresql+asyncpg URLs spell the TLS mode "ssl".
  if (/\+asyncpg$/i.test(url.drivername) && query.ssl !== undefined && !query.sslmode) {
    query.sslmode = query.ssl;
    delete query.ssl;
  }
  const { host, port } = multihost(query);
  for (const [name, value] of Object.entries(query)) {
    if (name === "host" || name === "port") continue;
    if (!(name in KEYWORDS)) {
      refuse(`invalid connection option ${shown(name)} in the database URL (libpq refuses it too)`);
    }
    if (Array.isArray(value)) refuse(`connection option ${shown(name)} is given more than once`);
    conninfo[name] = value;
  }
  if (host !== undefined) conninfo.host = host;
  if (port !== undefined) conninfo.port = port;
  return conninfo;
}

/** SQLAlchemy's `_split_multihost_from_url`: `?host=h1:p1&host=h2:p2` or `host=h1,h2&port=p1,p2`. */
function multihost(
  query: Record<string, string | string[]>,
): { host?: string; port?: string } {
  const hosts = query.host;
  const ports = query.port;
  if (Array.isArray(hosts)) {
    if (ports !== undefined) {
      refuse("a host list with ports cannot be mixed with a port= parameter");
    }
    const pairs = hosts.map((token) => token.includes(":") ? token.split(":") : [token, ""]);
    if (pairs.some((pair) => pair.length !== 2)) {
      refuse(`received non-integer port arguments in host list`);
    }
    return { host: pairs.map(([h]) => h).join(","), port: joinPorts(pairs.map(([, p]) => p)) };
  }
  if (hosts !== undefined && ports === undefined && !hosts.includes(",") && hosts.includes(":")) {
    const match = /^([a-zA-Z0-9.-]*)(?::(\d*))?$/.exec(hosts);
    if (match) return { host: match[1], port: joinPorts([match[2] ?? ""]) };
  }
  const portList = ports === undefined ? undefined : [ports].flat().join(",");
  if (portList !== undefined && portList.split(",").some((p) => p !== "" && !/^\d+$/.test(p))) {
    refuse(`received non-integer port arguments: ${shown(portList)}`);
  }
  const count = (text: string | undefined) => text === undefined ? 0 : text.split(",").length;
  const hostCount = count(hosts as string | undefined);
  const portCount = count(portList);
  if (portCount > 1 && hostCount !== portCount && (hostCount > 1 || portCount > 1)) {
    refuse("number of hosts and ports don't match");
  }
  return { host: hosts as string | undefined, port: portList };
}

function joinPorts(ports: string[]): string | undefined {
  if (ports.some((p) => p !== "" && !/^\d+$/.test(p))) {
    refuse(`received non-integer port arguments: ${shown(ports.join(","))}`);
  }
  return ports.some((p) => p !== "") ? ports.join(",") : undefined;
}

function databaseSchema(env: Env): string | undefined {
  const schema = env.DATABASE_SCHEMA || undefined;
  if (
    schema !== undefined &&
    (schema.includes("\0") || new TextEncoder().encode(schema).length > 63)
  ) {
    refuse("DATABASE_SCHEMA must be a PostgreSQL schema name: at most 63 bytes, no NUL");
  }
  return schema;
}

/** A printable form: who, where, which database, and the non-secret keywords. */
function displayOf(url: SqlalchemyUrl, conninfo: Conninfo): string {
  const user = conninfo.user ? encodeURIComponent(conninfo.user) : "";
  const auth = user || conninfo.password ? `${user}${conninfo.password ? ":***" : ""}@` : "";
  const host = conninfo.host === undefined
    ? ""
    : conninfo.host.split(",").map((h) => (isIP(h) === 6 ? `[${h}]` : h)).join(",");
  const port = conninfo.port === undefined || conninfo.port.includes(",")
    ? ""
    : `:${conninfo.port}`;
  const shownHost = host.includes("/") || host.includes(",") ? "" : host;
  const query = Object.entries(conninfo)
    .filter(([name]) => !["user", "password", "dbname", "port"].includes(name))
    .filter(([name]) => name !== "host" || shownHost === "")
    .map(([name, value]) => `${name}=${KEYWORDS[name]?.secret ? "***" : value}`)
    .join("&");
  const path = `/${conninfo.dbname ?? ""}`;
  return `${url.drivername}://${auth}${shownHost}${port}${path}${query ? `?${query}` : ""}`;
}

function refuse(message: string): never {
  throw new InviteCodeError("config", message);
}

/** A value from the URL as an error line may show it: quoted, one line, short. */
function shown(value: string): string {
  return JSON.stringify(value.length > 40 ? `${value.slice(0, 40)}...` : value);
}

/**
 * Whether a default file (`~/.postgresql/root.crt`, ...) is there. A file the
 * process may not even look at (Deno without --allow-read) is not there, as
 * for libpq a file it cannot stat is not there.
 */
function present(path: string): boolean {
  try {
    return existsSync(path);
  } catch {
    return false;
  }
}

/** One place a connection can be made. */
export type Endpoint =
  | { kind: "unix"; path: string; label: string }
  | { kind: "tcp"; address: string; port: number; tlsName: string; label: string };

/**
 * Where libpq would try to connect, in its order: each `host` (a name, an
 * address, a Unix socket directory, `@abstract`), with `hostaddr` and `port`
 * matched to it.
 *
 * @example
 * ```ts
 * endpoints({ host: "/var/run/postgresql", port: "5432" });
 * // [{ kind: "unix", path: "/var/run/postgresql/.s.PGSQL.5432", label: "/var/run/postgresql" }]
 * ```
 * @param conninfo The keywords; where they are silent, libpq's compiled-in defaults stand.
 */
export function endpoints(conninfo: Conninfo): Endpoint[] {
  const hosts = (conninfo.host ?? "").split(",");
  const addresses = conninfo.hostaddr === undefined ? [] : conninfo.hostaddr.split(",");
  if (addresses.length > 0 && conninfo.host !== undefined && addresses.length !== hosts.length) {
    refuse(`could not match ${hosts.length} host names to ${addresses.length} hostaddr values`);
  }
  const count = Math.max(hosts.length, addresses.length);
  const ports = (conninfo.port ?? "").split(",");
  if (ports.length !== 1 && ports.length !== count) {
    refuse(`could not match ${ports.length} port numbers to ${count} hosts`);
  }
  const list: Endpoint[] = [];
  for (let i = 0; i < count; i++) {
    const rawPort = (ports.length === 1 ? ports[0] : ports[i]).trim();
    const port = rawPort === "" ? 5432 : Number(rawPort);
    if (!/^\d{1,5}$/.test(rawPort || "5432") || port < 1 || port > 65535) {
      refuse(`invalid port number: ${shown(rawPort)}`);
    }
    const host = hosts[i] ?? "";
    const address = addresses[i] ?? "";
    if (address) {
      if (!isIP(address)) refuse(`could not parse network address ${shown(address)}`);
      list.push({ kind: "tcp", address, port, tlsName: host || address, label: host || address });
    } else if (host === "" || host.startsWith("/")) {
      // libpq's compiled-in default as Debian builds it (and psycopg2-binary).
      const dir = host || "/var/run/postgresql";
      list.push({ kind: "unix", path: `${dir}/.s.PGSQL.${port}`, label: dir });
    } else if (host.startsWith("@")) {
      list.push({ kind: "unix", path: `\0${host.slice(1)}/.s.PGSQL.${port}`, label: host });
    } else {
      list.push({ kind: "tcp", address: host, port, tlsName: host, label: `${host}:${port}` });
    }
  }
  return list;
}

/** The TLS mode in force, with libpq's defaults and its `sslrootcert=system` rule. */
function sslMode(conninfo: Conninfo): SslMode {
  const system = conninfo.sslrootcert === "system";
  const given = conninfo.sslmode as SslMode | undefined ??
    (conninfo.requiressl === "1" ? "require" : undefined);
  if (system && given && given !== "verify-full") {
    refuse(`weak sslmode "${given}" may not be used with sslrootcert=system (use "verify-full")`);
  }
  return given ?? (system ? "verify-full" : "prefer");
}

/** postgres.js options derived from the keywords; see `connector`. */
export interface DriverOptions {
  username: string;
  password: string;
  database: string;
  /** Seconds; postgres.js's own bound on the startup exchange. */
  connectTimeoutSeconds: number;
  /** Seconds before TCP keepalive probes, or null for none. */
  keepAlive: number | null;
  targetSessionAttrs: string | null;
  /** Startup parameters: `application_name`, `options`. */
  connection: Record<string, string>;
  connector: Connector;
}

/**
 * Everything postgres.js needs to reach the target, read now (certificate
 * files, the password file) so that a missing file is one clear line.
 *
 * @example
 * ```ts
 * const driver = driverOptions(target, () => Date.now() + 5000, process.env);
 * postgres({ socket: driver.connector.socket, username: driver.username, ... });
 * ```
 * @param target The resolved target.
 * @param deadline Gives the epoch milliseconds after which no attempt may wait.
 * @param env Where `HOME` and the OS user come from.
 */
export function driverOptions(
  target: PostgresTarget,
  deadline: () => number,
  env: Env,
): DriverOptions {
  const conninfo = target.conninfo;
  const username = conninfo.user ?? osUser();
  const database = conninfo.dbname ?? username;
  const list = endpoints(conninfo);
  if (conninfo.load_balance_hosts === "random") shuffle(list);
  const password = conninfo.password ?? passwordFromFile(conninfo, env, list, database, username);
  const timeout = Number(conninfo.connect_timeout ?? 0);
  if (!Number.isFinite(timeout)) {
    refuse(`invalid connect_timeout value ${shown(conninfo.connect_timeout ?? "")}`);
  }
  // libpq: 0 or none means wait forever (here: until the deadline); under 2 means 2.
  const perAttemptMs = timeout > 0 ? Math.max(2, Math.floor(timeout)) * 1000 : Infinity;
  const keepIdle = conninfo.keepalives_idle === undefined ? 60 : Number(conninfo.keepalives_idle);
  return {
    username,
    password: password ?? "",
    database,
    connectTimeoutSeconds: Number.isFinite(perAttemptMs) ? perAttemptMs / 1000 : 30,
    keepAlive: conninfo.keepalives === "0" ? null : Math.max(1, keepIdle || 60),
    targetSessionAttrs: conninfo.target_session_attrs && conninfo.target_session_attrs !== "any"
      ? conninfo.target_session_attrs
      : null,
    connection: {
      application_name: conninfo.application_name ?? conninfo.fallback_application_name ??
        "invite-code-repair",
      ...(conninfo.options ? { options: conninfo.options } : {}),
    },
    connector: connector(list, sslMode(conninfo), tlsOptions(conninfo, env), {
      perAttemptMs,
      deadline,
      negotiation: conninfo.sslnegotiation === "direct" ? "direct" : "postgres",
      preferStandby: conninfo.target_session_attrs === "prefer-standby",
    }),
  };
}

function osUser(): string {
  try {
    return userInfo().username;
  } catch {
    refuse("no database user: name one in the URL, or set PGUSER");
  }
}

function shuffle<T>(list: T[]): void {
  for (let i = list.length - 1; i > 0; i--) {
    const j = crypto.getRandomValues(new Uint32Array(1))[0] % (i + 1);
    [list[i], list[j]] = [list[j], list[i]];
  }
}

function homeFile(env: Env, ...parts: string[]): string {
  return join(env.HOME || safeHomedir(), ...parts);
}

function safeHomedir(): string {
  try {
    return homedir();
  } catch {
    return "/";
  }
}

/** libpq's password file: `host:port:database:user:password`, `*` matches anything. */
function passwordFromFile(
  conninfo: Conninfo,
  env: Env,
  list: Endpoint[],
  database: string,
  username: string,
): string | undefined {
  const file = conninfo.passfile ?? homeFile(env, ".pgpass");
  let text: string;
  try {
    // libpq ignores a password file others can read.
    if ((statSync(file).mode & 0o077) !== 0) return undefined;
    text = readFileSync(file, "utf8");
  } catch {
    return undefined;
  }
  const first = list[0];
  const host = first.kind === "unix" ? "localhost" : first.label.replace(/:\d+$/, "");
  const port = first.kind === "unix"
    ? first.path.replace(/^.*\.s\.PGSQL\./, "")
    : String(first.port);
  for (const line of text.split("\n")) {
    if (!line || line.startsWith("#")) continue;
    const fields = line.split(/(?<!\\):/).map((f) => f.replace(/\\(.)/g, "$1"));
    if (fields.length < 5) continue;
    const wanted = [host, port, database, username];
    if (wanted.every((value, i) => fields[i] === "*" || fields[i] === value)) {
      return fields.slice(4).join(":");
    }
  }
  return undefined;
}

/** Node TLS options for the keywords: CA, client certificate, CRL, SNI, versions. */
function tlsOptions(conninfo: Conninfo, env: Env): ConnectionOptions & { verifyHost: boolean } {
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
  const options: ConnectionOptions & { verifyHost: boolean } = {
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

/** Connects postgres.js to the target the libpq way. */
export interface Connector {
  /** postgres.js's `socket` option: a connected (and, where due, encrypted) socket. */
  socket(options: { host: string[] }): Promise<Socket | TLSSocket>;
  /**
   * After the server refused a connection for its encryption (a `pg_hba.conf`
   * rule): whether libpq would try once more the other way (`allow` upgrades
   * to TLS, `prefer` falls back to plain). Switches when it returns true.
   */
  retryOtherWay(error: unknown): boolean;
  /** A query succeeded: the current endpoint is the one to keep. */
  settled(): void;
  /**
   * Resolves once every socket handed out has sent its last byte (the
   * Terminate message) or closed. The server then takes a few more
   * milliseconds to end its backend, which nobody needs to wait for.
   */
  hungUp(): Promise<void>;
}

interface ConnectorSettings {
  perAttemptMs: number;
  deadline: () => number;
  negotiation: "postgres" | "direct";
  preferStandby: boolean;
}

function connector(
  list: Endpoint[],
  mode: SslMode,
  tls: ConnectionOptions & { verifyHost: boolean },
  settings: ConnectorSettings,
): Connector {
  // allow: plain first; prefer: TLS first; each may switch once.
  let tlsFirst = mode !== "disable" && mode !== "allow";
  let switched = false;
  // postgres.js reconnects when target_session_attrs rejects a server: the
  // next call starts after the endpoint that was rejected.
  let start = 0;
  let unsettled = 0;
  const open = new Set<Socket | TLSSocket>();

  async function attempt(endpoint: Endpoint): Promise<Socket | TLSSocket> {
    const limit = Math.min(settings.perAttemptMs, Math.max(1, settings.deadline() - Date.now()));
    const plain = await withTimeout(limit, endpoint.label, openSocket(endpoint));
    if (endpoint.kind === "unix" || !tlsFirst) return plain;
    try {
      return await withTimeout(limit, endpoint.label, secure(plain, endpoint, mode, tls, settings));
    } catch (error) {
      plain.destroy();
      // libpq in prefer mode falls back to a plain connection when TLS fails.
      if (mode !== "prefer") throw error;
      return await withTimeout(limit, endpoint.label, openSocket(endpoint));
    }
  }

  return {
    async socket(options) {
      if (++unsettled > list.length * 2 + 2) {
        unsettled = 0;
        throw new InviteCodeError("connect", "no server matched target_session_attrs");
      }
      // prefer-standby: once every server was tried, postgres.js must accept
      // a primary; it does when its first host entry is empty.
      if (settings.preferStandby && unsettled > list.length) options.host[0] = "";
      const failures: string[] = [];
      for (let i = 0; i < list.length; i++) {
        const index = (start + i) % list.length;
        try {
          const socket = await attempt(list[index]);
          if (options.host.length > 0 && unsettled <= list.length) {
            start = (index + 1) % list.length;
          }
          open.add(socket);
          socket.once("close", () => open.delete(socket));
          return socket;
        } catch (error) {
          failures.push(`${list[index].label}: ${errorMessage(error)}`);
        }
      }
      throw new InviteCodeError(
        "connect",
        `cannot connect to PostgreSQL: ${failures.join("; ")}`,
      );
    },
    retryOtherWay(error) {
      const message = errorMessage(error);
      if (switched || !SQLSTATE_NO_HBA_ENTRY.test(message)) return false;
      if (mode !== "allow" && mode !== "prefer") return false;
      switched = true;
      tlsFirst = !tlsFirst;
      return true;
    },
    settled() {
      unsettled = 0;
      start = 0;
    },
    async hungUp() {
      await Promise.all(
        [...open].map((socket) =>
          socket.writableFinished || socket.destroyed ? undefined : new Promise<void>((resolve) => {
            socket.once("finish", resolve);
            socket.once("close", resolve);
          })
        ),
      );
    },
  };
}

function openSocket(endpoint: Endpoint): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const socket = endpoint.kind === "unix"
      ? tcpConnect({ path: endpoint.path })
      : tcpConnect({ host: endpoint.address, port: endpoint.port });
    socket.once("connect", () => {
      socket.removeListener("error", reject);
      resolve(socket);
    });
    socket.once("error", reject);
  });
}

const SSL_REQUEST = new Uint8Array([0, 0, 0, 8, 0x04, 0xd2, 0x16, 0x2f]);

/** The libpq TLS handshake: SSLRequest, then TLS when the server says "S". */
async function secure(
  socket: Socket,
  endpoint: Extract<Endpoint, { kind: "tcp" }>,
  mode: SslMode,
  tls: ConnectionOptions & { verifyHost: boolean },
  settings: ConnectorSettings,
): Promise<Socket | TLSSocket> {
  if (settings.negotiation === "postgres") {
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
      ...(settings.negotiation === "direct" ? { ALPNProtocols: ["postgresql"] } : {}),
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

function withTimeout<T>(ms: number, label: string, work: Promise<T>): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  let expired = false;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      expired = true;
      reject(new Error(`timeout expired connecting to ${label}`));
    }, Math.min(ms, 2_147_483_647));
  });
  work.then((value) => {
    // A socket that connected after the timeout must not stay open.
    if (expired) (value as { destroy?: () => void }).destroy?.();
  }, () => {});
  return Promise.race([work, late]).finally(() => clearTimeout(timer));
}
