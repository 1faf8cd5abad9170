/**
 * Numbers from flags and the environment, read one way: a whole number or a
 * decimal within bounds, or one line that names the setting and what it got.
 *
 * @module
 */

/** Bounds for one setting. */
export interface NumberRule {
  /** Only whole numbers. */
  integer: boolean;
  min: number;
  max: number;
}

/** A setting that could not be read; its message is the one line to print. */
export class SettingError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "SettingError";
  }
}

/**
 * Read `raw` as a number within `rule`, or throw a `SettingError` that names
 * `name` and shows what it got.
 *
 * @example
 * ```ts
 * readNumber("--timeout", "30", { integer: false, min: 0.001, max: 86_400 }); // 30
 * readNumber("HEALTH_PORT", "http", { integer: true, min: 1, max: 65535 }); // throws
 * ```
 * @param name The flag or variable, as the operator wrote it.
 * @param raw What was given.
 * @param rule What is accepted.
 */
export function readNumber(name: string, raw: string, rule: NumberRule): number {
  const pattern = rule.integer ? /^\s*\d{1,12}\s*$/ : /^\s*\d{1,12}(\.\d+)?\s*$/;
  const value = pattern.test(raw) ? Number(raw) : NaN;
  if (!(value >= rule.min && value <= rule.max)) {
    const kind = rule.integer ? "a whole number" : "a number";
    const shown = JSON.stringify(raw.length > 40 ? `${raw.slice(0, 40)}...` : raw);
    throw new SettingError(`${name} needs ${kind} from ${rule.min} to ${rule.max}, got ${shown}`);
  }
  return value;
}

/**
 * Read environment variable `name` within `rule`, or `fallback` when it is
 * unset or empty.
 *
 * @example
 * ```ts
 * envNumber({ HEALTH_CACHE_MS: "500" }, "HEALTH_CACHE_MS", 2000, { integer: true, min: 0, max: 3_600_000 }); // 500
 * ```
 * @param env The environment.
 * @param name The variable.
 * @param fallback Its default.
 * @param rule What is accepted.
 */
export function envNumber(
  env: Record<string, string | undefined>,
  name: string,
  fallback: number,
  rule: NumberRule,
): number {
  const raw = env[name];
  return raw === undefined || raw === "" ? fallback : readNumber(name, raw, rule);
}
