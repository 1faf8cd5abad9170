/**
 * The tool's own settings, in one table: every flag of the command and every
 * variable the command, the probe or start.sh reads (Open WebUI's
 * `DATABASE_*` and libpq's `PG*` have theirs in `src/connect/`), each with its
 * default, range, unit and help line. `--help` is printed from it, the
 * readers take their defaults and bounds from it, and a test holds the
 * README's tables to it. Numbers are read one way: a whole number or a
 * decimal within bounds, or one line that names the setting and what it got.
 *
 * @module
 */
import { InviteCodeError } from "./errors.ts";

/** Bounds for one number. */
export interface NumberRule {
  /** Only whole numbers. */
  integer: boolean;
  min: number;
  max: number;
}

/** Who reads a setting: the command (`mod.ts`, whose flags these are), the probe, or start.sh. */
export type Reader = "repair" | "probe" | "start.sh";

/** What a number counts. */
export type Unit = "s" | "ms" | "users" | "users/s" | "sessions";

interface SettingBase {
  /** Who reads it. */
  readers: readonly Reader[];
  /** One line for `--help` and the README. */
  help: string;
  /** A flag's one-letter form (`-h`). */
  short?: string;
  /**
   * Set by start.sh for the process it starts, never by the operator: left
   * out of `--help` and the README.
   */
  internal?: true;
}

/** A number within bounds. */
export interface NumberSetting extends SettingBase, NumberRule {
  type: "number";
  /** Unset (or, for a variable, empty): this; null when unset means something else (`unset`). */
  default: number | null;
  unit: Unit | null;
  /** What a flag's value is called in `--help` (`--timeout SECONDS`). */
  value?: string;
  /** What unset means when there is no default number. */
  unset?: string;
}

/** One of a few words. */
export interface ChoiceSetting extends SettingBase {
  type: "choice";
  values: readonly string[];
  default: string | null;
  /** What unset means when there is no default word. */
  unset?: string;
}

/** Free text, optionally checked. */
export interface TextSetting extends SettingBase {
  type: "text";
  default: string | null;
  /** What a good value is, for the error line (`a host name or address`). */
  needs?: string;
  /** Whether a value is good; every value is when absent. */
  accepts?: (value: string) => boolean;
}

/** A flag without a value, or a variable that is on when it is `1`. */
export interface SwitchSetting extends SettingBase {
  type: "switch";
}

export type Setting = NumberSetting | ChoiceSetting | TextSetting | SwitchSetting;

/**
 * Every setting the tool reads, flags first, in the order `--help` and the
 * README list them.
 */
export const SETTINGS = {
  "--check": {
    type: "switch",
    readers: ["repair"],
    help: "read-only: exit 0 when nothing is missing, 1 when users lack codes, codes are " +
      "duplicated, or the table or column is absent, 2 when it cannot run",
  },
  "--dry-run": {
    type: "switch",
    readers: ["repair"],
    help: "report what a repair would do, change nothing",
  },
  "--json": {
    type: "switch",
    readers: ["repair"],
    help: "print one JSON report on stdout (log lines go to stderr)",
  },
  "--fix-duplicates": {
    type: "switch",
    readers: ["repair"],
    help: "also give new codes to all but the earliest holder (by created_at) of each code " +
      "that several users share; with --dry-run, say how many it would change",
  },
  "--strict": {
    type: "switch",
    readers: ["repair"],
    help: "exit 1 when the repair fails or stops part-way (default: fail open, exit 0)",
  },
  "--batch-size": {
    type: "number",
    readers: ["repair"],
    help: "commit every N users instead of once (each batch atomic)",
    value: "N",
    integer: true,
    min: 1,
    max: 100_000_000,
    unit: "users",
    default: null,
    unset: "one transaction",
  },
  "--timeout": {
    type: "number",
    readers: ["repair"],
    help: "give up after this long",
    value: "SECONDS",
    integer: false,
    min: 1,
    max: 86_400,
    unit: "s",
    default: 120,
  },
  "--help": { type: "switch", readers: ["repair"], short: "h", help: "print this help" },
  "--version": { type: "switch", readers: ["repair"], short: "V", help: "print the version" },

  HEALTH_HOST: {
    type: "text",
    readers: ["probe"],
    help: "address to listen on",
    default: "0.0.0.0",
    needs: "a host name or address",
    accepts: (host: string) => !/[\s/]/.test(host) && host.length <= 255,
  },
  HEALTH_PORT: {
    type: "number",
    readers: ["probe", "start.sh"],
    help: "port to listen on; in start.sh, also runs the probe beside the app",
    integer: true,
    min: 1,
    max: 65535,
    unit: null,
    default: 8081,
  },
  HEALTH_CACHE_MS: {
    type: "number",
    readers: ["probe"],
    help: "how long a check result is fresh",
    integer: true,
    min: 0,
    max: 3_600_000,
    unit: "ms",
    default: 2000,
  },
  HEALTH_TIMEOUT_MS: {
    type: "number",
    readers: ["probe"],
    help: "limit for one check",
    integer: true,
    min: 100,
    max: 600_000,
    unit: "ms",
    default: 3000,
  },
  HEALTH_DETAILS: {
    type: "choice",
    readers: ["probe"],
    help: "1: full failure reasons on the wire (default: only their kind)",
    values: ["0", "1"],
    default: "0",
  },
  REPAIR_INTERVAL: {
    type: "number",
    readers: ["probe"],
    help: "time between self-healing rounds; 0 for none",
    integer: true,
    min: 0,
    max: 86_400,
    unit: "s",
    default: 0,
  },
  REPAIR_BATCH_SIZE: {
    type: "number",
    readers: ["probe"],
    help: "users the self-healing repair commits at a time",
    integer: true,
    min: 1,
    max: 100_000_000,
    unit: "users",
    default: 10_000,
  },
  REPAIR_MAX_RATE: {
    type: "number",
    readers: ["probe"],
    help: "users per second the self-healing repair gives codes at most; 0 for no cap",
    integer: true,
    min: 0,
    max: 100_000_000,
    unit: "users/s",
    default: 10_000,
  },
  REPAIR_MAX_LAG: {
    type: "number",
    readers: ["probe"],
    help: "the self-healing repair pauses while a standby's replay lags more than this",
    integer: false,
    min: 0,
    max: 86_400,
    unit: "s",
    default: 10,
  },
  REPAIR_MAX_ACTIVE: {
    type: "number",
    readers: ["probe"],
    help: "the self-healing repair pauses while more other sessions run a statement",
    integer: true,
    min: 0,
    max: 100_000,
    unit: "sessions",
    default: 16,
  },
  MIGRATE_CMD: {
    type: "text",
    readers: ["start.sh"],
    help: "migration command run first",
    default: null,
  },
  INVITE_CODE_RUNTIME: {
    type: "choice",
    readers: ["start.sh"],
    help: "the runtime (anything else: a WARNING, and picked as if unset)",
    values: ["deno", "node"],
    default: null,
    unset: "a capable one",
  },
  INVITE_CODE_FLAGS: {
    type: "text",
    readers: ["start.sh"],
    help: "extra flags for the repair",
    default: null,
  },
  NODE_COMPILE_CACHE: {
    type: "text",
    readers: ["start.sh"],
    help: "Node's compile cache, kept when the folder can be created or read, else unset " +
      "(the images bake /app/.node-compile-cache)",
    default: "${TMPDIR:-/tmp}/invite-code-repair-node-cache",
  },
  INVITE_CODE_FLAGS_FROM_START_SH: {
    type: "switch",
    readers: ["repair"],
    internal: true,
    help: "the flags came from start.sh's INVITE_CODE_FLAGS: a bad one is a WARNING, exit 0",
  },
  HEALTH_EXIT_WITH_PARENT: {
    type: "switch",
    readers: ["probe"],
    internal: true,
    help: "the probe exits when the process that started it (the app, after exec) does",
  },
  HEALTH_BESIDE_APP: {
    type: "switch",
    readers: ["probe"],
    internal: true,
    help: "the probe runs beside the app: a probe that cannot start is a WARNING, not an ERROR",
  },
} as const satisfies Record<string, Setting>;

/** The name of a setting: a flag (`--timeout`) or a variable (`HEALTH_PORT`). */
export type SettingName = keyof typeof SETTINGS;

/** The settings whose value is a number. */
export type NumberName = {
  [N in SettingName]: (typeof SETTINGS)[N] extends { type: "number" } ? N : never;
}[SettingName];

/** The number settings that have a default number. */
export type DefaultedName = {
  [N in NumberName]: (typeof SETTINGS)[N]["default"] extends number ? N : never;
}[NumberName];

/** The settings whose value is a word: one of a few, or free text. */
export type WordName = {
  [N in SettingName]: (typeof SETTINGS)[N] extends { type: "choice" | "text" } ? N : never;
}[SettingName];

/** The word settings that have a default word. */
export type DefaultedWordName = {
  [N in WordName]: (typeof SETTINGS)[N]["default"] extends string ? N : never;
}[WordName];

/** Every setting with its name, in the table's order. */
export function settings(): [SettingName, Setting][] {
  return Object.entries(SETTINGS) as [SettingName, Setting][];
}

/**
 * Read `raw` as a number within `rule`, or throw the `config` error that
 * names `name` and shows what it got.
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
    throw new InviteCodeError(
      "config",
      `${name} needs ${kind} from ${rule.min} to ${rule.max}, got ${shown(raw)}`,
    );
  }
  return value;
}

/** A bad value as the error line shows it: quoted, and cut when long. */
function shown(raw: string): string {
  return JSON.stringify(raw.length > 40 ? `${raw.slice(0, 40)}...` : raw);
}

/** The environment, or any map of variables. */
export type Variables = Readonly<Record<string, string | undefined>>;

/** Whether a variable is unset: compose passes `${VAR:-}` as "", which is its default too. */
function unset(raw: string | undefined): raw is undefined | "" {
  return raw === undefined || raw === "";
}

/**
 * Read the number variable `name` from `env`, in its own unit; unset or
 * empty is its default.
 *
 * @example
 * ```ts
 * readSetting({ HEALTH_CACHE_MS: "500" }, "HEALTH_CACHE_MS"); // 500
 * readSetting({ HEALTH_CACHE_MS: "" }, "HEALTH_CACHE_MS"); // 2000
 * ```
 * @param env The environment.
 * @param name The variable.
 */
export function readSetting(env: Variables, name: DefaultedName): number;
export function readSetting(env: Variables, name: NumberName): number | null;
export function readSetting(env: Variables, name: NumberName): number | null {
  const setting: NumberSetting = SETTINGS[name];
  const raw = env[name];
  return unset(raw) ? setting.default : readNumber(name, raw, setting);
}

/**
 * Read the time variable `name` from `env` in milliseconds, whichever of
 * seconds or milliseconds the table says it is given in.
 *
 * @example
 * ```ts
 * readMs({ REPAIR_INTERVAL: "60" }, "REPAIR_INTERVAL"); // 60000
 * ```
 * @param env The environment.
 * @param name The variable; its unit is `s` or `ms`.
 */
export function readMs(env: Variables, name: DefaultedName): number {
  return inMs(name, readSetting(env, name));
}

/**
 * A number setting's value in milliseconds, whichever of seconds or
 * milliseconds the table says it is given in.
 *
 * @param name The setting; its unit is `s` or `ms`.
 * @param value The value as given.
 */
export function inMs(name: NumberName, value: number): number {
  const unit: Unit | null = SETTINGS[name].unit;
  if (unit !== "s" && unit !== "ms") throw new TypeError(`${name} is not a time`);
  return unit === "s" ? value * 1000 : value;
}

/**
 * Read the word variable `name` from `env`: unset or empty is its default,
 * anything but its values or what it accepts the `config` error that names it.
 *
 * @example
 * ```ts
 * readWord({ HEALTH_DETAILS: "1" }, "HEALTH_DETAILS"); // "1"
 * readWord({ HEALTH_DETAILS: "yes" }, "HEALTH_DETAILS"); // throws: HEALTH_DETAILS must be 0 or 1, got "yes"
 * ```
 * @param env The environment.
 * @param name A choice or text variable.
 */
export function readWord(env: Variables, name: DefaultedWordName): string;
export function readWord(env: Variables, name: WordName): string | null;
export function readWord(env: Variables, name: WordName): string | null {
  const setting: ChoiceSetting | TextSetting = SETTINGS[name];
  const raw = env[name];
  if (unset(raw)) return setting.default;
  const good = setting.type === "choice"
    ? setting.values.includes(raw)
    : setting.accepts?.(raw) ?? true;
  if (!good) {
    const needs = setting.type === "choice" ? rangeText(setting) : setting.needs;
    throw new InviteCodeError("config", `${name} must be ${needs}, got ${shown(raw)}`);
  }
  return raw;
}

/** The settings that are on or off. */
export type SwitchName = {
  [N in SettingName]: (typeof SETTINGS)[N] extends { type: "switch" } ? N : never;
}[SettingName];

/**
 * Whether the switch variable `name` is on: `1`, and nothing else.
 *
 * @param env The environment.
 * @param name A switch variable.
 */
export function isOn(env: Variables, name: SwitchName): boolean {
  return env[name] === "1";
}

/**
 * A setting's default as `--help` and the README write it: the value, or
 * what unset means.
 *
 * @example
 * ```ts
 * defaultText(SETTINGS.HEALTH_PORT); // "8081"
 * defaultText(SETTINGS.MIGRATE_CMD); // "none"
 * ```
 * @param setting The setting.
 */
export function defaultText(setting: Setting): string {
  if (setting.type === "switch") return "";
  if (setting.default !== null) return String(setting.default);
  return ("unset" in setting && setting.unset) || "none";
}

/**
 * A setting's range as `--help` and the README write it (`1 to 65535`,
 * `0 or 1`); empty for free text and switches.
 *
 * @param setting The setting.
 */
export function rangeText(setting: Setting): string {
  if (setting.type === "number") return `${setting.min} to ${setting.max}`;
  if (setting.type === "choice") {
    const { values } = setting;
    return values.length === 1
      ? values[0]
      : `${values.slice(0, -1).join(", ")} or ${values[values.length - 1]}`;
  }
  return "";
}
