/**
 * The probe's server: the Hono app that answers `GET /health/invite-codes`
 * (and `/livez`, `/metrics`), built from its settings, its inspector and its
 * healer, and the serving of it. `health.ts` is its face.
 *
 * @module
 */
import { type Context, Hono } from "hono";
import process from "node:process";
import { describeFailure, errorMessage, oneLine, redact, strayLine } from "../errors.ts";
import { PROBE_LOG, PROBE_STARTING } from "../messages.ts";
import { failedInspection } from "../inspect.ts";
import { createInspector, type Inspector, type Observed } from "./inspector.ts";
import { type Healer, startHealing } from "./heal.ts";
import { healthBody, type ProbeStats, prometheusBody, textBody, verdict } from "./render.ts";
import { besideApp, type ProbeSettings, probeSettings } from "./settings.ts";
import {
  containStrayErrors,
  exit,
  isPermissionError,
  missingPermissions,
  permissionLine,
  serveFetch,
} from "../runtime.ts";
import { type Env, envSecrets } from "../connect/environment.ts";
import { type DatabaseTarget, resolveTarget } from "../connect/target.ts";

/** The probe's path. */
export const PROBE_PATH = "/health/invite-codes";

/**
 * How long a readiness request waits for the probe's first answer before it
 * gets "starting" (503): long enough for a first connection on a busy host,
 * short of the 5 s the examples give a probe request.
 */
const STARTING_WAIT_MS = 2000;

/** What the probe knows before its first check has answered: nothing yet. */
function startingObservation(): Observed {
  return {
    result: failedInspection({ kind: "starting", message: PROBE_STARTING }),
    at: Date.now(),
  };
}

/**
 * Whether an Accept header ranks `text/plain` above the JSON: the most
 * specific range that matches each sets its quality (RFC 9110 12.5.1), so
 * `text/plain;q=0` refuses text. JSON, the default, wins a tie.
 *
 * @example
 * ```ts
 * prefersText("text/plain"); // true
 * prefersText("text/plain;q=0, application/json"); // false
 * ```
 * @param accept The request's Accept header.
 */
export function prefersText(accept: string | undefined): boolean {
  if (!accept) return false;
  const ranges = accept.split(",").map((part) => {
    const [range, ...params] = part.trim().toLowerCase().split(";").map((s) => s.trim());
    const q = params.find((p) => p.startsWith("q="));
    const quality = q === undefined ? 1 : Number(q.slice(2));
    return { range, quality: Number.isFinite(quality) ? quality : 0 };
  });
  const quality = (type: string, subtypes: string[]) => {
    const [major] = type.split("/");
    for (const candidate of [...subtypes.map((s) => `${major}/${s}`), `${major}/*`, "*/*"]) {
      const found = ranges.find((r) => r.range === candidate);
      if (found) return found.quality;
    }
    return 0;
  };
  const text = quality("text/plain", ["plain"]);
  const json = quality("application/json", ["health+json", "json"]);
  return text > 0 && text > json;
}

/** The probe's app and what it holds open. */
export interface Probe {
  app: Hono;
  /** What it was built with: the environment's settings and the overrides. */
  settings: ProbeSettings;
  /** The database it checks, safe to print ("unsupported" when the URL is not usable). */
  database: string;
  inspector: Inspector;
  stats: ProbeStats;
  close(): Promise<void>;
}

/**
 * Build the probe for the database the environment names. Failures of a
 * check go to `log` in full; the wire carries only their kind.
 *
 * @example
 * ```ts
 * const probe = createProbe({ env: { DATABASE_URL: "sqlite:///data/webui.db" } });
 * (await probe.app.request("/health/invite-codes?format=text")).text(); // "missing=0\n"
 * ```
 * @param options The environment (default `process.env`), settings that
 *   override it, and where log lines go (default stdout).
 */
export function createProbe(
  options: { env?: Env; settings?: Partial<ProbeSettings>; log?: (line: string) => void } = {},
): Probe {
  const env = options.env ?? process.env;
  const settings = { ...probeSettings(env), ...options.settings };
  const log = options.log ?? console.log;
  let target: DatabaseTarget | Error;
  try {
    target = resolveTarget(env);
  } catch (error) {
    target = error as Error;
  }
  const secrets = target instanceof Error ? envSecrets(env) : target.secrets;
  let lastLogged = "";
  const inspector = createInspector({
    target,
    cacheMs: settings.cacheMs,
    timeoutMs: settings.timeoutMs,
    onResult(result) {
      // The full reason goes to the probe's own log, once per change.
      // An absent table or column too: the wire says only "absent", the log says which.
      const line = result.status === "error"
        ? PROBE_LOG.checkFailed(result.error?.kind ?? "internal", result.reason ?? "")
        : result.status === "absent"
        ? PROBE_LOG.checkFailed("absent", result.reason ?? "")
        : "";
      if (line !== lastLogged && line) log(redact(line, secrets));
      lastLogged = line;
    },
  });
  const stats: ProbeStats = {
    inspections: 0,
    failedInspections: 0,
    dialect: target instanceof Error ? "none" : target.dialect,
    rssBytes: 0,
    repairs: 0,
    repairedUsers: 0,
    lastRepairSeconds: null,
    paused: false,
  };
  const healer: Healer | undefined = settings.repairIntervalMs > 0
    ? startHealing({
      intervalMs: settings.repairIntervalMs,
      batchSize: settings.repairBatchSize,
      throttle: {
        maxRate: settings.repairMaxRate,
        maxLagSeconds: settings.repairMaxLagSeconds,
        maxActiveSessions: settings.repairMaxActive,
      },
      inspector,
      env,
      log,
      stats,
    })
    : undefined;

  // Each inspection is rendered once, not once per request.
  const rendered = new WeakMap<Observed, { code: 200 | 503; text: string; json: string }>();
  const render = (observed: Observed) => {
    let bodies = rendered.get(observed);
    if (!bodies) {
      const { result, at } = observed;
      bodies = {
        code: verdict(result).code,
        text: textBody(result, settings.details),
        json: healthBody(result, at, settings.details),
      };
      rendered.set(observed, bodies);
    }
    return bodies;
  };

  // Plain header objects and a synchronous answer while the cache is fresh:
  // the server adapters then write the response without building Headers or
  // awaiting, and the probe keeps up with a static route under load.
  const textHeaders = { "Content-Type": "text/plain; charset=UTF-8", "Cache-Control": "no-store" };
  const jsonHeaders = { "Content-Type": "application/health+json", "Cache-Control": "no-store" };
  const respond = (c: Context, observed: Observed) => {
    const format = c.req.query("format");
    if (format !== undefined && format !== "text" && format !== "json") {
      return c.text(
        `unknown format ${JSON.stringify(format.slice(0, 40))}: use format=json or format=text\n`,
        400,
      );
    }
    const bodies = render(observed);
    const wantsText = format === "text" ||
      (format === undefined && prefersText(c.req.header("accept")));
    return wantsText
      ? new Response(bodies.text, { status: bodies.code, headers: textHeaders })
      : new Response(bodies.json, { status: bodies.code, headers: jsonHeaders });
  };

  // One handler per path, whatever the method. A second handler (a 405 for
  // every method) also matched each GET, and Hono then runs the two as a
  // middleware chain: every probe answer became a promise behind an async
  // wrapper, where one handler's answer is written as it is returned.
  const getOnly = (handler: (c: Context) => Response | Promise<Response>) => (c: Context) =>
    c.req.method === "GET" || c.req.method === "HEAD"
      ? handler(c)
      : c.text("method not allowed\n", 405, { Allow: "GET, HEAD" });
  const app = new Hono();
  app.all(
    PROBE_PATH,
    getOnly((c) => {
      const observed = inspector.current();
      if (observed) return respond(c, observed);
      if (inspector.answered) return inspector.latest().then((o) => respond(c, o));
      // Nothing known yet (a slow database, a first repair holding it): a
      // short wait for the first answer, then "starting", never a hang.
      let timer: ReturnType<typeof setTimeout> | undefined;
      const starting = new Promise<Observed>((resolve) => {
        timer = setTimeout(
          () => resolve(startingObservation()),
          Math.min(STARTING_WAIT_MS, settings.timeoutMs),
        );
      });
      return Promise.race([inspector.latest(), starting]).then((o) => {
        clearTimeout(timer);
        return respond(c, o);
      });
    }),
  );
  app.all("/livez", getOnly((c) => c.text("ok\n")));
  app.all(
    "/metrics",
    getOnly(async (c) => {
      const { result } = await inspector.latest();
      stats.inspections = inspector.inspections;
      stats.failedInspections = inspector.failures;
      stats.rssBytes = process.memoryUsage().rss;
      return c.text(prometheusBody(result, stats), 200, {
        "Content-Type": "text/plain; version=0.0.4; charset=utf-8",
      });
    }),
  );
  app.notFound((c) => c.text("not found\n", 404));
  app.onError(internalError(log, secrets));

  return {
    app,
    settings,
    database: target instanceof Error ? "unsupported" : target.display,
    inspector,
    stats,
    async close() {
      // The healer first: its last refresh must not meet a closed inspector.
      await healer?.stop();
      await inspector.close();
    },
  };
}

/**
 * The URL a host and port make, with an IPv6 address in brackets as URLs
 * write it (`http://[::1]:8081`).
 *
 * @example
 * ```ts
 * listenUrl("::1", 8081); // "http://[::1]:8081"
 * ```
 * @param host `HEALTH_HOST`.
 * @param port `HEALTH_PORT`.
 */
export function listenUrl(host: string, port: number): string {
  return `http://${host.includes(":") && !host.startsWith("[") ? `[${host}]` : host}:${port}`;
}

/**
 * The probe's answer to an error a route did not handle: one line in its
 * log, masked and without a stack, and the same bare 500 on the wire.
 *
 * @example
 * ```ts
 * import { Hono } from "hono";
 * import { resolveTarget } from "../connect/target.ts";
 * const app = new Hono();
 * app.onError(internalError(console.log, resolveTarget().secrets));
 * ```
 * @param log Where the line goes.
 * @param secrets Values the line must not show.
 */
export function internalError(
  log: (line: string) => void,
  secrets: readonly string[],
): (error: unknown, c: Context) => Response {
  return (error, c) => {
    log(PROBE_LOG.internalError(describeFailure(error, secrets).message));
    return c.text("internal error\n", 500);
  };
}

/** A probe that is serving. */
export interface ServedProbe {
  probe: Probe;
  /** Stop listening and close the probe: within 3 s, whatever the database does. */
  stop(): Promise<void>;
}

/**
 * Serve the probe on `HEALTH_HOST`:`HEALTH_PORT`, its settings read once.
 * Installs nothing process-wide: `runProbe` ties it to the signals.
 *
 * @example
 * ```ts
 * const served = await serveProbe({ ...process.env, HEALTH_PORT: "8081" });
 * await served.stop();
 * ```
 * @param env The environment; default `process.env`.
 * @param log Where its lines go; default stdout.
 */
export async function serveProbe(
  env: Env = process.env,
  log: (line: string) => void = console.log,
): Promise<ServedProbe> {
  const probe = createProbe({ env, log });
  const { host, port } = probe.settings;
  const close = await serveFetch(probe.app.fetch, host, port);
  log(PROBE_LOG.listening(`${listenUrl(host, port)}${PROBE_PATH}`, probe.database));
  // The first look starts now, not at the first request: readiness is known
  // as soon as the database answers.
  void probe.inspector.refresh();
  return {
    probe,
    async stop() {
      await Promise.allSettled([close(), probe.close()]);
    },
  };
}

/**
 * The probe as `health.ts` runs it: serve until SIGTERM or SIGINT (or, beside
 * an app, until the app exits), with stray errors contained for the whole
 * process. Resolves to the exit code: 2 when it cannot start. Installs
 * process-wide handlers, so only the entry point calls it.
 *
 * @example
 * ```ts
 * import { exit } from "../runtime.ts";
 * exit(await runProbe());
 * ```
 */
export async function runProbe(): Promise<number> {
  const missing = missingPermissions("health.ts");
  if (missing) {
    console.error(`ERROR: ${missing}`);
    return 2;
  }
  const env = process.env;
  containStrayErrors((error) => console.error(strayLine(error, envSecrets(env))));
  let served: ServedProbe;
  try {
    served = await serveProbe(env);
  } catch (error) {
    const line = oneLine(
      isPermissionError(error) ? permissionLine(error, "health.ts") : errorMessage(error),
      300,
    );
    // Beside an app (start.sh), a probe that cannot start must not read as
    // the app failing: one WARNING, and the app runs on.
    if (besideApp(env)) console.log(PROBE_LOG.notStarted(line));
    else console.error(`ERROR: ${line}`);
    return 2;
  }
  return await new Promise<number>((resolve) => {
    let stopping = false;
    const shutdown = async (signal: string) => {
      if (stopping) return;
      stopping = true;
      console.log(PROBE_LOG.stopping(signal));
      // A stuck database must not hold the pod in Terminating.
      const force = setTimeout(() => exit(0), 3000);
      await served.stop();
      clearTimeout(force);
      resolve(0);
    };
    process.on("SIGTERM", () => void shutdown("SIGTERM"));
    process.on("SIGINT", () => void shutdown("SIGINT"));
    if (served.probe.settings.exitWithParent) {
      // Beside an app (start.sh), the probe lives as long as the app does.
      const parent = process.ppid;
      setInterval(() => process.ppid !== parent && void shutdown("parent exit"), 500);
    }
  });
}
