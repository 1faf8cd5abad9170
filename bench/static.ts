/**
 * A static Hono route served the way the probe is served: the probe's ceiling
 * in the bench. It answers with the bytes and headers it is given
 * (`STATIC_BODY`, `STATIC_TYPE`), so the comparison is of the probe's own
 * work, not of the size of its answer.
 */
import { Hono } from "hono";
import process from "node:process";
import { serveFetch } from "../src/runtime.ts";

const body = process.env.STATIC_BODY ?? "missing=0\n";
const headers = {
  "Content-Type": process.env.STATIC_TYPE ?? "text/plain; charset=UTF-8",
  "Cache-Control": "no-store",
};
const app = new Hono();
app.get("/health/invite-codes", () => new Response(body, { headers }));
await serveFetch(app.fetch, "127.0.0.1", Number(process.env.HEALTH_PORT));
