/**
 * The probe: a small Hono server that answers `GET /health/invite-codes` so
 * orchestrators and humans can verify `missing=0`.
 *
 * Load on the database is bounded: one inspection at a time, shared by every
 * request that arrives while it runs, cached for `HEALTH_CACHE_MS`, each with
 * a timeout, over a pool of at most two connections.
 *
 * @example
 * ```sh
 * HEALTH_PORT=8081 node health.ts &
 * curl -s localhost:8081/health/invite-codes?format=text   # missing=0
 * ```
 *
 * @module
 */
import { Hono } from "hono";
import process from "node:process";
import {
  closeWithin,
  containStrayErrors,
  type Database,
  type DatabaseTarget,
  type Env,
  inspect,
  type Inspection,
  isEntryPoint,
  openDatabase,
  parseDatabaseUrl,
  resolveDatabaseUrl,
  VERSION,
} from "./mod.ts";

const PATH = "/health/invite-codes";

/** How the probe behaves; every field falls back to its environment variable. */
export interface ProbeOptions {
  env?: Env;
  /** How long a result is reused (`HEALTH_CACHE_MS`, default 2000). */
  cacheMs?: number;
  /** Limit for one inspection (`HEALTH_TIMEOUT_MS`, default 3000). */
  timeoutMs?: number;
}

/** The probe's app and what it holds open. */
export interface Probe {
  app: Hono;
  /** Inspections run so far: what the database actually saw. */
  readonly inspections: number;
  close(): Promise<void>;
}

/** Read a whole number from the environment, or throw a one-line error. */
export function envInteger(
  env: Env,
  name: string,
  fallback: number,
  min: number,
  max: number,
): number {
  const raw = env[name];
  if (raw === undefined || raw === "") return fallback;
  const value = /^\d{1,10}$/.test(raw.trim()) ? Number(raw) : NaN;
  if (!(value >= min && value <= max)) {
    const shown = JSON.stringify(raw.length > 40 ? `${raw.slice(0, 40)}...` : raw);
    throw new RangeError(`${name} must be a whole number from ${min} to ${max}, got ${shown}`);
  }
  return value;
}

/** Build the probe for the database the environment names. */
export function createProbe(options: ProbeOptions = {}): Probe {
  const env = options.env ?? process.env;
  const cacheMs = options.cacheMs ?? envInteger(env, "HEALTH_CACHE_MS", 2000, 0, 3_600_000);
  const timeoutMs = options.timeoutMs ?? envInteger(env, "HEALTH_TIMEOUT_MS", 3000, 100, 600_000);
  let target: DatabaseTarget | Error;
  try {
    target = parseDatabaseUrl(resolveDatabaseUrl(env), env);
  } catch (error) {
    target = error as Error;
  }

  let db: Database | undefined;
  let cached: { at: number; result: Inspection } | undefined;
  let inFlight: Promise<Inspection> | undefined;
  let inspections = 0;

  async function inspectNow(): Promise<Inspection> {
    inspections++;
    if (target instanceof Error) {
      return failed(target.message);
    }
    db ??= await openDatabase(target, {
      deadline: () => Date.now() + timeoutMs,
      readOnly: true,
      maxConnections: 2,
    });
    const result = await inspect(db, { secrets: target.secrets, timeoutMs });
    // Start afresh after an error: the connection may be dead or abandoned.
    // A SQLite file is reopened every time, so a replaced file is seen.
    if (result.status === "error" || target.dialect === "sqlite") {
      const stale = db;
      db = undefined;
      // Not awaited: the next check must not wait on closing a dead connection.
      const kind = result.error?.kind;
      void closeWithin(stale, kind === "timeout" || kind === "connect");
    }
    return result;
  }

  /** The latest result, sharing one inspection among concurrent callers. */
  function latest(): Promise<Inspection> {
    if (cached && Date.now() - cached.at < cacheMs) return Promise.resolve(cached.result);
    inFlight ??= inspectNow()
      .then((result) => {
        cached = { at: Date.now(), result };
        return result;
      })
      .finally(() => (inFlight = undefined));
    return inFlight;
  }

  const app = new Hono();
  app.get(PATH, async (c) => {
    const result = await latest();
    const { status, code } = verdict(result);
    const missing =
      result.status === "pass" || result.status === "missing" || result.status === "duplicates"
        ? result.missing!
        : null;
    const wantsText = c.req.query("format") === "text" ||
      (/\btext\/plain\b/.test(c.req.header("accept") ?? "") && c.req.query("format") !== "json");
    c.header("Cache-Control", "no-store");
    if (wantsText) {
      const line = missing === null ? `missing=unknown (${result.reason})` : `missing=${missing}`;
      return c.text(`${line}\n`, code);
    }
    const time = new Date(cached?.at ?? Date.now()).toISOString();
    const component = (observedValue: unknown, observedUnit: string, state: string) => [
      { componentType: "datastore", observedValue, observedUnit, status: state, time },
    ];
    const body = {
      status,
      version: "1",
      releaseId: VERSION,
      serviceId: "invite-code-repair",
      description: "Every Open WebUI user has a unique invite code",
      missing,
      ...(result.reason ? { output: result.reason } : {}),
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
      },
    };
    return c.body(JSON.stringify(body), code, { "Content-Type": "application/health+json" });
  });

  app.get("/livez", (c) => c.text("ok\n"));

  app.get("/metrics", async (c) => {
    const result = await latest();
    const ok = result.status !== "error" && result.status !== "absent";
    const gauge = (name: string, help: string, value: number | null, type = "gauge") =>
      `# HELP ${name} ${help}\n# TYPE ${name} ${type}\n${name} ${value ?? "NaN"}\n`;
    const dialect = target instanceof Error ? "none" : target.dialect;
    return c.text(
      gauge("invite_codes_missing", "Users without an invite code.", result.missing) +
        gauge("invite_codes_users_total", "Users in the table.", result.total) +
        gauge(
          "invite_codes_duplicates",
          "Users holding a code another user also holds.",
          result.duplicates,
        ) +
        gauge(
          "invite_codes_check_success",
          "1 when the last check could read the table.",
          ok ? 1 : 0,
        ) +
        gauge(
          "invite_codes_check_duration_seconds",
          "How long the last check took.",
          result.durationMs / 1000,
        ) +
        gauge(
          "invite_codes_unique_constraint",
          "1 when a unique constraint or index guards invite_code.",
          result.schema ? (result.schema.unique ? 1 : 0) : null,
        ) +
        gauge(
          "invite_codes_checks_total",
          "Checks run against the database.",
          inspections,
          "counter",
        ) +
        gauge(
          "process_resident_memory_bytes",
          "Resident memory of the probe.",
          process.memoryUsage().rss,
        ) +
        `# HELP invite_codes_probe_info Probe version and database dialect.\n` +
        `# TYPE invite_codes_probe_info gauge\n` +
        `invite_codes_probe_info{version="${VERSION}",dialect="${dialect}"} 1\n`,
      200,
      { "Content-Type": "text/plain; version=0.0.4; charset=utf-8" },
    );
  });

  for (const path of [PATH, "/livez", "/metrics"]) {
    app.all(path, (c) => c.text("method not allowed\n", 405, { Allow: "GET, HEAD" }));
  }
  app.notFound((c) => c.text("not found\n", 404));
  app.onError((_error, c) => c.text("internal error\n", 500));

  return {
    app,
    get inspections() {
      return inspections;
    },
    async close() {
      await closeWithin(db);
    },
  };
}

function failed(reason: string): Inspection {
  return {
    status: "error",
    reason,
    total: null,
    missing: null,
    duplicates: null,
    schema: null,
    durationMs: 0,
  };
}

/** Map an inspection to the health draft's status and an HTTP code. */
function verdict(result: Inspection): { status: "pass" | "warn" | "fail"; code: 200 | 503 } {
  if (result.status === "pass") {
    return { status: result.schema?.unique ? "pass" : "warn", code: 200 };
  }
  if (result.status === "duplicates") return { status: "warn", code: 200 };
  return { status: "fail", code: 503 };
}

interface DenoServer {
  shutdown(): Promise<void>;
}
interface DenoGlobal {
  serve(
    options: { hostname: string; port: number; onListen?: () => void },
    handler: (request: Request) => Response | Promise<Response>,
  ): DenoServer;
}

/** Serve the probe on `HEALTH_HOST`:`HEALTH_PORT` until SIGTERM or SIGINT. */
export async function serveProbe(env: Env = process.env): Promise<void> {
  const hostname = env.HEALTH_HOST || "0.0.0.0";
  if (/[\s/]/.test(hostname) || hostname.length > 255) {
    throw new RangeError(
      `HEALTH_HOST must be a host name or address, got ${JSON.stringify(hostname.slice(0, 40))}`,
    );
  }
  const port = envInteger(env, "HEALTH_PORT", 8081, 1, 65535);
  const probe = createProbe({ env });
  const location = (() => {
    try {
      return parseDatabaseUrl(resolveDatabaseUrl(env), env).display;
    } catch {
      return "unsupported";
    }
  })();
  const listening = () =>
    console.log(
      `INFO: invite-code probe listening on http://${hostname}:${port}${PATH} (database: ${location})`,
    );

  let stop: () => Promise<void>;
  const deno = (globalThis as { Deno?: DenoGlobal }).Deno;
  if (deno) {
    const server = deno.serve({ hostname, port, onListen: listening }, probe.app.fetch);
    stop = () => server.shutdown();
  } else {
    const { serve } = await import("@hono/node-server");
    const server = serve({ fetch: probe.app.fetch, hostname, port }, listening);
    await new Promise<void>((resolve, reject) => {
      server.once("listening", resolve);
      server.once("error", reject);
    });
    stop = () =>
      new Promise((resolve) => {
        server.close(() => resolve());
        (server as { closeAllConnections?: () => void }).closeAllConnections?.();
      });
  }

  let stopping = false;
  const shutdown = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    console.log(`INFO: invite-code probe stopping on ${signal}`);
    // A stuck database must not hold the pod in Terminating.
    const force = setTimeout(() => process.exit(0), 3000);
    await Promise.allSettled([stop(), probe.close()]);
    clearTimeout(force);
    process.exit(0);
  };
  process.on("SIGTERM", () => void shutdown("SIGTERM"));
  process.on("SIGINT", () => void shutdown("SIGINT"));
  if (env.HEALTH_EXIT_WITH_PARENT === "1") {
    // Beside an app (start.sh), the probe lives as long as the app does.
    const parent = process.ppid;
    setInterval(() => process.ppid !== parent && void shutdown("parent exit"), 500);
  }
}

if (isEntryPoint(import.meta)) {
  containStrayErrors();
  try {
    await serveProbe();
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    console.error(`ERROR: ${message.split("\n")[0]}`);
    process.exit(2);
  }
}
