/**
 * invite-code-repair: at container start, give every Open WebUI user without
 * an invite code a unique one, atomically, and never stop the app from
 * starting because of it.
 *
 * This file is the library's face and the command `start.sh` runs; `health.ts`
 * beside it is the probe. Everything else is in `src/`, one file per job:
 * `connect/` (which database, and how to reach it: environment, URL, libpq's
 * conninfo, connector), `db/` (the dialects), `codes.ts`, `repair.ts`,
 * `inspect.ts` (the read-only check), `cli.ts`, `probe/` (the probe's parts),
 * and `runtime.ts` (every Node/Deno difference).
 *
 * @example Library use
 * ```ts
 * import { check, repair } from "./mod.ts";
 * const report = await repair({ env: { DATABASE_URL: "sqlite:///data/webui.db" } });
 * console.log(report.generated, (await check()).status);
 * ```
 *
 * @module
 */
import process from "node:process";
import { exit, isEntryPoint } from "./src/runtime.ts";

export { repair, type RepairOptions, type RepairReport } from "./src/repair.ts";
export { check, type CheckResult, inspect, type Inspection } from "./src/inspect.ts";
export { type Env, resolveDatabaseUrl } from "./src/connect/environment.ts";
export { parseSqlalchemyUrl } from "./src/connect/sqlalchemy.ts";
export { type DatabaseTarget, parseDatabaseUrl, resolveTarget } from "./src/connect/target.ts";
export {
  ALPHABET,
  generateInviteCode,
  generateInviteCodes,
  MAX_CODE_LENGTH,
  MIN_CODE_LENGTH,
} from "./src/codes.ts";
export { openDatabase } from "./src/db/open.ts";
export type { Database, SchemaFacts } from "./src/db/dialect.ts";
export { type Failure, type FailureKind, InviteCodeError, redact } from "./src/errors.ts";
export { LOG } from "./src/messages.ts";
export { VERSION } from "./src/version.ts";
export { main } from "./src/cli.ts";

if (isEntryPoint(import.meta)) {
  // runCli installs process-wide handlers (stray errors): the command's
  // alone, so only this entry calls it and importing installs nothing.
  const { runCli } = await import("./src/cli.ts");
  exit(await runCli(process.argv.slice(2)));
}
