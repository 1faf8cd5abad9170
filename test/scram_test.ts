/**
 * The pieces of libpq's authentication that the connector carries: SASLprep
 * (RFC 4013, as PostgreSQL's pg_saslprep runs it), the SCRAM exchange
 * (RFC 7677's example, the nonce and signature checks), the mechanism and
 * GS2 header libpq picks, the `tls-server-end-point` hash by the
 * certificate's signature algorithm (RFC 5929), and a real server reached
 * through `SessionSocket`, cancel requests included. The whole connection,
 * beside psql, is test/oracle_test.ts.
 */
import assert from "node:assert/strict";
import { Buffer } from "node:buffer";
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { connect as tcpConnect, type Socket } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import postgres from "postgres";
import { saslprep, scramPassword } from "../src/connect/saslprep.ts";
import {
  type ChannelBinding,
  chooseMechanism,
  endPointHash,
  gs2Header,
  SCRAM,
  SCRAM_ERRORS,
  SCRAM_PLUS,
  scramExchange,
  serverEndPoint,
} from "../src/connect/scram.ts";
import { SessionSocket, STARTUP_ERRORS } from "../src/connect/startup.ts";
import { startEmbeddedPostgres, type TestServer } from "../scripts/postgres.ts";
import { startScramPeer } from "../scripts/peer.ts";

describe("SASLprep, as pg_saslprep", () => {
  // RFC 4013 section 3, and what PostgreSQL makes of each.
  const vectors: [string, string, string | null][] = [
    ["SOFT HYPHEN mapped to nothing", "I\u00ADX", "IX"],
    ["no transformation", "user", "user"],
    ["case preserved", "USER", "USER"],
    ["output is NFKC, input in ISO 8859-1", "\u00AA", "a"],
    ["output is NFKC, will be different", "\u2168", "IX"],
    // RFC 4013 prohibits it; pg_saslprep leaves pure ASCII alone.
    ["an ASCII control character: pure ASCII is not prepared", "\u0007", "\u0007"],
    ["a bidi check error", "\u0627\u0031", null],
    ["a non-ASCII space becomes SPACE", "a\u00A0b\u3000c", "a b c"],
    ["nothing left after mapping", "\u00AD\uFEFF", null],
    ["a control character beside non-ASCII", "\u0007\u00E9", null],
    ["unassigned in Unicode 3.2 (an emoji)", "\u2168\u{1F511}", null],
    ["right-to-left throughout", "\u0627\u0628", "\u0627\u0628"],
    ["right-to-left with a left-to-right character", "\u0627a\u0628", null],
    ["right-to-left not at the end", "\u0627\u0628\u0031", null],
  ];
  for (const [name, input, output] of vectors) {
    test(name, () => {
      assert.equal(saslprep(input), output);
      // libpq sends the password as it is when SASLprep refuses it.
      assert.equal(scramPassword(input), output ?? input);
    });
  }
});

describe("the SCRAM exchange", () => {
  // RFC 7677 section 3 (user "user", password "pencil").
  const clientNonce = "rOprNGfwEbeRWgbNEkqO";
  const serverFirst =
    "r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096";
  const exchange = () =>
    scramExchange(SCRAM, "pencil", "n,,", null, { nonce: clientNonce, user: "user" });

  test("RFC 7677's example, message for message", async () => {
    const scram = exchange();
    assert.equal(scram.first, "n,,n=user,r=rOprNGfwEbeRWgbNEkqO");
    assert.equal(
      await scram.final(serverFirst),
      "c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0," +
        "p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=",
    );
    assert.equal(scram.done, false);
    scram.verify("v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=");
    assert.equal(scram.done, true);
  });

  test("libpq sends no user name, and an 18-byte random nonce", () => {
    const scram = scramExchange(SCRAM, "pw", "n,,", null);
    assert.match(scram.first, /^n,,n=,r=[A-Za-z0-9+/]{24}$/);
    assert.notEqual(scramExchange(SCRAM, "pw", "n,,", null).first, scram.first);
  });

  for (
    const [name, nonce] of [
      ["a server nonce that does not extend the client's", "r=XrOprNGfwEbeRWgbNEkqO%hvYD"],
      ["a server nonce shorter than the client's", "r=rOprNGfwEbeRWgbNEk"],
      ["a server nonce that changes the client's last character", "r=rOprNGfwEbeRWgbNEkqX%hvYD"],
    ]
  ) {
    test(`${name} is refused before any proof is sent`, async () => {
      await assert.rejects(
        exchange().final(`${nonce},s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096`),
        { message: SCRAM_ERRORS.nonceMismatch },
      );
    });
  }

  test("a server nonce equal to the client's is accepted, as libpq does", async () => {
    await exchange().final(`r=${clientNonce},s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096`);
  });

  for (
    const [name, message, error] of [
      ["a zero iteration count", serverFirst.replace("i=4096", "i=0"), SCRAM_ERRORS.badIterations],
      ["a salt that is not base64", serverFirst.replace("s=W22Z", "s=*22Z"), SCRAM_ERRORS.badSalt],
      ["garbage after the iterations", `${serverFirst},x=1`, SCRAM_ERRORS.garbageFirst],
      ["no nonce first", serverFirst.replace("r=", "q="), SCRAM_ERRORS.attribute("r")],
    ]
  ) {
    test(`${name} is refused`, async () => {
      await assert.rejects(exchange().final(message), { message: error });
    });
  }

  test("a wrong server signature is refused, and the exchange is not done", async () => {
    const scram = exchange();
    await scram.final(serverFirst);
    assert.throws(
      () => scram.verify("v=7rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4="),
      { message: SCRAM_ERRORS.wrongSignature },
    );
    assert.equal(scram.done, false);
  });

  test("a server signature before the proof is refused", () => {
    assert.throws(
      () => exchange().verify("v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4="),
      { message: SCRAM_ERRORS.wrongSignature },
    );
  });

  test("the channel binding data goes into the proof (c=)", async () => {
    const data = Buffer.alloc(32, 7);
    const scram = scramExchange(SCRAM_PLUS, "pencil", "p=tls-server-end-point,,", data, {
      nonce: clientNonce,
    });
    const final = await scram.final(serverFirst);
    const c = Buffer.from(/^c=([^,]*)/.exec(final)![1], "base64");
    assert.deepEqual(c, Buffer.concat([Buffer.from("p=tls-server-end-point,,"), data]));
  });
});

describe("the mechanism and GS2 header libpq picks", () => {
  const cases: [string[], boolean, ChannelBinding, string][] = [
    [[SCRAM_PLUS, SCRAM], true, "prefer", `${SCRAM_PLUS} p=tls-server-end-point,,`],
    [[SCRAM, SCRAM_PLUS], true, "prefer", `${SCRAM_PLUS} p=tls-server-end-point,,`],
    [[SCRAM_PLUS, SCRAM], true, "require", `${SCRAM_PLUS} p=tls-server-end-point,,`],
    [[SCRAM_PLUS, SCRAM], true, "disable", `${SCRAM} n,,`],
    [[SCRAM], true, "prefer", `${SCRAM} y,,`],
    [[SCRAM], true, "disable", `${SCRAM} n,,`],
    [[SCRAM], false, "prefer", `${SCRAM} n,,`],
    [[SCRAM], true, "require", SCRAM_ERRORS.bindingNotOffered],
    [[SCRAM], false, "require", SCRAM_ERRORS.requiredWithoutTls],
    [[SCRAM_PLUS, SCRAM], false, "require", SCRAM_ERRORS.requiredWithoutTls],
    [[SCRAM_PLUS, SCRAM], false, "prefer", SCRAM_ERRORS.plusWithoutTls],
    [[SCRAM_PLUS, SCRAM], false, "disable", SCRAM_ERRORS.plusWithoutTls],
    [["SCRAM-SHA-1"], true, "prefer", SCRAM_ERRORS.noMechanism],
  ];
  for (const [offered, tls, binding, expected] of cases) {
    test(`${offered.join("+")}, TLS ${tls ? "on" : "off"}, channel_binding=${binding}`, () => {
      let got: string;
      try {
        const mechanism = chooseMechanism(offered, tls, binding);
        got = `${mechanism} ${gs2Header(mechanism, tls, binding)}`;
      } catch (error) {
        got = (error as Error).message;
      }
      assert.equal(got, expected);
    });
  }
});

describe("tls-server-end-point: the certificate's hash by its signature algorithm", () => {
  const dir = mkdtempSync(join(tmpdir(), "invite-code-scram-"));
  after(() => rmSync(dir, { recursive: true, force: true }));
  /** A self-signed certificate, DER, made by openssl with this key and digest. */
  function certificate(name: string, key: string[], digest: string[]): Buffer {
    const out = join(dir, `${name}.der`);
    const made = spawnSync("openssl", [
      "req",
      "-x509",
      "-newkey",
      ...key,
      "-nodes",
      "-keyout",
      join(dir, `${name}.key`),
      "-outform",
      "DER",
      "-out",
      out,
      "-days",
      "1",
      "-subj",
      "/CN=scram-test",
      ...digest,
    ], { encoding: "utf8" });
    assert.equal(made.status, 0, made.stderr);
    return readFileSync(out);
  }
  const cases: [string, string[], string[], string | RegExp][] = [
    ["RSA with SHA-256", ["rsa:2048"], ["-sha256"], "sha256"],
    ["RSA with SHA-384", ["rsa:2048"], ["-sha384"], "sha384"],
    ["RSA with SHA-512", ["rsa:2048"], ["-sha512"], "sha512"],
    ["RSA with SHA-224", ["rsa:2048"], ["-sha224"], "sha224"],
    ["RSA with SHA-1: SHA-256 instead", ["rsa:2048"], ["-sha1"], "sha256"],
    ["ECDSA with SHA-384", ["ec", "-pkeyopt", "ec_paramgen_curve:P-384"], ["-sha384"], "sha384"],
    ["ECDSA with SHA-1: SHA-256 instead", ["ec", "-pkeyopt", "ec_paramgen_curve:P-256"], [
      "-sha1",
    ], "sha256"],
    ["Ed25519: no digest, refused as libpq", ["ed25519"], [], /digest for NID UNDEF/],
    ["RSASSA-PSS with SHA-384 in its parameters", ["rsa-pss", "-pkeyopt", "rsa_keygen_bits:2048"], [
      "-sha384",
    ], "sha384"],
    ["RSASSA-PSS with SHA-256 in its parameters", ["rsa:2048"], [
      "-sha256",
      "-sigopt",
      "rsa_padding_mode:pss",
    ], "sha256"],
  ];
  for (const [name, key, digest, expected] of cases) {
    test(name, () => {
      const der = certificate(name.replace(/\W+/g, "-"), key, digest);
      if (typeof expected !== "string") {
        assert.throws(() => serverEndPoint(der), { message: expected });
        return;
      }
      assert.equal(endPointHash(der), expected);
      const openssl = spawnSync("openssl", ["dgst", `-${expected}`, "-binary"], { input: der });
      assert.deepEqual(serverEndPoint(der), openssl.stdout);
    });
  }

  test("something that is not a certificate is refused", () => {
    assert.throws(() => endPointHash(Buffer.from([0x30, 0x03, 0x02, 0x01])), {
      message: SCRAM_ERRORS.noSignatureAlgorithm,
    });
  });
});

describe("SessionSocket against a real server", () => {
  let server: TestServer;
  before(async () => {
    server = await startEmbeddedPostgres();
  });
  after(async () => {
    await server?.stop();
  });

  function connected(port = server.port): Promise<Socket> {
    return new Promise((resolve, reject) => {
      const socket = tcpConnect({ host: "127.0.0.1", port });
      socket.once("connect", () => resolve(socket));
      socket.once("error", reject);
    });
  }

  function client(password: string | undefined, port = server.port) {
    const url = new URL(server.url);
    return postgres(
      {
        host: ["127.0.0.1"],
        port: [port],
        socket: async () =>
          new SessionSocket(await connected(port), { password, channelBinding: "prefer" }),
        username: decodeURIComponent(url.username),
        database: url.pathname.slice(1) || "postgres",
        ssl: false,
        max: 2,
        fetch_types: false,
        onnotice: () => {},
      } as unknown as postgres.Options<Record<string, never>>,
    );
  }

  test("SCRAM logs in, and a cancel request reaches the server", async () => {
    const sql = client(server.password);
    try {
      const [row] = await sql`SELECT current_user AS who`;
      assert.equal(row.who, decodeURIComponent(new URL(server.url).username));
      const started = Date.now();
      const sleeping = sql`SELECT pg_sleep(30)`;
      setTimeout(() => sleeping.cancel(), 500);
      await assert.rejects(sleeping, { code: "57014" });
      assert.ok(Date.now() - started < 15_000, "the cancel ended the sleep");
    } finally {
      await sql.end({ timeout: 5 });
    }
  });

  test("a wrong password is the server's refusal, with its SQLSTATE", async () => {
    const sql = client("not-the-password");
    try {
      await assert.rejects(sql`SELECT 1`, { code: "28P01" });
    } finally {
      await sql.end({ timeout: 5 });
    }
  });

  test("no password: libpq's line, and nothing is sent", async () => {
    const sql = client(undefined);
    try {
      await assert.rejects(sql`SELECT 1`, { message: STARTUP_ERRORS.noPassword });
    } finally {
      await sql.end({ timeout: 5 });
    }
  });

  test("AuthenticationOk before the server proved it knows the password: refused", async () => {
    const peer = await startScramPeer("okTooEarly");
    const sql = client("any-password", peer.port);
    try {
      await assert.rejects(sql`SELECT 1`, { message: STARTUP_ERRORS.okTooEarly });
      assert.deepEqual(peer.answered, ["SCRAM-SHA-256"]);
    } finally {
      await sql.end({ timeout: 1 });
      await peer.close();
    }
  });
});
