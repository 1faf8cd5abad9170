/**
 * The probe's settings, read from the environment once, against the
 * defaults and ranges of the settings table (`src/settings.ts`).
 *
 * @module
 */
import { isOn, readMs, readSetting, readWord } from "../settings.ts";
import type { Env } from "../connect/environment.ts";

/** Everything the probe reads from the environment, with its default. */
export interface ProbeSettings {
  /** `HEALTH_HOST`, default `0.0.0.0`. */
  host: string;
  /** `HEALTH_PORT`, default 8081. */
  port: number;
  /** `HEALTH_CACHE_MS`: how long a result is fresh, default 2000. */
  cacheMs: number;
  /** `HEALTH_TIMEOUT_MS`: limit for one check, default 3000. */
  timeoutMs: number;
  /** `HEALTH_DETAILS=1`: full failure reasons on the wire (default: kinds only). */
  details: boolean;
  /** `REPAIR_INTERVAL` seconds, 0 (default) for no self-healing. */
  repairIntervalMs: number;
  /** `REPAIR_BATCH_SIZE`: users the self-healing repair commits at a time, default 10000. */
  repairBatchSize: number;
  /** `REPAIR_MAX_RATE`: users per second it gives codes at most, default 10000; 0 for no cap. */
  repairMaxRate: number;
  /** `REPAIR_MAX_LAG`: it pauses while a standby's replay lags more seconds than this, default 10. */
  repairMaxLagSeconds: number;
  /** `REPAIR_MAX_ACTIVE`: it pauses while more other sessions run a statement, default 16. */
  repairMaxActive: number;
  /** `HEALTH_EXIT_WITH_PARENT=1` (start.sh): exit when the app, its parent, does. */
  exitWithParent: boolean;
}

/**
 * Read the probe's settings, or throw the `config` error naming the bad one.
 *
 * @example
 * ```ts
 * probeSettings({ HEALTH_PORT: "9000" }).port; // 9000
 * ```
 * @param env The environment.
 */
export function probeSettings(env: Env): ProbeSettings {
  return {
    host: readWord(env, "HEALTH_HOST"),
    port: readSetting(env, "HEALTH_PORT"),
    cacheMs: readMs(env, "HEALTH_CACHE_MS"),
    timeoutMs: readMs(env, "HEALTH_TIMEOUT_MS"),
    details: readWord(env, "HEALTH_DETAILS") === "1",
    repairIntervalMs: readMs(env, "REPAIR_INTERVAL"),
    repairBatchSize: readSetting(env, "REPAIR_BATCH_SIZE"),
    repairMaxRate: readSetting(env, "REPAIR_MAX_RATE"),
    repairMaxLagSeconds: readSetting(env, "REPAIR_MAX_LAG"),
    repairMaxActive: readSetting(env, "REPAIR_MAX_ACTIVE"),
    exitWithParent: isOn(env, "HEALTH_EXIT_WITH_PARENT"),
  };
}

/**
 * Whether start.sh runs the probe beside the app (`HEALTH_BESIDE_APP=1`):
 * read on its own, since it decides how a probe whose other settings are bad
 * says so.
 *
 * @param env The environment.
 */
export function besideApp(env: Env): boolean {
  return isOn(env, "HEALTH_BESIDE_APP");
}
