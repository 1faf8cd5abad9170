/**
 * The settings table (`src/settings.ts`) is the one account of the tool's
 * flags and variables: the README's tables list the same names, defaults,
 * ranges, units and readers; `--help` prints every flag's range and default
 * from it; start.sh reads the variables it says start.sh reads.
 */
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import {
  type DefaultedName,
  defaultText,
  type NumberName,
  rangeText,
  readMs,
  readSetting,
  type Setting,
  type SettingName,
  SETTINGS,
  settings,
} from "../src/settings.ts";
import { probeSettings } from "../src/probe/settings.ts";
import { ROOT, runCli } from "./helpers.ts";

/** One row of a README table of settings, as the README writes it. */
interface Row {
  /** The long name: `--timeout`, `HEALTH_PORT`. */
  name: string;
  /** The one-letter form (`-h`), if the row gives one. */
  short?: string;
  cells: Record<string, string>;
}

/** A cell as the table means it: code spans and escapes undone. */
function plain(cell: string): string {
  return cell.replace(/`([^`]*)`/g, "$1").replace(/\\\|/g, "|").trim();
}

/** The rows of the first table of `## section`, by name: each name its row shares counts. */
function readmeTable(section: string): Row[] {
  const readme = readFileSync(join(ROOT, "README.md"), "utf8");
  const body = new RegExp(`^## ${section}\\n([\\s\\S]*?)^## `, "m").exec(readme)?.[1] ?? "";
  const table = body.split("\n").filter((line) => line.startsWith("|"));
  const split = (line: string) => line.split(/(?<!\\)\|/).slice(1, -1).map((cell) => cell.trim());
  const header = split(table[0] ?? "").map((cell) => cell.toLowerCase());
  const rows: Row[] = [];
  for (const line of table.slice(2)) {
    const cells = Object.fromEntries(split(line).map((cell, i) => [header[i], cell]));
    const names = [...split(line)[0].matchAll(/`(-{1,2}[\w-]+|[A-Z][A-Z0-9_]+)[^`]*`/g)]
      .map((match) => match[1]);
    const short = names.find((name) => /^-\w$/.test(name));
    for (const name of names.filter((name) => name !== short)) rows.push({ name, short, cells });
  }
  return rows;
}

/** Open WebUI's and libpq's variables: their tables live in src/connect/, not in the settings. */
const NOT_OURS = /^(DATABASE_\w+|DATA_DIR|PG\w+)$/;

/** What the README must say of a setting, in its columns. */
function expected(setting: Setting, columns: string[]): Record<string, string> {
  const unit = setting.type === "number" ? setting.unit ?? "" : "";
  const wanted: Record<string, string> = {
    default: defaultText(setting),
    range: rangeText(setting),
    unit,
    "read by": [...setting.readers].sort().join(", "),
  };
  return Object.fromEntries(columns.map((column) => [column, wanted[column]]));
}

/** The README's columns as `expected` reads them: the same keys, the README's cells. */
function written(row: Row, columns: string[]): Record<string, string> {
  return Object.fromEntries(columns.map((column) => {
    const cell = plain(row.cells[column] ?? "");
    return [column, column === "read by" ? cell.split(/,\s*/).sort().join(", ") : cell];
  }));
}

for (
  const [section, columns, isMine] of [
    ["Environment", ["read by", "default", "range", "unit"], (name: string) => !/^-/.test(name)],
    ["The repair", ["default", "range", "unit"], (name: string) => name.startsWith("--")],
  ] as const
) {
  test(`README "${section}": the settings table's names, defaults, ranges and units`, () => {
    const rows = readmeTable(section);
    assert.ok(rows.length >= 5, `${rows.length} rows in "${section}"`);
    const ours = settings().filter(([name, setting]) => isMine(name) && !setting.internal);
    const listed = new Set(rows.map((row) => row.name));
    assert.deepEqual(
      ours.map(([name]) => name).filter((name) => !listed.has(name)),
      [],
      `settings the README's "${section}" table leaves out`,
    );
    for (const row of rows) {
      if (!(row.name in SETTINGS)) {
        assert.match(row.name, NOT_OURS, `"${section}" lists ${row.name}, which is not a setting`);
        continue;
      }
      const setting: Setting = SETTINGS[row.name as SettingName];
      assert.ok(!setting.internal, `${row.name} is set by start.sh, not by the operator`);
      assert.deepEqual(written(row, [...columns]), expected(setting, [...columns]), row.name);
      assert.equal(row.short, setting.short && `-${setting.short}`, `${row.name}'s short form`);
    }
  });
}

test("--help gives every flag, its short form, its range and its default, from the table", async () => {
  const help = await runCli(["--help"], {});
  assert.equal(help.code, 0);
  const text = help.stdout.replace(/\n\s+/g, " ");
  for (const [name, setting] of settings().filter(([name]) => name.startsWith("--"))) {
    assert.match(
      help.stdout,
      new RegExp(`^  ${setting.short ? `-${setting.short}, ` : ""}${name}`, "m"),
    );
    if (setting.type !== "number") continue;
    const range = `${setting.value} from ${rangeText(setting)}`;
    const fallback = setting.default === null ? "" : ` (default ${defaultText(setting)})`;
    assert.ok(text.includes(range + fallback), `${name}: ${range}${fallback}`);
  }
});

test("the probe's defaults are the table's, in milliseconds where it says", () => {
  const read = probeSettings({});
  const ms = (name: DefaultedName) => readMs({}, name);
  assert.equal(read.port, SETTINGS.HEALTH_PORT.default);
  assert.equal(read.host, SETTINGS.HEALTH_HOST.default);
  assert.equal(read.cacheMs, ms("HEALTH_CACHE_MS"));
  assert.equal(read.timeoutMs, ms("HEALTH_TIMEOUT_MS"));
  assert.equal(read.repairIntervalMs, ms("REPAIR_INTERVAL"));
  assert.equal(read.repairBatchSize, SETTINGS.REPAIR_BATCH_SIZE.default);
  assert.equal(read.repairMaxRate, SETTINGS.REPAIR_MAX_RATE.default);
  assert.equal(read.repairMaxLagSeconds, SETTINGS.REPAIR_MAX_LAG.default);
  assert.equal(read.repairMaxActive, SETTINGS.REPAIR_MAX_ACTIVE.default);
  assert.equal(read.details, false);
  // Seconds become milliseconds; milliseconds stay.
  assert.equal(probeSettings({ REPAIR_INTERVAL: "2" }).repairIntervalMs, 2000);
  assert.equal(probeSettings({ HEALTH_CACHE_MS: "2" }).cacheMs, 2);
});

test("a bad setting is the config error that names it, at each bound of its range", () => {
  for (const [name, setting] of settings()) {
    if (setting.type !== "number" || name.startsWith("--")) continue;
    const variable = name as NumberName;
    assert.equal(readSetting({ [name]: String(setting.min) }, variable), setting.min, name);
    assert.equal(readSetting({ [name]: String(setting.max) }, variable), setting.max, name);
    for (
      const bad of [String(setting.max + 1), ...(setting.min > 0 ? [String(setting.min - 1)] : [])]
    ) {
      assert.throws(
        () => readSetting({ [name]: bad }, variable),
        (error: Error & { kind?: string }) =>
          error.kind === "config" &&
          error.message === `${name} needs ${setting.integer ? "a whole number" : "a number"} ` +
              `from ${setting.min} to ${setting.max}, got "${bad}"`,
        `${name}=${bad}`,
      );
    }
  }
});

test("start.sh reads the variables the table says it reads, and no other of the tool's", () => {
  const script = readFileSync(join(ROOT, "start.sh"), "utf8").split("\n")
    .filter((line) => !/^\s*#/.test(line)).join("\n");
  const read = new Set([...script.matchAll(/\$\{?([A-Z][A-Z0-9_]+)/g)].map((match) => match[1]));
  const table = new Set(
    settings().filter(([, setting]) => (setting.readers as readonly string[]).includes("start.sh"))
      .map(([name]) => name),
  );
  // Besides its own: Open WebUI's (which runtime permissions a database needs) and the shell's.
  const others = [...read].filter((name) => !table.has(name as SettingName));
  assert.deepEqual(others.filter((name) => !NOT_OURS.test(name) && name !== "TMPDIR"), []);
  assert.deepEqual([...table].filter((name) => !read.has(name)), [], "named as start.sh's, unread");
});
