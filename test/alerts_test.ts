/**
 * The alerting rules in examples/prometheus: their unit tests pass under
 * `promtool test rules`, they catch a broken rule, and every metric they read
 * is one the probe really exports.
 */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { copyFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import process from "node:process";
import { test } from "node:test";
import { failedInspection } from "../src/inspect.ts";
import { prometheusBody } from "../src/probe/render.ts";
import { ROOT, skipping } from "./helpers.ts";

const RULES = join(ROOT, "examples", "prometheus");
const promtool = spawnSync("sh", ["-c", "command -v promtool"], { encoding: "utf8" }).stdout.trim();
const skip = promtool || process.env.REQUIRE_PROMTOOL === "1" ? undefined : skipping(
  "promtool is not installed (apt-get install prometheus; REQUIRE_PROMTOOL=1 fails instead)",
);

function testRules(dir: string) {
  return spawnSync(promtool || "promtool", ["test", "rules", "alerts_test.yml"], {
    cwd: dir,
    encoding: "utf8",
  });
}

test("promtool test rules: every alert fires when it should and not before", { skip }, () => {
  const run = testRules(RULES);
  assert.equal(run.status, 0, run.stdout + run.stderr);
  assert.match(run.stdout, /SUCCESS/);
});

test("the rule tests catch a rule with the wrong threshold", { skip }, () => {
  const dir = mkdtempSync(join(tmpdir(), "invite-code-alerts-"));
  try {
    copyFileSync(join(RULES, "alerts_test.yml"), join(dir, "alerts_test.yml"));
    const rules = readFileSync(join(RULES, "alerts.yml"), "utf8");
    const broken = rules.replace(
      "expr: invite_codes_missing > 0\n",
      "expr: invite_codes_missing > 10\n",
    );
    assert.notEqual(broken, rules);
    writeFileSync(join(dir, "alerts.yml"), broken);
    const run = testRules(dir);
    assert.notEqual(run.status, 0, "promtool passed a broken rule");
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("every metric the rules read is one the probe exports", () => {
  const rules = readFileSync(join(RULES, "alerts.yml"), "utf8");
  const read = new Set(rules.match(/\binvite_codes_\w+/g));
  const body = prometheusBody(failedInspection({ kind: "connect", message: "x" }), {
    inspections: 0,
    failedInspections: 0,
    dialect: "postgres",
    rssBytes: 0,
    repairs: 0,
    repairedUsers: 0,
    lastRepairSeconds: null,
    paused: false,
  });
  const exported = new Set(body.match(/^invite_codes_\w+/gm));
  assert.ok(read.size >= 5);
  assert.deepEqual([...read].filter((name) => !exported.has(name)), []);
});
