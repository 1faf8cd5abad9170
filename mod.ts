/**
 * invite-code-repair: at container start, give every Open WebUI user without
 * an invite code a unique one, atomically, and never stop the app from
 * starting because of it.
 *
 * This file is the library's face and the command `start.sh` runs. Behind it,
 * one file per job: `target.ts` (which database), `codes.ts`, `repair.ts`,
 * `inspect.ts` (the read-only check), `cli.ts`, `db/` (the dialects and
 * libpq's keywords), `runtime.ts` (every Node/Deno difference); `health.ts`
 * is the probe.
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
import { exit, isEntryPoint } from "./runtime.ts";

export { repair, type RepairOptions, type RepairReport } from "./repair.ts";
export { check, type CheckResult, inspect, type Inspection } from "./inspect.ts";
export {
  type Env,
  parseDatabaseUrl,
  parseSqlalchemyUrl,
  resolveDatabaseUrl,
  resolveTarget,
} from "./target.ts";
export {
  ALPHABET,
  generateInviteCode,
  generateInviteCodes,
  MAX_CODE_LENGTH,
  MIN_CODE_LENGTH,
} from "./codes.ts";
export { openDatabase } from "./db/open.ts";
export type { Database, DatabaseTarget, SchemaFacts } from "./db/dialect.ts";
export { type Failure, type FailureKind, InviteCodeError, redact } from "./errors.ts";
export { LOG } from "./messages.ts";
export { VERSION } from "./version.ts";
export { main } from "./cli.ts";

if (isEntryPoint(import.meta)) {
  const { main } = await import("./cli.ts");
  exit(await main(process.argv.slice(2)));
}
