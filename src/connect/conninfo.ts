/**
 * The third step: libpq's conninfo. SQLAlchemy's psycopg2 dialect hands the
 * URL's parts and query to libpq as keywords; this file does the same
 * hand-off, fills what the URL leaves out from `PG*` variables, and checks
 * every keyword against libpq's table, so that a keyword libpq would refuse,
 * or one this tool cannot honour safely, is one clear line before any
 * connection. What it makes, `PostgresTarget`, holds the one resolved
 * `ConnectionConfig` (hosts as attempts, timeouts, what each session sends
 * and checks), which `passfile.ts` and `tls.ts` complete and the connector
 * alone reads: nothing after this step reads a keyword.
 *
 * A new keyword goes in `KEYWORDS`, and, when it changes how a connection is
 * made, in `ConnectionConfig` and `connector.ts` or `tls.ts`.
 *
 * @module
 */
import type { X509Certificate } from "node:crypto";
import { isIP } from "node:net";
import { userInfo } from "node:os";
import type { ConnectionOptions } from "node:tls";
import { InviteCodeError, redact } from "../errors.ts";
import type { Env } from "./environment.ts";
import type { SqlalchemyUrl } from "./sqlalchemy.ts";

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
  /** Everything the connector needs, read once: it never sees a keyword or the environment. */
  connection: ConnectionConfig;
}

/** How one host is tried: TLS negotiated first, or plain. */
export type TlsWay = "tls" | "plain";

/** One host libpq would try, with everything its attempt needs. */
export interface HostAttempt {
  readonly endpoint: Endpoint;
  /**
   * The `password` keyword, else this host's own from the password file
   * (filled in by `passfile.ts`; undefined until then).
   */
  readonly password: string | undefined;
  /**
   * The ways to try it, in order; the second is tried once, as libpq
   * switches: after a pg_hba.conf refusal (28000) under `allow` or `prefer`,
   * or after a failed TLS handshake under `prefer`. A Unix socket is plain.
   */
  readonly ways: readonly TlsWay[];
  /** `connect_timeout` in ms, from the socket to the session's answer; Infinity for none. */
  readonly timeoutMs: number;
}

/**
 * Node TLS options, and what is checked here rather than by the runtime: the
 * server's name (verify-full), the root its chain ends at, and whether SNI is sent.
 */
export type TlsOptions = ConnectionOptions & {
  verifyHost: boolean;
  /** `sslsni`: libpq sends the host name when the value starts with "1" (the default). */
  sni: boolean;
  /** The certificates a chain may end at, when one is verified (`sslrootcert`, root.crt, system). */
  roots?: X509Certificate[];
};

/**
 * The TLS files as `tls.ts` read them at resolve: the options, or the line
 * libpq would refuse them with. libpq reads them when it connects, so the
 * refusal waits for the connection (a target that names a missing CA still
 * resolves); the files are read once all the same.
 */
export type TlsSettings = { readonly options: TlsOptions } | { readonly refused: InviteCodeError };

/** libpq's `target_session_attrs` values. */
export const SESSION_ATTRS = [
  "any",
  "read-write",
  "read-only",
  "primary",
  "standby",
  "prefer-standby",
] as const;
export type SessionAttrs = typeof SESSION_ATTRS[number];
/** libpq's `sslnegotiation`: an SSLRequest first, or TLS straight away (PostgreSQL 17). */
export const NEGOTIATIONS = ["postgres", "direct"] as const;
export type Negotiation = typeof NEGOTIATIONS[number];
/** libpq's `channel_binding` values. */
export const CHANNEL_BINDINGS = ["disable", "prefer", "require"] as const;
export type ChannelBindingMode = typeof CHANNEL_BINDINGS[number];
/** libpq's `load_balance_hosts` values. */
export const LOAD_BALANCE_HOSTS = ["disable", "random"] as const;

/**
 * A PostgreSQL connection as libpq would make it, resolved once: the hosts
 * to try in order, each with its password, ways and timeout, and what every
 * session sends and checks. Immutable; the connector reads only this.
 */
export interface ConnectionConfig {
  readonly attempts: readonly HostAttempt[];
  /** The user sent: as given, else the OS user. */
  readonly user: string;
  /** The database sent: as given, else the user's name. */
  readonly database: string;
  /** Startup parameters besides user and database: `application_name`, `options`. */
  readonly parameters: Readonly<Record<string, string>>;
  /** Seconds before TCP keepalive probes, or null for none. */
  readonly keepAliveSeconds: number | null;
  readonly sslmode: SslMode;
  readonly tls: TlsSettings;
  readonly negotiation: Negotiation;
  readonly targetSessionAttrs: SessionAttrs;
  readonly channelBinding: ChannelBindingMode;
  /** `random`: each connection tries the hosts in an order of its own. */
  readonly loadBalanceHosts: typeof LOAD_BALANCE_HOSTS[number];
  /** `connect_timeout` in ms, per host; Infinity for none (the deadline bounds it). */
  readonly connectTimeoutMs: number;
}

/** Until `tls.ts` has read the files: a target made without that step never connects. */
const TLS_UNREAD: TlsSettings = {
  refused: new InviteCodeError("config", "the TLS files were not read (tls.ts withTls)"),
};

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
  /** The values libpq accepts, compared as libpq compares them (`strcmp`); others are refused. */
  values?: readonly string[];
  /** libpq compares the values ignoring case (`pg_strcasecmp`); they are kept as `values` spells them. */
  anyCase?: true;
  /** For `refuse`, or values refused: why. */
  why?: string;
  /** Values of a `use` keyword that are refused (`why` says why). */
  refused?: readonly string[];
  secret?: boolean;
}

export const SSLMODES = [
  "disable",
  "allow",
  "prefer",
  "require",
  "verify-ca",
  "verify-full",
] as const;
export type SslMode = typeof SSLMODES[number];
/** libpq's protocol versions, oldest first. */
export const TLS_VERSIONS = ["TLSv1", "TLSv1.1", "TLSv1.2", "TLSv1.3"] as const;
/** libpq's compiled-in `ssl_min_protocol_version`. */
export const DEFAULT_MIN_TLS_VERSION = "TLSv1.2";
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
  // Never kept: libpq turns it into sslmode where it is written (fromUrl), and
  // reads PGREQUIRESSL only where neither it nor PGSSLMODE says anything.
  requiressl: { handling: "use" },
  sslrootcert: { handling: "use", env: "PGSSLROOTCERT" },
  sslcert: { handling: "use", env: "PGSSLCERT" },
  sslkey: { handling: "use", env: "PGSSLKEY" },
  sslpassword: { handling: "use", secret: true },
  sslcrl: { handling: "use", env: "PGSSLCRL" },
  // Any value: libpq sends SNI when it starts with "1".
  sslsni: { handling: "use", env: "PGSSLSNI" },
  sslnegotiation: { handling: "use", env: "PGSSLNEGOTIATION", values: NEGOTIATIONS },
  ssl_min_protocol_version: {
    handling: "use",
    env: "PGSSLMINPROTOCOLVERSION",
    values: TLS_VERSIONS,
    anyCase: true,
  },
  ssl_max_protocol_version: {
    handling: "use",
    env: "PGSSLMAXPROTOCOLVERSION",
    values: TLS_VERSIONS,
    anyCase: true,
  },
  sslcertmode: {
    handling: "use",
    env: "PGSSLCERTMODE",
    values: ["disable", "allow", "require"],
    refused: ["require"],
    why: "this tool cannot tell whether the server asked for the certificate",
  },
  sslcompression: { handling: "ignore", env: "PGSSLCOMPRESSION" },
  sslcrldir: { handling: "use", env: "PGSSLCRLDIR" },
  target_session_attrs: {
    handling: "use",
    env: "PGTARGETSESSIONATTRS",
    values: SESSION_ATTRS,
  },
  load_balance_hosts: {
    handling: "use",
    env: "PGLOADBALANCEHOSTS",
    values: LOAD_BALANCE_HOSTS,
  },
  // An integer, as libpq's parse_int_param reads it: 0 is off, anything else on.
  keepalives: { handling: "use" },
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
    values: CHANNEL_BINDINGS,
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

/** Every keyword libpq 17 knows; each has its line in the README's "Connecting" table. */
export const KEYWORD_NAMES: readonly string[] = Object.keys(KEYWORDS);

/**
 * The libpq keywords psycopg2 would receive for this URL, completed from the
 * `PG*` environment, as a target; a keyword libpq would refuse, or one this
 * tool cannot honour safely, is a `config` error naming it.
 *
 * @example
 * ```ts
 * import { parseSqlalchemyUrl } from "./sqlalchemy.ts";
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
  // libpq's conninfo_add_defaults: PGREQUIRESSL counts only where neither the
  // URL nor PGSSLMODE names a mode, and only a value starting with "1".
  if (conninfo.sslmode === undefined && env.PGREQUIRESSL?.startsWith("1")) {
    conninfo.sslmode = "require";
  }
  const ignored: string[] = [];
  for (const [name, value] of Object.entries(conninfo)) {
    const keyword = KEYWORDS[name];
    if (keyword.handling === "ignore") ignored.push(name);
    if (keyword.handling === "refuse") refuse(`${name} is not supported: ${keyword.why}`);
    const spelled = keyword.anyCase
      ? keyword.values?.find((known) => known.toLowerCase() === value.toLowerCase())
      : keyword.values?.find((known) => known === value);
    if (keyword.values && spelled === undefined) {
      refuse(`invalid ${name} value ${shown(value)} (expected ${keyword.values.join(", ")})`);
    }
    if (spelled !== undefined) conninfo[name] = spelled;
    if (keyword.refused?.includes(value)) {
      refuse(`${name}=${value} is not supported: ${keyword.why}`);
    }
  }
  return {
    dialect: "postgres",
    conninfo,
    schema: databaseSchema(env),
    // Masked as well: a secret can hide in any part (a database named like it).
    display: redact(displayOf(url, conninfo), secrets),
    secrets,
    ignored,
    // Problems with hosts, ports, TLS modes and timeouts surface now, not at connect.
    connection: connectionConfig(conninfo),
  };
}

/**
 * What the keywords alone say of the connection; the password file and the
 * TLS files are read by the next steps (`passfile.ts`, `tls.ts`).
 */
function connectionConfig(conninfo: Conninfo): ConnectionConfig {
  const list = endpoints(conninfo);
  const sslmode = sslMode(conninfo);
  checkProtocolRange(conninfo);
  if (conninfo.keepalives !== undefined && !/^\s*[+-]?\d+\s*$/.test(conninfo.keepalives)) {
    refuse(
      `invalid integer value ${shown(conninfo.keepalives)} for connection option "keepalives"`,
    );
  }
  const connectTimeoutMs = connectTimeout(conninfo.connect_timeout ?? "0");
  const { username, database } = sessionUser(conninfo);
  const keepIdle = conninfo.keepalives_idle === undefined ? 60 : Number(conninfo.keepalives_idle);
  const attempts = list.map((endpoint): HostAttempt => ({
    endpoint,
    password: conninfo.password || undefined,
    ways: endpoint.kind === "unix" ? ["plain"] : WAYS[sslmode],
    timeoutMs: connectTimeoutMs,
  }));
  return {
    attempts,
    user: username,
    database,
    parameters: {
      application_name: conninfo.application_name ?? conninfo.fallback_application_name ??
        "invite-code-repair",
      ...(conninfo.options ? { options: conninfo.options } : {}),
    },
    keepAliveSeconds: Number(conninfo.keepalives) === 0 ? null : Math.max(1, keepIdle || 60),
    sslmode,
    tls: TLS_UNREAD,
    negotiation: (conninfo.sslnegotiation ?? "postgres") as Negotiation,
    targetSessionAttrs: (conninfo.target_session_attrs ?? "any") as SessionAttrs,
    channelBinding: (conninfo.channel_binding ?? "prefer") as ChannelBindingMode,
    loadBalanceHosts: conninfo.load_balance_hosts === "random" ? "random" : "disable",
    connectTimeoutMs,
  };
}

/** libpq's order of ways per sslmode: `allow` plain first, `prefer` TLS first, each may switch once. */
const WAYS: Record<SslMode, readonly TlsWay[]> = {
  disable: ["plain"],
  allow: ["plain", "tls"],
  prefer: ["tls", "plain"],
  require: ["tls"],
  "verify-ca": ["tls"],
  "verify-full": ["tls"],
};

/**
 * `connect_timeout` in ms, as libpq 17 reads it (parse_int_param: a whole
 * number in base 10, blanks around it allowed): 0, negative or none waits
 * forever (here: until the deadline), and 1 means one second (libpq 16 and
 * older read 1 as 2).
 */
function connectTimeout(rawTimeout: string): number {
  const timeout = /^\s*[+-]?\d{1,10}\s*$/.test(rawTimeout) ? Number(rawTimeout) : NaN;
  if (!(Math.abs(timeout) <= 2 ** 31 - 1)) {
    refuse(
      `invalid integer value ${shown(rawTimeout)} for connection option "connect_timeout"`,
    );
  }
  return timeout > 0 ? timeout * 1000 : Infinity;
}

/**
 * The user and database libpq would send: as given, else the OS user, and a
 * database named after the user.
 *
 * @param conninfo The keywords.
 */
export function sessionUser(conninfo: Conninfo): { username: string; database: string } {
  let username = conninfo.user;
  if (!username) {
    try {
      username = userInfo().username;
    } catch {
      refuse("no database user: name one in the URL, or set PGUSER");
    }
  }
  return { username, database: conninfo.dbname || username };
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
    if (name === "requiressl") {
      // libpq's conninfo_storeval: requiressl is sslmode, where it is written,
      // so whichever of the two comes last wins; "1..." is require, anything else prefer.
      conninfo.sslmode = value.startsWith("1") ? "require" : "prefer";
    } else {
      conninfo[name] = value;
    }
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

/**
 * Throw the `config` error for a connection setting.
 *
 * @param message What is wrong, one line, no secret.
 */
export function refuse(message: string): never {
  throw new InviteCodeError("config", message);
}

/**
 * A value from the URL as an error line may show it: quoted, one line, short.
 *
 * @param value The value as given.
 */
export function shown(value: string): string {
  return JSON.stringify(value.length > 40 ? `${value.slice(0, 40)}...` : value);
}

/** libpq's compiled-in socket directory, as Debian builds it (and psycopg2-binary). */
export const DEFAULT_SOCKET_DIR = "/var/run/postgresql";

/** What every place to connect to carries, as libpq's `connhost` entry holds it. */
interface EndpointBase {
  /** The `host` entry as given; the default socket directory when neither it nor `hostaddr` is. */
  host: string;
  /** The `hostaddr` entry, or "". */
  hostaddr: string;
  port: number;
  /** How messages name it. */
  label: string;
}

/** One place a connection can be made. */
export type Endpoint =
  | EndpointBase & { kind: "unix"; path: string }
  | EndpointBase & { kind: "tcp"; address: string; tlsName: string };

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
      list.push({
        kind: "tcp",
        host,
        hostaddr: address,
        port,
        address,
        tlsName: host || address,
        label: host || address,
      });
    } else if (host === "" || host.startsWith("/")) {
      const dir = host || DEFAULT_SOCKET_DIR;
      const path = `${dir}/.s.PGSQL.${port}`;
      list.push({ kind: "unix", host: dir, hostaddr: "", port, path, label: dir });
    } else if (host.startsWith("@")) {
      const path = `\0${host.slice(1)}/.s.PGSQL.${port}`;
      list.push({ kind: "unix", host, hostaddr: "", port, path, label: host });
    } else {
      const label = `${host}:${port}`;
      list.push({ kind: "tcp", host, hostaddr: "", port, address: host, tlsName: host, label });
    }
  }
  return list;
}

/**
 * The TLS mode in force, with libpq's defaults and its `sslrootcert=system` rule.
 *
 * @param conninfo The keywords.
 */
export function sslMode(conninfo: Conninfo): SslMode {
  const system = conninfo.sslrootcert === "system";
  const given = conninfo.sslmode as SslMode | undefined;
  if (system && given && given !== "verify-full") {
    refuse(`weak sslmode "${given}" may not be used with sslrootcert=system (use "verify-full")`);
  }
  const mode = given ?? (system ? "verify-full" : "prefer");
  // libpq 17: a direct handshake that fails must never fall back to plaintext.
  if (conninfo.sslnegotiation === "direct" && !ENCRYPTED_MODES.includes(mode)) {
    refuse(
      `weak sslmode "${mode}" may not be used with sslnegotiation=direct ` +
        `(use "require", "verify-ca", or "verify-full")`,
    );
  }
  return mode;
}

/**
 * libpq's sslVerifyProtocolRange, before any connection: a minimum above the
 * maximum is refused in every sslmode, never tried and never let fall back to
 * plaintext. An unset minimum is libpq's default, TLSv1.2.
 */
function checkProtocolRange(conninfo: Conninfo): void {
  const min = conninfo.ssl_min_protocol_version ?? DEFAULT_MIN_TLS_VERSION;
  const max = conninfo.ssl_max_protocol_version;
  const rank = (version: string) => TLS_VERSIONS.indexOf(version as typeof TLS_VERSIONS[number]);
  if (max !== undefined && rank(min) > rank(max)) {
    refuse(
      `invalid SSL protocol version range: ssl_min_protocol_version ${min} is above ` +
        `ssl_max_protocol_version ${max}`,
    );
  }
}

/** The modes that never send anything unencrypted. */
const ENCRYPTED_MODES: readonly SslMode[] = ["require", "verify-ca", "verify-full"];
