/**
 * libpq's password file (`~/.pgpass`, `passfile`, `PGPASSFILE`): the
 * password libpq would send, when the conninfo names none.
 *
 * @module
 */
import { readFileSync, statSync } from "node:fs";
import type { Conninfo, Endpoint } from "./conninfo.ts";
import type { Env } from "./environment.ts";
import { homeFile } from "./files.ts";

/** libpq's password file: `host:port:database:user:password`, `*` matches anything. */
export function passwordFromFile(
  conninfo: Conninfo,
  env: Env,
  list: Endpoint[],
  database: string,
  username: string,
): string | undefined {
  const file = conninfo.passfile ?? homeFile(env, ".pgpass");
  let text: string;
  try {
    // libpq ignores a password file others can read.
    if ((statSync(file).mode & 0o077) !== 0) return undefined;
    text = readFileSync(file, "utf8");
  } catch {
    return undefined;
  }
  const first = list[0];
  const host = first.kind === "unix" ? "localhost" : first.label.replace(/:\d+$/, "");
  const port = first.kind === "unix"
    ? first.path.replace(/^.*\.s\.PGSQL\./, "")
    : String(first.port);
  for (const line of text.split("\n")) {
    if (!line || line.startsWith("#")) continue;
    const fields = line.split(/(?<!\\):/).map((f) => f.replace(/\\(.)/g, "$1"));
    if (fields.length < 5) continue;
    const wanted = [host, port, database, username];
    if (wanted.every((value, i) => fields[i] === "*" || fields[i] === value)) {
      return fields.slice(4).join(":");
    }
  }
  return undefined;
}
