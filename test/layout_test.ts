/**
 * The layout the README draws: the root holds only the two faces, no module
 * imports one that imports it back, and the connection path flows one way
 * (each step of `src/connect/` imports only the steps before it); and the
 * planted bugs of `scripts/mutate.ts` still apply to the code they name.
 */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { readdirSync, readFileSync } from "node:fs";
import { dirname, join, normalize, relative } from "node:path";
import { test } from "node:test";
import { ROOT } from "./helpers.ts";

/** Every TypeScript module of the tool, relative to the root. */
function modules(): string[] {
  const found = ["mod.ts", "health.ts"];
  const walk = (dir: string) => {
    for (const entry of readdirSync(join(ROOT, dir), { withFileTypes: true })) {
      const path = join(dir, entry.name);
      if (entry.isDirectory()) walk(path);
      else if (entry.name.endsWith(".ts")) found.push(path);
    }
  };
  walk("src");
  return found;
}

/** The modules `file` imports (static or dynamic), relative to the root; comments skipped. */
function importsOf(file: string): string[] {
  const code = readFileSync(join(ROOT, file), "utf8").split("\n")
    .filter((line) => !/^\s*(\*|\/\/)/.test(line)).join("\n");
  return [...code.matchAll(/(?:from|import\()\s*"(\.{1,2}\/[^"]+\.ts)"/g)]
    .map((match) => normalize(join(dirname(file), match[1])));
}

test("the root holds only the faces: mod.ts and health.ts", () => {
  const rootModules = readdirSync(ROOT).filter((name) => name.endsWith(".ts")).sort();
  assert.deepEqual(rootModules, ["health.ts", "mod.ts"]);
});

test("no module imports one that imports it back", () => {
  const graph = new Map(modules().map((file) => [file, importsOf(file)]));
  const state = new Map<string, "open" | "done">();
  const cycles: string[] = [];
  const visit = (file: string, path: string[]) => {
    state.set(file, "open");
    for (const next of graph.get(file) ?? []) {
      if (state.get(next) === "open") cycles.push([...path, file, next].join(" -> "));
      else if (!state.has(next)) visit(next, [...path, file]);
    }
    state.set(file, "done");
  };
  for (const file of graph.keys()) if (!state.has(file)) visit(file, []);
  assert.deepEqual(cycles, []);
});

test("the connection path flows one way: each step imports only earlier steps", () => {
  // In the order a DATABASE_URL travels; target.ts runs the steps, so it comes last.
  const steps = [
    "environment.ts",
    "sqlalchemy.ts",
    "files.ts",
    "conninfo.ts",
    "passfile.ts",
    "certificate.ts",
    "tls.ts",
    "connector.ts",
    "target.ts",
  ];
  const connect = join("src", "connect");
  assert.deepEqual(
    readdirSync(join(ROOT, connect)).filter((name) => name.endsWith(".ts")).sort(),
    [...steps].sort(),
    "every file of src/connect/ has its place in the path",
  );
  for (const [index, step] of steps.entries()) {
    for (const imported of importsOf(join(connect, step))) {
      const where = relative(connect, imported);
      if (where.startsWith("..")) {
        // Outside the path: only the shared leaves (errors, messages, runtime).
        assert.match(where, /^\.\.\/(errors|messages|runtime)\.ts$/, `${step} imports ${where}`);
      } else {
        assert.ok(steps.indexOf(where) < index, `${step} imports ${where}, a later step`);
      }
    }
  }
});

test("every planted bug in scripts/mutate.ts still applies, once, to the code it names", () => {
  const listed = spawnSync("node", ["scripts/mutate.ts", "--list"], {
    cwd: ROOT,
    encoding: "utf8",
  });
  assert.equal(listed.status, 0, listed.stderr);
  assert.ok(listed.stdout.trim().split("\n").length >= 100, listed.stdout);
});
