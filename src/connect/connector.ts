/**
 * The fourth step: the connector. postgres.js never sees a URL, a host string
 * or TLS settings: it splits hosts on ":" (IPv6 breaks, porsager/postgres#663),
 * throws `URIError` on a password with a stray "%" (porsager/postgres#735),
 * and sends query parameters it does not know to the server as settings.
 * Instead it gets a `socket` function whose socket waits for postgres.js's
 * StartupMessage and then, in one loop (`connect`), walks the attempts the
 * resolved config lists, as libpq's `PQconnectPoll` does: each host in turn
 * (shuffled per connection under `load_balance_hosts=random`), TLS first or
 * plain first as `sslmode` says (`tls.ts`), the authentication carried out
 * the libpq way, channel binding included (`startup.ts`), and the session
 * checked against `target_session_attrs` by a hook the connector calls.
 * postgres.js gets the session only once it is settled, with the server's
 * startup answer replayed, so it never sees a password, a refused host or a
 * retry; the dialect only translates the one error of a failed connection.
 *
 * @module
 */
import { Buffer } from "node:buffer";
import { connect as tcpConnect, type Socket } from "node:net";
import { Duplex } from "node:stream";
import type { TLSSocket } from "node:tls";
import { errorMessage, SQLSTATE } from "../errors.ts";
import type { Deadline } from "../deadline.ts";
import { isPermissionError } from "../runtime.ts";
import type {
  ConnectionConfig,
  Endpoint,
  HostAttempt,
  SessionAttrs,
  TlsOptions,
  TlsWay,
} from "./conninfo.ts";
import { serverError, SessionSocket, StartupError } from "./startup.ts";
import { CONNECT_FAILURE, connectFailure, secure } from "./tls.ts";

export type { SessionAttrs } from "./conninfo.ts";

/** What a server says of itself, asked once a session is up. */
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

/** What `connect` needs besides the config. */
export interface ConnectHooks {
  /** Gives the deadline that bounds the work now: no attempt waits past it. */
  deadline: () => Deadline;
  /**
   * Asks a new session's server what it is, for `target_session_attrs`
   * (called only when that is not `any`); default `askSession`.
   */
  checkSession?: (session: Duplex) => Promise<SessionState>;
  /** Ends the walk (postgres.js gave up on the socket). */
  signal?: AbortSignal;
  /** Told of every socket opened, to wait for its last byte (`hungUp`). */
  opened?: (socket: Socket | TLSSocket) => void;
}

/** A settled session: what postgres.js gets. */
export interface Session {
  /** The authenticated session, passing every byte through from here on. */
  socket: SessionSocket;
  /** The server's answer to the StartupMessage, up to ReadyForQuery, for the driver to read. */
  replay: Buffer;
  /** Where it is: its host and the way it was reached (a CancelRequest goes there). */
  host: HostAttempt;
  way: TlsWay;
}

/**
 * Connect the libpq way: walk the config's attempts in order until a
 * session is settled, or throw the `connect` error naming every host tried.
 * libpq's rules: a host that cannot be reached, does not answer within
 * `connect_timeout`, is starting up (57P03) or hangs up before it speaks is
 * passed over for the next; under `allow`/`prefer` a pg_hba.conf refusal
 * (28000) tries the same host once the other way, and under `prefer` a
 * failed TLS handshake falls back to plain; a session `target_session_attrs`
 * rejects is ended and the next host tried (`prefer-standby` takes any
 * server on a second pass); any other failure ends the walk.
 *
 * @example
 * ```ts
 * import type { PostgresTarget } from "./conninfo.ts";
 * import { Deadline } from "../deadline.ts";
 * declare const target: PostgresTarget; // as resolveTarget() returns it
 * declare const startupMessage: Uint8Array; // the StartupMessage the driver sends
 * const session = await connect(target.connection, startupMessage, {
 *   deadline: () => Deadline.after(5000),
 * });
 * ```
 * @param config The resolved connection.
 * @param startup The StartupMessage to send to each host.
 * @param hooks Deadline, session check, cancellation.
 */
export async function connect(
  config: ConnectionConfig,
  startup: Uint8Array,
  hooks: ConnectHooks,
): Promise<Session> {
  if ("refused" in config.tls) throw config.tls.refused;
  const tls = config.tls.options;
  const hosts = config.loadBalanceHosts === "random" ? shuffled(config.attempts) : config.attempts;
  const failures: string[] = [];
  // prefer-standby: when the hosts run out, libpq drops the standby wish and starts over.
  const passes: (1 | 2)[] = config.targetSessionAttrs === "prefer-standby" ? [1, 2] : [1];
  for (const pass of passes) {
    for (const host of hosts) {
      const label = host.endpoint.label;
      for (let wayIndex = 0; wayIndex < host.ways.length; wayIndex++) {
        const way = host.ways[wayIndex];
        const otherWay = wayIndex + 1 < host.ways.length;
        let outcome: Outcome;
        try {
          outcome = await attempt(config, tls, host, way, startup, hooks, pass);
        } catch (error) {
          outcome = { failed: error };
        }
        if ("session" in outcome) return outcome.session;
        if ("rejected" in outcome) {
          failures.push(`${label}: ${outcome.rejected}`);
          break;
        }
        const error = outcome.failed;
        if (hooks.signal?.aborted || isPermissionError(error)) throw error;
        // sslmode allow or prefer: a pg_hba.conf refusal is tried once the other way.
        if (
          otherWay && error instanceof StartupError &&
          error.code === SQLSTATE.INVALID_AUTHORIZATION
        ) continue;
        // prefer: a failed handshake falls back to plain; a host out of time is given up.
        if (otherWay && error instanceof TlsFailure && config.sslmode === "prefer") continue;
        const cause = error instanceof TlsFailure ? error.cause : error;
        if (error instanceof StartupError) {
          if (error.code !== SQLSTATE.CANNOT_CONNECT_NOW) throw error;
          failures.push(`${label}: ${error.message}`);
          break;
        }
        if (error instanceof SessionFailure) throw error.cause;
        failures.push(`${label}: ${errorMessage(cause)}`);
        // libpq moves on only when a host cannot be reached in time; a
        // failed TLS handshake or a server without TLS ends the walk.
        if (!isUnreachable(cause)) {
          throw connectFailure(
            CONNECT_FAILURE.FAILED,
            `cannot connect to PostgreSQL: ${failures.join("; ")}`,
            cause,
          );
        }
        break;
      }
    }
  }
  throw connectFailure(
    CONNECT_FAILURE.EXHAUSTED,
    `cannot connect to PostgreSQL: ${failures.join("; ")}`,
  );
}

/** How one way to one host ended. */
type Outcome =
  | { session: Session }
  | { rejected: string }
  | { failed: unknown };

/** A failure of the TLS handshake, kept apart: `prefer` falls back to plain after it. */
class TlsFailure extends Error {
  /** @param cause What the handshake raised. */
  constructor(cause: unknown) {
    super(errorMessage(cause), { cause });
    this.name = "TlsFailure";
  }
}

/**
 * A failure of the startup exchange that libpq does not move on from (a
 * reset, a missing password, channel binding): the driver gets its cause.
 */
class SessionFailure extends Error {
  /** @param cause What the exchange raised. */
  constructor(cause: unknown) {
    super(errorMessage(cause), { cause });
    this.name = "SessionFailure";
  }
}

/** One way to one host, bounded by its connect_timeout and the deadline. */
function attempt(
  config: ConnectionConfig,
  tls: TlsOptions,
  host: HostAttempt,
  way: TlsWay,
  startup: Uint8Array,
  hooks: ConnectHooks,
  pass: 1 | 2,
): Promise<Outcome> {
  const limit = Math.min(host.timeoutMs, Math.max(1, hooks.deadline().at - Date.now()));
  return bounded(limit, hooks.signal, async (track) => {
    const raw = await reach(host.endpoint, way, config, tls, track);
    hooks.opened?.(raw);
    const socket = new SessionSocket(raw, {
      password: host.password,
      channelBinding: config.channelBinding,
    });
    track(socket);
    socket.write(startup);
    let replay: Buffer;
    try {
      replay = Buffer.concat(await untilReady(socket, () => raw.bytesRead > 0));
    } catch (error) {
      throw error instanceof StartupError || hungUp(error) ? error : new SessionFailure(error);
    }
    if (config.targetSessionAttrs !== "any") {
      const state = await (hooks.checkSession ?? askSession)(socket);
      const why = sessionMismatch(config.targetSessionAttrs, state, pass);
      if (why !== null) {
        socket.end(TERMINATE);
        return { rejected: why };
      }
    }
    return { session: { socket, replay, host, way } };
  });
}

/** A socket to `endpoint`, TLS negotiated when `way` says so. */
async function reach(
  endpoint: Endpoint,
  way: TlsWay,
  config: ConnectionConfig,
  tls: TlsOptions,
  track: (socket: Socket | Duplex) => void,
): Promise<Socket | TLSSocket> {
  const plain = await openSocket(endpoint, track);
  if (endpoint.kind === "unix" || way === "plain") return plain;
  try {
    const secured = await secure(plain, endpoint, config.sslmode, tls, config.negotiation);
    track(secured);
    return secured;
  } catch (error) {
    plain.destroy();
    throw new TlsFailure(error);
  }
}

/** Terminate: the session ends cleanly, as postgres.js ends its own. */
const TERMINATE = Buffer.from([0x58, 0, 0, 0, 4]);

/**
 * The server's messages up to ReadyForQuery. An ErrorResponse is the
 * server's refusal (a `StartupError` with its SQLSTATE); a hang-up before a
 * byte is libpq's "server closed the connection unexpectedly".
 */
function untilReady(socket: Duplex, spoke: () => boolean): Promise<Buffer[]> {
  let buffer = Buffer.alloc(0);
  const messages: Buffer[] = [];
  return new Promise((resolve, reject) => {
    const done = () => {
      socket.off("data", onData);
      socket.off("error", onError);
      socket.off("close", onClose);
      socket.pause();
    };
    const onData = (data: Buffer) => {
      buffer = Buffer.concat([buffer, data]);
      while (buffer.length >= 5 && buffer.length >= buffer.readInt32BE(1) + 1) {
        const message = buffer.subarray(0, buffer.readInt32BE(1) + 1);
        buffer = buffer.subarray(message.length);
        messages.push(message);
        if (message[0] === ERROR_RESPONSE) {
          done();
          return reject(serverError(message.subarray(5)));
        }
        if (message[0] === READY_FOR_QUERY) {
          done();
          if (buffer.length > 0) socket.unshift(buffer);
          return resolve(messages);
        }
      }
    };
    const onError = (error: Error) => {
      done();
      reject(error);
    };
    const onClose = () => {
      done();
      // Only a server that never spoke is named so: one that sent an error has said why.
      reject(connectFailure(
        CONNECT_FAILURE.SERVER_CLOSED,
        spoke() ? "server closed the connection" : "server closed the connection unexpectedly",
      ));
    };
    socket.on("data", onData);
    socket.once("error", onError);
    socket.once("close", onClose);
    socket.resume();
  });
}

const ERROR_RESPONSE = 0x45; // E
const READY_FOR_QUERY = 0x5a; // Z
const DATA_ROW = 0x44; // D

/** libpq's own question, in one simple query: is this a standby, and read-only by default? */
const SESSION_STATE_SQL =
  "SELECT pg_is_in_recovery(), current_setting('default_transaction_read_only') = 'on'";

/**
 * The default session check: one simple query on the new session, its
 * answer consumed here (the driver never sees it).
 *
 * @param session An authenticated session, idle.
 */
export async function askSession(session: Duplex): Promise<SessionState> {
  const sql = Buffer.from(`${SESSION_STATE_SQL}\0`, "utf8");
  const header = Buffer.alloc(5);
  header.write("Q", 0, "latin1");
  header.writeInt32BE(sql.length + 4, 1);
  session.write(Buffer.concat([header, sql]));
  const messages = await untilReady(session, () => true);
  const row = messages.find((message) => message[0] === DATA_ROW);
  if (!row) {
    throw new SessionFailure(
      connectFailure(CONNECT_FAILURE.FAILED, "the server did not say whether it is a standby"),
    );
  }
  const values: string[] = [];
  let at = 7;
  for (let i = 0; i < row.readInt16BE(5); i++) {
    const length = row.readInt32BE(at);
    values.push(row.toString("utf8", at + 4, at + 4 + Math.max(0, length)));
    at += 4 + Math.max(0, length);
  }
  return { inRecovery: values[0] === "t", defaultReadOnly: values[1] === "t" };
}

/**
 * Run `work` within `ms` (and until `signal` aborts): past either, every
 * socket it tracked is destroyed and the timeout (or abort) is the outcome.
 */
function bounded<T>(
  ms: number,
  signal: AbortSignal | undefined,
  work: (track: (socket: Socket | Duplex) => void) => Promise<T>,
): Promise<T> {
  const sockets: (Socket | Duplex)[] = [];
  let over = false;
  return new Promise<T>((resolve, reject) => {
    const end = () => {
      over = true;
      clearTimeout(timer);
      signal?.removeEventListener("abort", onAbort);
    };
    const fail = (error: unknown) => {
      if (over) return;
      end();
      for (const socket of sockets) socket.destroy();
      reject(error);
    };
    // libpq's words; the host is named beside them.
    const timer = setTimeout(
      () => fail(connectFailure(CONNECT_FAILURE.TIMEOUT, "timeout expired")),
      Math.min(ms, 2_147_483_647),
    );
    const onAbort = () => fail(signal?.reason);
    if (signal?.aborted) return onAbort();
    signal?.addEventListener("abort", onAbort, { once: true });
    const track = (socket: Socket | Duplex) => {
      // A socket that connected after the time was up must not stay open.
      if (over) socket.destroy();
      else sockets.push(socket);
    };
    work(track).then((value) => {
      if (over) return;
      end();
      resolve(value);
    }, fail);
  });
}

/** The server hung up during the startup exchange: libpq tries the next host. */
function hungUp(error: unknown): boolean {
  return (error as { code?: unknown })?.code === CONNECT_FAILURE.SERVER_CLOSED;
}

/** A host that refused, was not found, hung up or did not answer in time: libpq tries the next one. */
function isUnreachable(error: unknown): boolean {
  const code = (error as { code?: unknown })?.code;
  return typeof code === "string" && UNREACHABLE.has(code);
}

const UNREACHABLE = new Set<string>([
  "ECONNREFUSED",
  "ENOENT",
  "ENOTFOUND",
  "EAI_AGAIN",
  "EHOSTUNREACH",
  "ENETUNREACH",
  "ECONNRESET",
  "EADDRNOTAVAIL",
  "ETIMEDOUT",
  "EACCES",
  "ENOTDIR",
  CONNECT_FAILURE.TIMEOUT,
  CONNECT_FAILURE.SERVER_CLOSED,
]);

function openSocket(
  endpoint: Endpoint,
  track: (socket: Socket | Duplex) => void,
): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const socket = endpoint.kind === "unix"
      ? tcpConnect({ path: endpoint.path })
      : tcpConnect({ host: endpoint.address, port: endpoint.port });
    track(socket);
    socket.once("connect", () => {
      socket.removeListener("error", reject);
      resolve(socket);
    });
    socket.once("error", reject);
  });
}

function shuffled<T>(list: readonly T[]): T[] {
  const copy = [...list];
  for (let i = copy.length - 1; i > 0; i--) {
    const j = crypto.getRandomValues(new Uint32Array(1))[0] % (i + 1);
    [copy[i], copy[j]] = [copy[j], copy[i]];
  }
  return copy;
}

/** Connects postgres.js to the target the libpq way. */
export interface Connector {
  /**
   * postgres.js's `socket` option: a socket that waits for the driver's
   * first packet, then connects (`connect`) and, once the session is
   * settled, passes every byte through. A CancelRequest goes to the host
   * of the latest session, the way that session was reached.
   */
  socket(): Promise<Duplex>;
  /**
   * Resolves once every socket opened has sent its last byte (the Terminate
   * message) or closed. The server then takes a few more milliseconds to end
   * its backend, which nobody needs to wait for.
   */
  hungUp(): Promise<void>;
}

/**
 * The connector for one resolved connection.
 *
 * @example
 * ```ts
 * import type { PostgresTarget } from "./conninfo.ts";
 * import { Deadline } from "../deadline.ts";
 * declare const target: PostgresTarget; // as resolveTarget() returns it
 * const { socket } = connector(target.connection, { deadline: () => Deadline.after(5000) });
 * // handed to postgres.js as its `socket` option (openPostgres in ../db/postgres.ts does)
 * ```
 * @param config The resolved connection.
 * @param hooks Deadline and session check.
 */
export function connector(config: ConnectionConfig, hooks: ConnectHooks): Connector {
  const open = new Set<Socket | TLSSocket>();
  const opened = (socket: Socket | TLSSocket) => {
    open.add(socket);
    socket.once("close", () => open.delete(socket));
  };
  let latest: Session | undefined;
  return {
    socket() {
      return Promise.resolve(
        new DriverSocket(async (packet, signal) => {
          if (isCancelRequest(packet)) return cancelSocket(config, latest, packet, signal, opened);
          const session = await connect(config, packet, { ...hooks, signal, opened });
          latest = session;
          return session;
        }),
      );
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

const CANCEL_REQUEST_CODE = 80877102;

function isCancelRequest(packet: Buffer): boolean {
  return packet.length >= 8 && packet.readInt32BE(4) === CANCEL_REQUEST_CODE;
}

/** A CancelRequest's socket: to the latest session's host, the way it was reached. */
async function cancelSocket(
  config: ConnectionConfig,
  latest: Session | undefined,
  packet: Buffer,
  signal: AbortSignal,
  opened: (socket: Socket | TLSSocket) => void,
): Promise<{ socket: Duplex; replay: Buffer }> {
  if ("refused" in config.tls) throw config.tls.refused;
  const tls = config.tls.options;
  const host = latest?.host ?? config.attempts[0];
  const way = latest?.way ?? host.ways[0];
  const limit = Math.min(host.timeoutMs, 30_000);
  const raw = await bounded(
    limit,
    signal,
    (track) => reach(host.endpoint, way, config, tls, track),
  );
  opened(raw);
  raw.write(packet);
  return { socket: raw, replay: Buffer.alloc(0) };
}

/** Why a walk ends that postgres.js gave up on: nobody reads it but the walk itself. */
const DRIVER_CLOSED = connectFailure(CONNECT_FAILURE.FAILED, "the driver closed the socket");

/**
 * postgres.js's view of a connection: it takes the driver's first packet,
 * has `open` make the session, replays the server's startup answer, and
 * from then on passes every byte both ways.
 */
class DriverSocket extends Duplex {
  readonly #open: (
    packet: Buffer,
    signal: AbortSignal,
  ) => Promise<{ socket: Duplex; replay: Buffer }>;
  readonly #abort = new AbortController();
  #session: Duplex | undefined;
  #first: Buffer = Buffer.alloc(0);
  #keepAlive: [boolean | undefined, number | undefined] | undefined;

  constructor(
    open: (packet: Buffer, signal: AbortSignal) => Promise<{ socket: Duplex; replay: Buffer }>,
  ) {
    super({ allowHalfOpen: false });
    this.#open = open;
  }

  /** As net.Socket's: postgres.js sends Terminate only while it is "open". */
  get readyState(): string {
    if (this.destroyed) return "closed";
    const session = this.#session as { readyState?: string } | undefined;
    return session?.readyState ?? "opening";
  }

  /**
   * As net.Socket's; applied to the session once there is one.
   *
   * @param enable Whether to send keepalive probes.
   * @param delay Milliseconds of idleness before the first.
   */
  setKeepAlive(enable?: boolean, delay?: number): this {
    this.#keepAlive = [enable, delay];
    (this.#session as Socket | undefined)?.setKeepAlive?.(enable, delay);
    return this;
  }

  override _write(
    chunk: Buffer,
    _encoding: BufferEncoding,
    done: (error?: Error | null) => void,
  ): void {
    if (this.#session) {
      this.#session.write(chunk, done);
      return;
    }
    this.#first = Buffer.concat([this.#first, chunk]);
    if (this.#first.length < 8 || this.#first.length < this.#first.readInt32BE(0)) {
      done();
      return;
    }
    const packet = this.#first;
    this.#first = Buffer.alloc(0);
    this.#open(packet, this.#abort.signal).then(({ socket, replay }) => {
      if (this.destroyed) {
        socket.destroy();
        return done();
      }
      this.#session = socket;
      if (this.#keepAlive) this.setKeepAlive(...this.#keepAlive);
      socket.on("data", (data: Buffer) => {
        if (!this.push(data)) socket.pause();
      });
      socket.on("end", () => this.push(null));
      socket.on("error", (error: Error) => this.destroy(error));
      socket.on("close", () => this.destroy());
      if (replay.length > 0) this.push(replay);
      socket.resume();
      done();
    }, (error: Error) => done(error));
  }

  override _final(done: (error?: Error | null) => void): void {
    if (this.#session) this.#session.end();
    else this.#abort.abort(DRIVER_CLOSED);
    done();
  }

  override _read(): void {
    this.#session?.resume();
  }

  override _destroy(error: Error | null, done: (error?: Error | null) => void): void {
    this.#abort.abort(error ?? DRIVER_CLOSED);
    this.#session?.destroy();
    done(error);
  }
}
