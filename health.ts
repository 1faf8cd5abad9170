/**
 * The probe: a small Hono server that answers `GET /health/invite-codes` so
 * orchestrators and humans can verify `missing=0`; with `REPAIR_INTERVAL`, it
 * also heals. This file is its face: what a library user builds a probe
 * with, and the command. Its parts are in `src/probe/`: `settings.ts` (read
 * once from the environment), `server.ts` (the app and its serving),
 * `inspector.ts` (cached, shared, bounded checks), `render.ts` (what goes on
 * the wire) and `heal.ts` (the self-healing repair).
 *
 * @example
 * ```sh
 * HEALTH_PORT=8081 node health.ts &
 * curl -s localhost:8081/health/invite-codes?format=text   # missing=0
 * ```
 *
 * @module
 */
import { exit, isEntryPoint } from "./src/runtime.ts";

export {
  createProbe,
  listenUrl,
  prefersText,
  type Probe,
  PROBE_PATH,
  type ServedProbe,
  serveProbe,
} from "./src/probe/server.ts";
export { type ProbeSettings, probeSettings } from "./src/probe/settings.ts";
export type { Inspector, Observed } from "./src/probe/inspector.ts";
export type { ProbeStats } from "./src/probe/render.ts";

if (isEntryPoint(import.meta)) {
  // runProbe installs process-wide handlers (stray errors, signals): the
  // command's alone, so only this entry calls it and importing installs nothing.
  const { runProbe } = await import("./src/probe/server.ts");
  exit(await runProbe());
}
