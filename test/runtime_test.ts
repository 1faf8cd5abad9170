/**
 * The Node/Deno differences that a user would see: what the runtime prints
 * when the SQLite module loads.
 */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, test } from "node:test";
import { baseEnv, ROOT, runtimeCommand } from "./helpers.ts";

describe("importSqlite", () => {
  const dir = mkdtempSync(join(tmpdir(), "runtime-test-"));
  after(() => rmSync(dir, { recursive: true, force: true }));

  test("loads node:sqlite without the ExperimentalWarning; a later warning still shows", () => {
    const script = join(dir, "load.ts");
    writeFileSync(
      script,
      `import process from "node:process";
import { importSqlite } from ${JSON.stringify(join(ROOT, "src/runtime.ts"))};
const DatabaseSync = await importSqlite();
new DatabaseSync(":memory:").close();
process.emitWarning("a warning of the caller's own", "ExperimentalWarning");
console.log("loaded");
`,
    );
    const [command, args] = runtimeCommand(script);
    const ran = spawnSync(command, args, { env: baseEnv(), encoding: "utf8", timeout: 60_000 });
    assert.equal(ran.stdout.trim(), "loaded", ran.stderr);
    assert.doesNotMatch(ran.stderr, /SQLite is an experimental feature/);
    assert.match(ran.stderr, /a warning of the caller's own/);
  });
});
