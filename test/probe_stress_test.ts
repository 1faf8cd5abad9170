/**
 * The probe under stress: tens of thousands of requests through a database
 * outage, 503 while it lasts and 200 after, memory flat, and a log that
 * never shows the password. Stands alone.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { test } from "node:test";
import { freePort } from "../scripts/net.ts";
import {
  assertNoSecrets,
  launch,
  outageProxy,
  postgresFixture,
  ROOT,
  runtimeCommand,
  sendSignal,
  serverPasswords,
  sleep,
  waitForHttp,
} from "./helpers.ts";

test("tens of thousands of requests through an outage: 503 while down, 200 after, memory flat", async () => {
  const pg = await postgresFixture();
  const real = new URL(pg.env.DATABASE_URL);
  const proxy = await outageProxy(real);
  const via = proxy.url;
  const port = await freePort();
  const [command, args] = runtimeCommand(join(ROOT, "health.ts"));
  const probe = launch(command, args, {
    env: {
      DATABASE_URL: via.href,
      HEALTH_HOST: "127.0.0.1",
      HEALTH_PORT: String(port),
      HEALTH_CACHE_MS: "20",
      HEALTH_TIMEOUT_MS: "500",
    },
  });
  const base = `http://127.0.0.1:${port}`;
  const rss = async () =>
    Number(
      /^process_resident_memory_bytes (\d+)/m.exec(
        await (await fetch(`${base}/metrics`)).text(),
      )![1],
    );
  try {
    await pg.seed({ users: 100 });
    await waitForHttp(`${base}/livez`);
    const hammer = async (count: number) => {
      const statuses = new Map<number, number>();
      for (let done = 0; done < count; done += 100) {
        const batch = await Promise.all(
          Array.from(
            { length: 100 },
            () =>
              fetch(`${base}/health/invite-codes`).then(async (
                r,
              ) => (await r.body?.cancel(), r.status)),
          ),
        );
        for (const s of batch) statuses.set(s, (statuses.get(s) ?? 0) + 1);
      }
      return statuses;
    };
    await hammer(2000);
    const startRss = await rss();
    const up = await hammer(6000);
    await proxy.down();
    const down = await hammer(8000);
    await proxy.up();
    await sleep(200);
    const back = await hammer(6000);
    assert.deepEqual([...up.keys()], [200]);
    assert.ok((down.get(503) ?? 0) > 7000, `mostly 503 while down: ${[...down]}`);
    assert.ok((back.get(200) ?? 0) > 5900, `200 after: ${[...back]}`);
    const growth = (await rss()) - startRss;
    assert.ok(growth < 64 * 2 ** 20, `memory grew ${(growth / 2 ** 20).toFixed(1)} MiB`);
    assert.equal((await fetch(`${base}/livez`)).status, 200, "still alive");
  } finally {
    sendSignal(probe, "SIGTERM");
    const exited = await probe.exited;
    await proxy.close();
    await pg.close();
    assert.equal(exited, 0);
    assertNoSecrets(probe.output(), serverPasswords());
  }
});
