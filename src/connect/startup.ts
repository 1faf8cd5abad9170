/**
 * Authentication the libpq way, under postgres.js. postgres.js answers
 * SCRAM with `n,,` and cannot bind to the TLS channel, so a relay that ends
 * TLS with any certificate the client accepts could log in through it. The
 * connector hands postgres.js a `SessionSocket` instead of the bare socket:
 * postgres.js's StartupMessage goes to the server as it is, the
 * authentication requests that follow are answered here (cleartext, MD5,
 * SCRAM-SHA-256, SCRAM-SHA-256-PLUS with `tls-server-end-point`, under
 * libpq's `channel_binding` rules), and from AuthenticationOk on every byte
 * passes through untouched, so postgres.js never sees a request for its
 * password. A CancelRequest, which postgres.js sends on a socket of its
 * own, passes through from the start.
 *
 * @module
 */
import { Buffer } from "node:buffer";
import { createHash } from "node:crypto";
import type { Socket } from "node:net";
import { Duplex } from "node:stream";
import type { TLSSocket } from "node:tls";
import { InviteCodeError } from "../errors.ts";
import {
  type ChannelBinding,
  chooseMechanism,
  gs2Header,
  SCRAM_ERRORS,
  SCRAM_PLUS,
  type ScramExchange,
  scramExchange,
  serverEndPoint,
} from "./scram.ts";

/** libpq's words, written once. */
export const STARTUP_ERRORS = {
  noPassword: "fe_sendauth: no password supplied",
  bindingNotSupported:
    "channel binding required but not supported by server's authentication request",
  notBound: "channel binding required, but server authenticated client without channel binding",
  unsupported: (code: number) => `authentication method ${code} not supported`,
  unexpected: (type: string) => `expected authentication request from server, but received ${type}`,
  okTooEarly: "server sent AuthenticationOk before the SCRAM exchange completed",
} as const;

const CANCEL_REQUEST_CODE = 80877102;

/** AuthenticationRequest codes (the `R` message). */
const AUTH = { ok: 0, cleartext: 3, md5: 5, sasl: 10, saslContinue: 11, saslFinal: 12 } as const;

/**
 * The server refused the session before it began (an ErrorResponse during
 * startup or authentication); `code` is its SQLSTATE.
 */
export class StartupError extends Error {
  /** The SQLSTATE the server sent. */
  readonly code: string;
  /**
   * @param message The server's message.
   * @param code Its SQLSTATE.
   */
  constructor(message: string, code: string) {
    super(message);
    this.name = "StartupError";
    this.code = code;
  }
}

/**
 * The server's ErrorResponse as the refusal it is.
 *
 * @param body The message's body, after its type and length.
 */
export function serverError(body: Buffer): StartupError {
  const fields = errorFields(body);
  return new StartupError(fields.M ?? "server refused the connection", fields.C ?? "");
}

/** What the authentication needs besides the socket. */
export interface StartupSettings {
  /** The password for this host, or none. */
  password: string | undefined;
  channelBinding: ChannelBinding;
}

function isTls(socket: Socket | TLSSocket): socket is TLSSocket {
  return (socket as TLSSocket).encrypted === true;
}

/** A message to the server: type byte, length, body. */
function message(type: string, body: Uint8Array): Buffer {
  const header = Buffer.alloc(5);
  header.write(type, 0, "latin1");
  header.writeInt32BE(body.length + 4, 1);
  return Buffer.concat([header, body]);
}

function cString(text: string): Buffer {
  return Buffer.concat([Buffer.from(text, "utf8"), Buffer.from([0])]);
}

/** The fields of an ErrorResponse: code letter to value. */
function errorFields(body: Buffer): Record<string, string> {
  const fields: Record<string, string> = {};
  let at = 0;
  while (at < body.length && body[at] !== 0) {
    const end = body.indexOf(0, at + 1);
    if (end === -1) break;
    fields[String.fromCharCode(body[at])] = body.toString("utf8", at + 1, end);
    at = end + 1;
  }
  return fields;
}

/**
 * postgres.js's view of a connected socket whose authentication this module
 * carries out; see the module comment.
 */
export class SessionSocket extends Duplex {
  readonly #raw: Socket | TLSSocket;
  readonly #settings: StartupSettings;
  /** first: waiting for the startup packet; auth: authenticating; open: passing through. */
  #stage: "first" | "auth" | "open" = "first";
  #outgoing: Buffer = Buffer.alloc(0);
  #incoming: Buffer = Buffer.alloc(0);
  #busy = false;
  #user = "";
  #scram: ScramExchange | undefined;

  /**
   * @param raw The connected socket, TLS already negotiated where due.
   * @param settings Password and channel binding.
   */
  constructor(raw: Socket | TLSSocket, settings: StartupSettings) {
    super({ allowHalfOpen: false });
    this.#raw = raw;
    this.#settings = settings;
    raw.on("data", (data: Buffer) => this.#fromServer(data));
    raw.on("end", () => this.push(null));
    raw.on("error", (error: Error) => this.destroy(error));
    raw.on("close", () => this.destroy());
  }

  /** As net.Socket's: postgres.js sends Terminate only while it is "open". */
  get readyState(): string {
    return this.destroyed ? "closed" : this.#raw.readyState;
  }

  /**
   * As net.Socket's.
   *
   * @param enable Whether to send keepalive probes.
   * @param delay Milliseconds of idleness before the first.
   */
  setKeepAlive(enable?: boolean, delay?: number): this {
    this.#raw.setKeepAlive(enable, delay);
    return this;
  }

  override _write(
    chunk: Buffer,
    _encoding: BufferEncoding,
    done: (error?: Error | null) => void,
  ): void {
    if (this.#stage !== "first") {
      this.#raw.write(chunk, done);
      return;
    }
    this.#outgoing = Buffer.concat([this.#outgoing, chunk]);
    if (this.#outgoing.length < 8 || this.#outgoing.length < this.#outgoing.readInt32BE(0)) {
      done();
      return;
    }
    const packet = this.#outgoing;
    this.#outgoing = Buffer.alloc(0);
    if (packet.readInt32BE(4) === CANCEL_REQUEST_CODE) {
      this.#stage = "open";
    } else {
      // Protocol version, then name/value pairs: the user is MD5's salt.
      const fields = packet.toString("utf8", 8, packet.readInt32BE(0)).split("\0");
      for (let i = 0; i + 1 < fields.length; i += 2) {
        if (fields[i] === "user") this.#user = fields[i + 1];
      }
      this.#stage = "auth";
    }
    this.#raw.write(packet, done);
    if (this.#incoming.length > 0) this.#pump();
  }

  override _final(done: (error?: Error | null) => void): void {
    this.#raw.end();
    done();
  }

  override _read(): void {
    this.#raw.resume();
  }

  override _destroy(error: Error | null, done: (error?: Error | null) => void): void {
    this.#raw.destroy();
    done(error);
  }

  #fromServer(data: Buffer): void {
    if (this.#stage === "open" && this.#incoming.length === 0 && !this.#busy) {
      if (!this.push(data)) this.#raw.pause();
      return;
    }
    this.#incoming = Buffer.concat([this.#incoming, data]);
    this.#pump();
  }

  /** Handle the server's messages one at a time (SCRAM's key derivation is asynchronous). */
  #pump(): void {
    if (this.#busy) return;
    this.#busy = true;
    void (async () => {
      try {
        while (this.#stage === "auth" && this.#incoming.length >= 5) {
          const length = this.#incoming.readInt32BE(1);
          if (this.#incoming.length < length + 1) break;
          const next = this.#incoming.subarray(0, length + 1);
          this.#incoming = this.#incoming.subarray(length + 1);
          await this.#handle(next);
        }
        if (this.#stage === "open" && this.#incoming.length > 0) {
          const rest = this.#incoming;
          this.#incoming = Buffer.alloc(0);
          if (!this.push(rest)) this.#raw.pause();
        }
      } catch (error) {
        this.destroy(error as Error);
      } finally {
        this.#busy = false;
      }
    })();
  }

  async #handle(received: Buffer): Promise<void> {
    const type = String.fromCharCode(received[0]);
    const body = received.subarray(5);
    if (type === "E") {
      throw serverError(body);
    }
    // Notices and protocol negotiation say nothing about authentication.
    if (type === "N" || type === "v") return;
    if (type !== "R") throw new InviteCodeError("connect", STARTUP_ERRORS.unexpected(type));
    const code = body.readInt32BE(0);
    this.#expected(code);
    switch (code) {
      case AUTH.ok:
        this.#stage = "open";
        this.push(received);
        return;
      case AUTH.cleartext:
        this.#raw.write(message("p", cString(this.#password())));
        return;
      case AUTH.md5: {
        const md5 = (data: Uint8Array | string) => createHash("md5").update(data).digest("hex");
        const inner = md5(this.#password() + this.#user);
        const salted = md5(Buffer.concat([Buffer.from(inner), body.subarray(4, 8)]));
        this.#raw.write(message("p", cString(`md5${salted}`)));
        return;
      }
      case AUTH.sasl:
        return this.#saslInit(body.subarray(4));
      case AUTH.saslContinue: {
        if (!this.#scram) throw new InviteCodeError("connect", STARTUP_ERRORS.unsupported(code));
        const final = await this.#scram.final(body.subarray(4).toString("utf8"));
        this.#raw.write(message("p", Buffer.from(final, "utf8")));
        return;
      }
      case AUTH.saslFinal:
        if (!this.#scram) throw new InviteCodeError("connect", STARTUP_ERRORS.unsupported(code));
        this.#scram.verify(body.subarray(4).toString("utf8"));
        return;
      default:
        throw new InviteCodeError("connect", STARTUP_ERRORS.unsupported(code));
    }
  }

  /** libpq's check_expected_areq: what `channel_binding=require` lets through. */
  #expected(code: number): void {
    if (code === AUTH.ok && this.#scram && !this.#scram.done) {
      throw new InviteCodeError("connect", STARTUP_ERRORS.okTooEarly);
    }
    if (this.#settings.channelBinding !== "require") return;
    if (code === AUTH.sasl || code === AUTH.saslContinue || code === AUTH.saslFinal) return;
    if (code !== AUTH.ok) {
      throw new InviteCodeError("connect", STARTUP_ERRORS.bindingNotSupported);
    }
    if (this.#scram?.mechanism !== SCRAM_PLUS || !this.#scram.done) {
      throw new InviteCodeError("connect", STARTUP_ERRORS.notBound);
    }
  }

  #password(): string {
    const password = this.#settings.password;
    // As libpq: no password (or an empty one) is never sent; the attempt ends here.
    if (!password) throw new InviteCodeError("connect", STARTUP_ERRORS.noPassword);
    return password;
  }

  #saslInit(list: Buffer): void {
    if (this.#scram) throw new InviteCodeError("connect", SCRAM_ERRORS.duplicate);
    const offered = list.toString("utf8").split("\0").filter((name) => name !== "");
    const tls = isTls(this.#raw);
    const binding = this.#settings.channelBinding;
    const mechanism = chooseMechanism(offered, tls, binding);
    const password = this.#password();
    const endPoint = mechanism === SCRAM_PLUS
      ? serverEndPoint((this.#raw as TLSSocket).getPeerCertificate(false).raw)
      : null;
    this.#scram = scramExchange(mechanism, password, gs2Header(mechanism, tls, binding), endPoint);
    const first = Buffer.from(this.#scram.first, "utf8");
    const length = Buffer.alloc(4);
    length.writeInt32BE(first.length);
    this.#raw.write(message("p", Buffer.concat([cString(mechanism), length, first])));
  }
}
