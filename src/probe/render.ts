/**
 * What the probe says, as pure functions of an inspection: the IETF
 * health-check draft's JSON, the `missing=N` line, and Prometheus text. An
 * unauthenticated caller learns status, counts and the kind of a failure;
 * the full reason only when the operator opts in (`HEALTH_DETAILS=1`).
 *
 * @module
 */
import type { Inspection } from "../inspect.ts";
import { VERSION } from "../version.ts";

/** The health draft's verdict and the HTTP status that carries it. */
export interface Verdict {
  status: "pass" | "warn" | "fail";
  code: 200 | 503;
}

/**
 * `pass`: all users have codes and a unique constraint guards them; `warn`
 * (200): all have codes but duplicates exist or nothing guards them; `fail`
 * (503): users missing, column or table absent, or no answer.
 *
 * @param result The inspection.
 */
export function verdict(result: Inspection): Verdict {
  if (result.status === "pass") {
    return { status: result.schema?.unique ? "pass" : "warn", code: 200 };
  }
  if (result.status === "duplicates") return { status: "warn", code: 200 };
  return { status: "fail", code: 503 };
}

/**
 * Why the check is not a pass, as much as a caller may see: the kind of
 * failure (`connect`, `timeout`, `permission`, `absent`, ...) unless `details`.
 *
 * @param result The inspection.
 * @param details Whether the operator opted in to full reasons.
 */
export function publicReason(result: Inspection, details: boolean): string | null {
  if (result.status === "pass") return null;
  if (details || result.status === "missing" || result.status === "duplicates") {
    return result.reason;
  }
  if (result.status === "absent") return "absent: the invite_code column or its table is missing";
  if (result.error.kind === "starting") return result.reason;
  return `check failed: ${result.error.kind}`;
}

/**
 * The `text/plain` body: `missing=0`, `missing=15`, or `missing=unknown (why)`.
 *
 * @example
 * ```ts
 * import type { Inspection } from "../inspect.ts";
 * declare const result: Inspection; // one that found every user with a code
 * textBody(result, false); // "missing=0\n"
 * ```
 * @param result The inspection.
 * @param details Whether full reasons may be shown.
 */
export function textBody(result: Inspection, details: boolean): string {
  const missing = result.missing;
  return missing === null
    ? `missing=unknown (${publicReason(result, details)})\n`
    : `missing=${missing}\n`;
}

/**
 * The `application/health+json` body.
 *
 * @example
 * ```ts
 * import type { Inspection } from "../inspect.ts";
 * declare const result: Inspection; // one that found every user with a code
 * JSON.parse(healthBody(result, Date.now(), false)).status; // "pass"
 * ```
 * @param result The inspection.
 * @param at When it finished, epoch milliseconds.
 * @param details Whether full reasons may be shown.
 */
export function healthBody(result: Inspection, at: number, details: boolean): string {
  const missing = result.missing;
  const time = new Date(at).toISOString();
  const component = (observedValue: unknown, observedUnit: string, state: string) => [
    { componentType: "datastore", observedValue, observedUnit, status: state, time },
  ];
  const output = publicReason(result, details);
  return JSON.stringify({
    status: verdict(result).status,
    version: "1",
    releaseId: VERSION,
    serviceId: "invite-code-repair",
    description: "Every Open WebUI user has a unique invite code",
    missing,
    ...(output ? { output } : {}),
    checks: {
      "invite_codes:missing": component(missing, "users", missing === 0 ? "pass" : "fail"),
      "invite_codes:users": component(
        result.total,
        "users",
        result.total === null ? "fail" : "pass",
      ),
      "invite_codes:duplicates": component(
        result.duplicates,
        "users",
        result.duplicates === null ? "fail" : result.duplicates > 0 ? "warn" : "pass",
      ),
      "invite_codes:unique_constraint": component(
        result.schema?.unique ?? null,
        "boolean",
        result.schema?.unique ? "pass" : "warn",
      ),
      // A standby answers checks, but a repair needs the primary.
      ...(result.schema?.server
        ? {
          "invite_codes:server": component(
            result.schema.server.standby ? "standby" : "primary",
            "role",
            result.schema.server.standby ? "warn" : "pass",
          ),
        }
        : {}),
    },
  });
}

/** Counters the probe keeps beside the latest inspection. */
export interface ProbeStats {
  inspections: number;
  /** Inspections that could not read the table. */
  failedInspections: number;
  dialect: string;
  rssBytes: number;
  /** Self-healing repairs that gave codes, users fixed, and when the last one ran. */
  repairs: number;
  repairedUsers: number;
  lastRepairSeconds: number | null;
  /** The self-healing repair is waiting for a busy server. */
  paused: boolean;
}

/**
 * Prometheus text exposition.
 *
 * @example
 * ```ts
 * import type { Inspection } from "../inspect.ts";
 * declare const result: Inspection, stats: ProbeStats; // the probe's latest
 * prometheusBody(result, stats); // "# HELP invite_codes_missing ...\ninvite_codes_missing 0\n..."
 * ```
 * @param result The latest inspection.
 * @param stats The probe's counters.
 */
export function prometheusBody(result: Inspection, stats: ProbeStats): string {
  const ok = result.status !== "error" && result.status !== "absent";
  const sample = (name: string, help: string, value: number | null, type = "gauge") =>
    `# HELP ${name} ${help}\n# TYPE ${name} ${type}\n${name} ${value ?? "NaN"}\n`;
  return [
    sample("invite_codes_missing", "Users without an invite code.", result.missing),
    sample("invite_codes_users", "Users in the table.", result.total),
    sample(
      "invite_codes_duplicates",
      "Users holding a code another user also holds.",
      result.duplicates,
    ),
    sample("invite_codes_check_success", "1 when the last check could read the table.", ok ? 1 : 0),
    sample(
      "invite_codes_check_duration_seconds",
      "How long the last check took.",
      result.durationMs / 1000,
    ),
    sample(
      "invite_codes_unique_constraint",
      "1 when a unique constraint or index guards invite_code.",
      result.schema ? (result.schema.unique ? 1 : 0) : null,
    ),
    sample(
      "invite_codes_checks_total",
      "Checks run against the database.",
      stats.inspections,
      "counter",
    ),
    sample(
      "invite_codes_check_failures_total",
      "Checks that could not read the table (no connection, a timeout, ...).",
      stats.failedInspections,
      "counter",
    ),
    sample(
      "invite_codes_server_standby",
      "1 when the server that answered is a hot standby (read-only): repairs need the primary.",
      result.schema?.server ? (result.schema.server.standby ? 1 : 0) : null,
    ),
    sample(
      "invite_codes_repairs_total",
      "Self-healing repairs that gave users codes.",
      stats.repairs,
      "counter",
    ),
    sample(
      "invite_codes_repaired_users_total",
      "Users given a code by self-healing repairs.",
      stats.repairedUsers,
      "counter",
    ),
    sample(
      "invite_codes_repair_paused",
      "1 while the self-healing repair waits for a busy server (replication lag, active sessions).",
      stats.paused ? 1 : 0,
    ),
    sample(
      "invite_codes_last_repair_timestamp_seconds",
      "When the last self-healing repair gave codes (Unix time).",
      stats.lastRepairSeconds,
    ),
    sample("process_resident_memory_bytes", "Resident memory of the probe.", stats.rssBytes),
    `# HELP invite_codes_probe_info Probe version and database dialect.\n` +
    `# TYPE invite_codes_probe_info gauge\n` +
    `invite_codes_probe_info{version="${VERSION}",dialect="${stats.dialect}"} 1\n`,
  ].join("");
}
