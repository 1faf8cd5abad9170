/**
 * libpq's files: where it looks for them (`~/.pgpass`, `~/.postgresql/...`),
 * whether one is there, and reading one. A file the runtime may not even look
 * at under its permissions (Deno without `--allow-read`) is never taken as
 * absent: that would turn a verified connection into an unverified one.
 *
 * @module
 */
import type { Buffer } from "node:buffer";
import { readFileSync, type Stats, statSync } from "node:fs";
import { homedir } from "node:os";
import { join } from "node:path";
import { errorMessage, InviteCodeError } from "../errors.ts";
import { isPermissionError } from "../runtime.ts";
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

/** What `stat` found: the file, or the error code that says why there is none. */
export type Looked = { stats: Stats; code?: undefined } | { stats?: undefined; code: string };

/**
 * Look at a file as libpq does, with `stat`.
 *
 * @param keyword The keyword the file is for, named in a refusal.
 * @param path The file.
 */
export function look(keyword: string, path: string): Looked {
  try {
    return { stats: statSync(path) };
  } catch (error) {
    if (isPermissionError(error)) throw notPermitted(keyword, path, error);
    return { code: (error as { code?: string }).code ?? "EIO" };
  }
}

/**
 * Whether a default file (`~/.postgresql/root.crt`, ...) is there: libpq
 * takes any failing `stat` for "not there".
 *
 * @param keyword The keyword the file is for, named in a refusal.
 * @param path The file.
 */
export function present(keyword: string, path: string): boolean {
  return look(keyword, path).stats !== undefined;
}

/**
 * Read a file a keyword names, or throw one line that says why not.
 *
 * @param keyword The keyword the file is for.
 * @param path The file.
 */
export function readFor(keyword: string, path: string): Buffer {
  try {
    return readFileSync(path);
  } catch (error) {
    if (isPermissionError(error)) throw notPermitted(keyword, path, error);
    throw new InviteCodeError(
      "config",
      `cannot read ${keyword} file ${JSON.stringify(path)}: ${
        errorMessage(error).replace(/^.*?: /, "")
      }`,
      { cause: error },
    );
  }
}

function notPermitted(keyword: string, path: string, cause: unknown): InviteCodeError {
  return new InviteCodeError(
    "permission",
    `${keyword}: this runtime may not read ${JSON.stringify(path)} under the permissions it was ` +
      `given, and libpq would use that file: grant --allow-read, or set INVITE_CODE_RUNTIME=node`,
    { cause },
  );
}
