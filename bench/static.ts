/** A static Hono route served the way the probe is served: the probe's ceiling in the bench. */
import { Hono } from "hono";
import process from "node:process";
import { serveFetch } from "../runtime.ts";

const app = new Hono();
app.get("/health/invite-codes", (c) => c.text("missing=0\n"));
await serveFetch(app.fetch, "127.0.0.1", Number(process.env.HEALTH_PORT));
