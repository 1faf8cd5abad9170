/**
 * Where libpq looks for its files (`~/.pgpass`, `~/.postgresql/...`) and
 * whether one is there. Shared by the password file and TLS, which read them.
 *
 * @module
 */
import { existsSync } from "node:fs";
import { homedir } from "node:os";
import { join } from "node:path";
import type { Env } from "./environment.ts";

/**
 * A file under the home directory, as libpq finds it: `$HOME`, else the
 * OS user's home.
 *
 * @param env Where `HOME` comes from.
 * @param parts The path below the home directory.
 */
export function homeFile(env: Env, ...parts: string[]): string {
  return join(env.HOME || safeHomedir(), ...parts);
}

function safeHomedir(): string {
  try {
    return homedir();
  } catch {
    return "/";
  }
}

/**
 * Whether a default file (`~/.postgresql/root.crt`, ...) is there. A file the
 * process may not even look at (Deno without --allow-read) is not there, as
 * for libpq a file it cannot stat is not there.
 */
export function present(path: string): boolean {
  try {
    return existsSync(path);
  } catch {
    return false;
  }
}
