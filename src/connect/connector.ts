/**
 * The fourth step: the connector. postgres.js never sees a URL, a host string
 * or TLS settings: it splits hosts on ":" (IPv6 breaks, porsager/postgres#663),
 * throws `URIError` on a password with a stray "%" (porsager/postgres#735),
 * and sends query parameters it does not know to the server as settings.
 * Instead it gets a `socket` function that reaches the first endpoint that
 * answers, over TCP or a Unix socket, negotiates TLS the libpq way
 * (`tls.ts`), and hands back a connected socket on which the authentication
 * is carried out the libpq way too, channel binding included (`startup.ts`);
 * postgres.js never sees a password. The rotation over hosts,
 * with `target_session_attrs` and `load_balance_hosts`, lives here and only
 * here: the dialect reports what each new session's server says of itself
 * (`admit`), and the connector decides, as libpq's `PQconnectPoll` does,
 * whether to keep it or move on to the next host.
 *
 * @module
 */
import { connect as tcpConnect, type Socket } from "node:net";
import type { TLSSocket } from "node:tls";
import { errorMessage, InviteCodeError } from "../errors.ts";
import { isPermissionError } from "../runtime.ts";
import {
  type Endpoint,
  endpoints,
  type PostgresTarget,
  refuse,
  sessionUser,
  shown,
  type SslMode,
  sslMode,
} from "./conninfo.ts";
import type { Env } from "./environment.ts";
import type { ChannelBinding } from "./scram.ts";
import { SessionSocket, StartupError } from "./startup.ts";
import { type Negotiation, NoTlsError, secure, type TlsOptions, tlsOptions } from "./tls.ts";

/** invalid_authorization_specification: among others, a `pg_hba.conf` rule refused the session. */
const SQLSTATE_NO_HBA_ENTRY = "28000";
/** cannot_connect_now: "the database system is starting up"; libpq tries the next host. */
const SQLSTATE_CANNOT_CONNECT_NOW = "57P03";

/** libpq's `target_session_attrs` values. */
export type SessionAttrs =
  | "any"
  | "read-write"
  | "read-only"
  | "primary"
  | "standby"
  | "prefer-standby";

/** What a server says of itself, read at the start of every transaction. */
export interface SessionState {
  /** `pg_is_in_recovery()`: a hot standby. */
  inRecovery: boolean;
  /** `default_transaction_read_only` is on. */
  defaultReadOnly: boolean;
}

/**
 * Why libpq would not keep a session for `attrs`, or null to keep it; with
 * `prefer-standby`, the first pass over the hosts wants a standby and the
 * second takes any server.
 *
 * @example
 * ```ts
 * sessionMismatch("read-write", { inRecovery: true, defaultReadOnly: false }, 1);
 * // "server is in hot standby mode"
 * ```
 * @param attrs The `target_session_attrs` in force.
 * @param state What the server said.
 * @param pass 1 for the first pass over the hosts, 2 for the second.
 */
export function sessionMismatch(
  attrs: SessionAttrs,
  state: SessionState,
  pass: 1 | 2,
): string | null {
  const readOnly = state.inRecovery || state.defaultReadOnly;
  switch (attrs) {
    case "read-write":
      return state.inRecovery
        ? "server is in hot standby mode"
        : state.defaultReadOnly
        ? "session is read-only"
        : null;
    case "read-only":
      return readOnly ? null : "session is not read-only";
    case "primary":
      return state.inRecovery ? "server is in hot standby mode" : null;
    case "standby":
      return state.inRecovery ? null : "server is not in hot standby mode";
    case "prefer-standby":
      return pass === 1 && !state.inRecovery ? "server is not in hot standby mode" : null;
    default:
      return null;
  }
}

/** postgres.js options derived from the keywords; see `connector`. */
export interface DriverOptions {
  username: string;
  database: string;
  /** Seconds; postgres.js's own bound on the startup exchange. */
  connectTimeoutSeconds: number;
  /** Seconds before TCP keepalive probes, or null for none. */
  keepAlive: number | null;
  /** Startup parameters: `application_name`, `options`. */
  connection: Record<string, string>;
  connector: Connector;
}

/**
 * Everything postgres.js needs to reach the target, read now (certificate
 * files) so that a missing file is one clear line.
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
  const { username, database } = sessionUser(conninfo);
  // Each endpoint keeps its own password when load_balance_hosts shuffles them.
  const pairs = endpoints(conninfo).map((endpoint, i) => ({
    endpoint,
    password: target.passwords[i],
  }));
  if (conninfo.load_balance_hosts === "random") shuffle(pairs);
  const list = pairs.map((pair) => pair.endpoint);
  const passwords = pairs.map((pair) => pair.password);
  // libpq's parse_int_param: a whole number in base 10, blanks around it allowed.
  const rawTimeout = conninfo.connect_timeout ?? "0";
  const timeout = /^\s*[+-]?\d{1,10}\s*$/.test(rawTimeout) ? Number(rawTimeout) : NaN;
  if (!(Math.abs(timeout) <= 2 ** 31 - 1)) {
    refuse(
      `invalid integer value ${shown(rawTimeout)} for connection option "connect_timeout"`,
    );
  }
  // libpq 17: 0, negative or none waits forever (here: until the deadline), and
  // 1 means one second (libpq 16 and older read 1 as 2).
  const perAttemptMs = timeout > 0 ? timeout * 1000 : Infinity;
  const keepIdle = conninfo.keepalives_idle === undefined ? 60 : Number(conninfo.keepalives_idle);
  const connect = connector(list, passwords, sslMode(conninfo), tlsOptions(conninfo, env), {
    perAttemptMs,
    deadline,
    negotiation: conninfo.sslnegotiation === "direct" ? "direct" : "postgres",
    attrs: (conninfo.target_session_attrs ?? "any") as SessionAttrs,
    channelBinding: (conninfo.channel_binding ?? "prefer") as ChannelBinding,
  });
  return {
    username,
    database,
    // A backstop behind the connector's own bound on each host's attempt.
    connectTimeoutSeconds: Number.isFinite(perAttemptMs) ? perAttemptMs / 1000 + 1 : 30,
    keepAlive: Number(conninfo.keepalives) === 0 ? null : Math.max(1, keepIdle || 60),
    connection: {
      application_name: conninfo.application_name ?? conninfo.fallback_application_name ??
        "invite-code-repair",
      ...(conninfo.options ? { options: conninfo.options } : {}),
    },
    connector: connect,
  };
}

function shuffle<T>(list: T[]): void {
  for (let i = list.length - 1; i > 0; i--) {
    const j = crypto.getRandomValues(new Uint32Array(1))[0] % (i + 1);
    [list[i], list[j]] = [list[j], list[i]];
  }
}

/** Connects postgres.js to the target the libpq way. */
export interface Connector {
  /**
   * postgres.js's `socket` option: a connected (and, where due, encrypted)
   * socket on which the connector itself authenticates, with the password
   * for that host and libpq's channel binding (`startup.ts`).
   */
  socket(): Promise<SessionSocket>;
  /**
   * A new session's server said what it is: true to keep it; false when
   * `target_session_attrs` rejects it, and the next socket goes to the next
   * host. Throws the `connect` error naming every host tried when none is
   * left.
   */
  admit(state: SessionState): boolean;
  /**
   * After the server refused a connection for its encryption (a `pg_hba.conf`
   * rule): whether libpq would try once more the other way (`allow` upgrades
   * to TLS, `prefer` falls back to plain). Switches when it returns true.
   */
  retryOtherWay(error: unknown): boolean;
  /**
   * After a failed connection: whether its host ran out of connect_timeout
   * before its session answered, or said it is starting up (57P03), with
   * another host left, which libpq then tries. Throws the `connect` error
   * naming every host when none is left.
   */
  movedOn(): boolean;
  /**
   * The attempt is over, kept or failed: the next connection starts again
   * from the first host, as every new libpq connection does.
   */
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
  negotiation: Negotiation;
  attrs: SessionAttrs;
  channelBinding: ChannelBinding;
}

function connector(
  list: Endpoint[],
  passwords: readonly (string | undefined)[],
  mode: SslMode,
  tls: TlsOptions,
  settings: ConnectorSettings,
): Connector {
  // allow: plain first; prefer: TLS first; each may switch once.
  let tlsFirst = mode !== "disable" && mode !== "allow";
  let switched = false;
  // One attempt walks the hosts in order, once (twice for prefer-standby).
  let queue: number[] = [];
  let pass: 1 | 2 = 1;
  let failures: string[] = [];
  let current: number | undefined;
  /** The latest host's own socket, under the session wrapper postgres.js gets. */
  let latest: Socket | TLSSocket | undefined;
  const open = new Set<Socket | TLSSocket>();
  /** Sockets whose session answered: their close is no connection failure. */
  const admitted = new WeakSet<Socket | TLSSocket>();
  // connect_timeout bounds a host's whole attempt, up to its session's answer.
  let sessionTimer: ReturnType<typeof setTimeout> | undefined;
  let timedOut = false;
  let startingUp = false;

  function answered(): void {
    clearTimeout(sessionTimer);
    sessionTimer = undefined;
  }

  function restart(): void {
    queue = list.map((_, i) => i);
    pass = 1;
    failures = [];
  }
  restart();

  /** Open a socket to `endpoint` (TLS as the mode says) within `limit` ms. */
  async function attempt(endpoint: Endpoint, limit: number): Promise<Socket | TLSSocket> {
    const plain = await withTimeout(limit, openSocket(endpoint));
    if (endpoint.kind === "unix" || !tlsFirst) return plain;
    try {
      return await withTimeout(
        limit,
        secure(plain, endpoint, mode, tls, settings.negotiation),
      );
    } catch (error) {
      plain.destroy();
      // libpq in prefer mode falls back to a plain connection when TLS fails,
      // but a host out of time is given up, not tried again.
      if (mode !== "prefer" || error instanceof AttemptTimeout) throw error;
      return await withTimeout(limit, openSocket(endpoint));
    }
  }

  /** Every host was tried: the error names each, and the next attempt starts over. */
  function exhausted(): never {
    const tried = failures;
    restart();
    throw new InviteCodeError("connect", `cannot connect to PostgreSQL: ${tried.join("; ")}`);
  }

  return {
    async socket() {
      for (;;) {
        const index = queue.shift();
        if (index === undefined) exhausted();
        const endpoint = list[index];
        // One budget per host, from its socket to its session's answer.
        const began = Date.now();
        const limit = Math.min(settings.perAttemptMs, Math.max(1, settings.deadline() - began));
        try {
          const socket = await attempt(endpoint, limit);
          current = index;
          latest = socket;
          open.add(socket);
          socket.once("close", () => open.delete(socket));
          // A server that takes the socket and hangs up without a byte (a
          // proxy with no backend, a port that is not PostgreSQL) is named as
          // libpq names it; else the next attempt finds no reason.
          let reason: string | undefined;
          socket.once("error", (error) => (reason = errorMessage(error)));
          socket.once("close", () => {
            // Only a server that never spoke: one that sent an error has said why.
            if (admitted.has(socket) || timedOut || socket.bytesRead > 0) return;
            failures.push(
              `${endpoint.label}: server closed the connection unexpectedly` +
                (reason ? ` (${reason})` : ""),
            );
          });
          answered();
          timedOut = false;
          if (Number.isFinite(settings.perAttemptMs)) {
            const timer = setTimeout(() => {
              timedOut = true;
              const expired = new AttemptTimeout();
              failures.push(`${endpoint.label}: ${expired.message}`);
              socket.destroy(expired);
            }, Math.max(0, limit - (Date.now() - began)));
            sessionTimer = timer;
            socket.once("close", () => clearTimeout(timer));
          }
          startingUp = false;
          return new SessionSocket(socket, {
            password: passwords[index],
            channelBinding: settings.channelBinding,
            onRefused(error) {
              if (error.code !== SQLSTATE_CANNOT_CONNECT_NOW) return;
              startingUp = true;
              failures.push(`${endpoint.label}: ${error.message}`);
            },
          });
        } catch (error) {
          // The runtime forbade it (Deno without --allow-net): no host would do better.
          if (isPermissionError(error)) {
            restart();
            throw error;
          }
          failures.push(`${endpoint.label}: ${errorMessage(error)}`);
          // libpq moves on only when a host cannot be reached in time; a
          // failed TLS handshake or a server without TLS ends the attempt.
          if (error instanceof NoTlsError || !isUnreachable(error)) {
            const tried = failures;
            restart();
            throw new InviteCodeError(
              "connect",
              `cannot connect to PostgreSQL: ${tried.join("; ")}`,
              { cause: error },
            );
          }
        }
      }
    },
    admit(state) {
      answered();
      if (latest) admitted.add(latest);
      const why = sessionMismatch(settings.attrs, state, pass);
      if (why === null) return true;
      failures.push(`${current === undefined ? "?" : list[current].label}: ${why}`);
      if (queue.length === 0 && settings.attrs === "prefer-standby" && pass === 1) {
        // No standby anywhere: prefer-standby takes any server on a second pass.
        queue = list.map((_, i) => i);
        pass = 2;
      }
      if (queue.length === 0) exhausted();
      return false;
    },
    retryOtherWay(error) {
      if (switched || !(error instanceof StartupError && error.code === SQLSTATE_NO_HBA_ENTRY)) {
        return false;
      }
      if (mode !== "allow" && mode !== "prefer") return false;
      switched = true;
      tlsFirst = !tlsFirst;
      if (current !== undefined) queue.unshift(current);
      return true;
    },
    movedOn() {
      if (!timedOut && !startingUp) return false;
      timedOut = false;
      startingUp = false;
      if (queue.length === 0) exhausted();
      return true;
    },
    settled() {
      answered();
      restart();
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

/** A host that refused, was not found, or did not answer in time: libpq tries the next one. */
function isUnreachable(error: unknown): boolean {
  const code = (error as { code?: string })?.code ?? "";
  return /^(ECONNREFUSED|ENOENT|ENOTFOUND|EAI_AGAIN|EHOSTUNREACH|ENETUNREACH|ECONNRESET|EADDRNOTAVAIL|ETIMEDOUT|EACCES|ENOTDIR)$/
    .test(code) ||
    error instanceof AttemptTimeout ||
    /server closed the connection/.test(errorMessage(error));
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

/** One host did not answer within connect_timeout (or the deadline). */
class AttemptTimeout extends Error {
  constructor() {
    // libpq's words; the host is named beside it.
    super("timeout expired");
    this.name = "AttemptTimeout";
  }
}

function withTimeout<T>(ms: number, work: Promise<T>): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  let expired = false;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      expired = true;
      reject(new AttemptTimeout());
    }, Math.min(ms, 2_147_483_647));
  });
  work.then((value) => {
    // A socket that connected after the timeout must not stay open.
    if (expired) (value as { destroy?: () => void }).destroy?.();
  }, () => {});
  return Promise.race([work, late]).finally(() => clearTimeout(timer));
}
