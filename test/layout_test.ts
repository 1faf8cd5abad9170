/**
 * The layout the README draws: the root holds only the two faces, no module
 * imports one that imports it back, and the connection path flows one way
 * (each step of `src/connect/` imports only the steps before it); and the
 * planted bugs of `scripts/mutate.ts` still apply to the code they name.
 */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { dirname, join, normalize, relative } from "node:path";
import process from "node:process";
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
    "stringprep.ts",
    "saslprep.ts",
    "scram.ts",
    "startup.ts",
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
        // Outside the path: only the shared leaves (errors, messages, runtime, deadline).
        assert.match(
          where,
          /^\.\.\/(errors|messages|runtime|deadline)\.ts$/,
          `${step} imports ${where}`,
        );
      } else {
        assert.ok(steps.indexOf(where) < index, `${step} imports ${where}, a later step`);
      }
    }
  }
});

test("importing the faces, or running the library's main, installs no process-wide handler", async () => {
  const events = ["uncaughtException", "unhandledRejection", "SIGTERM", "SIGINT"] as const;
  const count = () => events.map((event) => process.listenerCount(event));
  const before = count();
  const { main } = await import("../mod.ts");
  await import("../health.ts");
  // An unsupported URL: main runs to its end without a database.
  const code = await main(["--check"], { DATABASE_URL: "mysql://root@db/webui" });
  assert.equal(code, 2);
  assert.deepEqual(count(), before, events.join(", "));
});

test("every planted bug in scripts/mutate.ts still applies, once, to the code it names", () => {
  const listed = spawnSync("node", ["scripts/mutate.ts", "--list"], {
    cwd: ROOT,
    encoding: "utf8",
  });
  assert.equal(listed.status, 0, listed.stderr);
  assert.ok(listed.stdout.trim().split("\n").length >= 100, listed.stdout);
});

/** The rows of the README's Guarantees table: each promise and the tests it names. */
function guarantees(): { promise: string; tests: { file: string; name: string }[] }[] {
  const readme = readFileSync(join(ROOT, "README.md"), "utf8");
  const section = /^## Guarantees\n([\s\S]*?)^## /m.exec(readme)?.[1] ?? "";
  return section.split("\n")
    .filter((line) => line.startsWith("|") && !/^\|\s*(promise|-+)\s*\|/.test(line))
    .map((line) => {
      const cells = line.split(/(?<!\\)\|/).slice(1, -1).map((cell) => cell.trim());
      const tests = [...(cells[1] ?? "").matchAll(/`(test\/\w+_test\.ts)` "([^"]+)"/g)]
        .map(([, file, name]) => ({ file, name }));
      return { promise: cells[0] ?? "", tests };
    });
}

/**
 * The names of the tests a file declares, as patterns: a name built from a
 * template (`${dialect}: ...`) matches any of the names it makes.
 */
function testNames(file: string): RegExp[] {
  const source = readFileSync(join(ROOT, file), "utf8");
  // A table-driven file (the oracle's CASES) names each test in a case's `name:`.
  const declaration = source.includes("test(c.name,")
    ? /\b(?:(?:test|it)\(|name:)\s*(["'`])((?:\\.|(?!\1)[^\\])*)\1/g
    : /\b(?:test|it)\(\s*(["'`])((?:\\.|(?!\1)[^\\])*)\1/g;
  const calls = source.matchAll(declaration);
  return [...calls].map(([, quote, raw]) => {
    const text = quote === "`" ? raw : raw.replace(/\\(.)/g, "$1");
    const parts = text.split(/\$\{[^}]*\}/).map((part) =>
      part.replace(/\\`/g, "`").replace(/[.*+?^${}()|[\]\\]/g, "\\$&")
    );
    return new RegExp(`^${parts.join(".+")}$`);
  });
}

test("the README's Guarantees table: every promise names tests, and every named test exists", () => {
  const rows = guarantees();
  assert.ok(rows.length >= 10, `${rows.length} rows`);
  const missing: string[] = [];
  for (const { promise, tests } of rows) {
    assert.ok(promise.length > 0, "a row without a promise");
    assert.ok(tests.length > 0, `"${promise}" names no test`);
    for (const { file, name } of tests) {
      if (!existsSync(join(ROOT, file))) {
        missing.push(`${file} (no such file)`);
      } else if (!testNames(file).some((pattern) => pattern.test(name))) {
        missing.push(`${file}: "${name}"`);
      }
    }
  }
  assert.deepEqual(missing, [], "tests the Guarantees table names but no file declares");
});

/** A Node too old to strip types, where the machine has one (Debian's Node 20). */
const OLD_NODE = ["/usr/bin/node", "/usr/local/bin/node"].find((path) => {
  const version = spawnSync(path, ["--version"], { encoding: "utf8" }).stdout?.trim() ?? "";
  const [major, minor] = version.slice(1).split(".").map(Number);
  return major > 0 && (major < 22 || (major === 22 && minor < 6));
});

test("node mod.ts on a Node that cannot strip types fails as the README says", {
  skip: OLD_NODE ? undefined : "no Node older than 22.6 on this machine",
}, () => {
  // Node refuses the file before any of it runs, so no line of it can say more.
  const ran = spawnSync(OLD_NODE!, [join(ROOT, "mod.ts"), "--version"], { encoding: "utf8" });
  assert.notEqual(ran.status, 0);
  assert.match(ran.stderr, /ERR_UNKNOWN_FILE_EXTENSION\]: Unknown file extension "\.ts"/);
  const readme = readFileSync(join(ROOT, "README.md"), "utf8");
  assert.ok(
    readme.includes('`TypeError [ERR_UNKNOWN_FILE_EXTENSION]: Unknown file extension ".ts"`'),
    "the README quotes what Node prints",
  );
});
