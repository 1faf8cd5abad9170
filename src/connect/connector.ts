/**
 * The fourth step: the connector. postgres.js never sees a URL, a host string
 * or TLS settings: it splits hosts on ":" (IPv6 breaks, porsager/postgres#663),
 * throws `URIError` on a password with a stray "%" (porsager/postgres#735),
 * and sends query parameters it does not know to the server as settings.
 * Instead it gets a `socket` function that reaches the first endpoint that
 * answers, over TCP or a Unix socket, negotiates TLS the libpq way
 * (`tls.ts`), and hands back a connected socket. The rotation over hosts
 * lives here and only here.
 *
 * @module
 */
import { connect as tcpConnect, type Socket } from "node:net";
import { userInfo } from "node:os";
import type { TLSSocket } from "node:tls";
import { errorMessage, InviteCodeError } from "../errors.ts";
import {
  type Endpoint,
  endpoints,
  type PostgresTarget,
  refuse,
  shown,
  type SslMode,
  sslMode,
} from "./conninfo.ts";
import type { Env } from "./environment.ts";
import { passwordFromFile } from "./passfile.ts";
import { type Negotiation, secure, type TlsOptions, tlsOptions } from "./tls.ts";

const SQLSTATE_NO_HBA_ENTRY = /no pg_hba\.conf entry|SSL off|no encryption|SSL encryption/;

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
  negotiation: Negotiation;
  preferStandby: boolean;
}

function connector(
  list: Endpoint[],
  mode: SslMode,
  tls: TlsOptions,
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
      return await withTimeout(
        limit,
        endpoint.label,
        secure(plain, endpoint, mode, tls, settings.negotiation),
      );
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
