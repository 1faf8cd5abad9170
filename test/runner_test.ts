/**
 * `npm test` (scripts/test.ts) on a machine that lacks podman, PgBouncer and
 * promtool, as a fresh clone meets it: the files that need them skip, saying
 * what is missing, and the run passes; CI's REQUIRE_* make the same absences
 * failures, and CI=true fails on any skip.
 */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, symlinkSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import process from "node:process";
import { after, before, describe, test } from "node:test";
import { ROOT, run } from "./helpers.ts";

/** The files that need a tool a fresh machine may lack, and the tool each names. */
const NEEDS = {
  "test/pgbouncer_test.ts": "pgbouncer",
  "test/container_test.ts": "podman",
  "test/alerts_test.ts": "promtool",
} as const;
const FILES = Object.keys(NEEDS);

describe("npm test on a machine without podman, PgBouncer and promtool", () => {
  let bin: string;
  before(() => {
    // A PATH with only what the runner itself needs: the shell and Node
    // (scripts/test.ts puts the project's Node and Deno in front of it).
    bin = mkdtempSync(join(tmpdir(), "invite-code-bare-path-"));
    for (const tool of ["sh", "env", "node"]) {
      const found = spawnSync("sh", ["-c", `command -v ${tool}`], { encoding: "utf8" }).stdout
        .trim();
      assert.ok(found, `${tool} is on this machine's PATH`);
      symlinkSync(found, join(bin, tool));
    }
  });
  after(() => rmSync(bin, { recursive: true, force: true }));

  /** scripts/test.ts on FILES with the bare PATH and `env`. */
  function runner(env: Record<string, string>) {
    return run(join(bin, "node"), [join(ROOT, "scripts", "test.ts"), ...FILES], {
      cwd: ROOT,
      timeoutMs: 180_000,
      env: {
        PATH: bin,
        CI: undefined,
        REQUIRE_PGBOUNCER: undefined,
        REQUIRE_PODMAN: undefined,
        REQUIRE_PROMTOOL: undefined,
        // Nothing here reaches a database: no embedded server is started.
        TEST_DATABASE_URL: process.env.TEST_DATABASE_URL ?? "postgres://nobody@127.0.0.1:1/none",
        ...env,
      },
    });
  }

  test("the run passes, every file counted, the skips named with what is missing", async () => {
    const result = await runner({});
    const output = result.stdout + result.stderr;
    assert.equal(result.code, 0, output);
    for (const runtime of ["node", "deno"]) {
      const summary = new RegExp(
        `^${runtime}: 3 files, (\\d+) passed, 0 failed, (\\d+) skipped$`,
        "m",
      )
        .exec(output);
      assert.ok(summary, `${runtime}'s summary in:\n${output}`);
      // pgbouncer_test and container_test hold one skipped describe each, alerts_test two tests.
      assert.ok(Number(summary[2]) >= 4, `${runtime} counts the skipped describes: ${summary[0]}`);
    }
    assert.doesNotMatch(output, /registered no test/);
    const reasons = /^Skipped: (.+)$/m.exec(output)?.[1] ?? "";
    for (const [file, tool] of Object.entries(NEEDS)) {
      assert.match(reasons, new RegExp(`${file}: [^;]*${tool}[^;]* not`), `${file} says why`);
    }
  });

  test("CI=true fails the same run, since nothing may be skipped there", async () => {
    const result = await runner({ CI: "true" });
    assert.equal(result.code, 1);
    assert.match(result.stderr, /skipped, and nothing may be skipped in CI/);
  });

  test("REQUIRE_PGBOUNCER, REQUIRE_PODMAN, REQUIRE_PROMTOOL make each absence a failure", async () => {
    for (
      const [file, variable] of [
        ["test/pgbouncer_test.ts", "REQUIRE_PGBOUNCER"],
        ["test/container_test.ts", "REQUIRE_PODMAN"],
        ["test/alerts_test.ts", "REQUIRE_PROMTOOL"],
      ]
    ) {
      const result = await run(
        join(bin, "node"),
        [join(ROOT, "scripts", "test.ts"), "node", file],
        {
          cwd: ROOT,
          timeoutMs: 120_000,
          env: {
            PATH: bin,
            CI: undefined,
            [variable]: "1",
            TEST_DATABASE_URL: process.env.TEST_DATABASE_URL ??
              "postgres://nobody@127.0.0.1:1/none",
          },
        },
      );
      assert.equal(result.code, 1, `${variable}: ${result.stdout}`);
      assert.match(
        result.stdout,
        /^node: 1 files, \d+ passed, [1-9]\d* failed, 0 skipped$/m,
        variable,
      );
    }
  });
});
