/** Code generation: the seed alphabet, uniform, distinct, within the column. */
import assert from "node:assert/strict";
import { test } from "node:test";
import {
  ALPHABET,
  generateInviteCode,
  generateInviteCodeList,
  generateInviteCodes,
  longestCodeFor,
  MAX_CODE_LENGTH,
} from "../src/codes.ts";
import type { SchemaFacts } from "../src/db/dialect.ts";

test("codes use the seed alphabet and the asked length", () => {
  // 31 distinct characters, none that reads as another (0/O, 1/I/L).
  assert.equal(new Set(ALPHABET).size, 31);
  assert.doesNotMatch(ALPHABET, /[01OIL]/);
  assert.match(generateInviteCode(), /^[23456789ABCDEFGHJKMNPQRSTUVWXYZ]{6}$/);
  assert.match(generateInviteCode(8), /^[23456789ABCDEFGHJKMNPQRSTUVWXYZ]{8}$/);
});

test("a batch holds distinct codes", () => {
  const codes = generateInviteCodes(50_000, 6);
  assert.equal(codes.length, 50_000);
  assert.equal(new Set(codes).size, 50_000);
});

test("a list is that many codes of the alphabet, comma-separated", () => {
  const list = generateInviteCodeList(50_000, 7).split(",");
  assert.equal(list.length, 50_000);
  assert.ok(list.every((code) => /^[23456789ABCDEFGHJKMNPQRSTUVWXYZ]{7}$/.test(code)));
  // Repeats are allowed but, at 7 characters, vanishingly rare.
  assert.ok(new Set(list).size > 49_990);
  assert.equal(generateInviteCodeList(0, 6), "");
});

for (
  const [name, draw] of [
    ["a batch", () => generateInviteCodes(62_000, 6).join("")],
    ["a list", () => generateInviteCodeList(62_000, 6).replaceAll(",", "")],
  ] as const
) {
  test(`${name}: every character is equally likely (chi-square, 30 degrees of freedom)`, () => {
    const counts = new Map<string, number>();
    const text = draw();
    for (const ch of text) counts.set(ch, (counts.get(ch) ?? 0) + 1);
    assert.equal(counts.size, ALPHABET.length);
    const expected = text.length / ALPHABET.length;
    let chi = 0;
    for (const n of counts.values()) chi += (n - expected) ** 2 / expected;
    // p = 0.0001 for 30 degrees of freedom is about 65; a plain `byte % 31`
    // (no rejection) favours 8 characters and scores about 1000 here.
    assert.ok(chi < 65, `chi-square ${chi.toFixed(1)}`);
  });
}

test("codes never grow beyond the column's declared length", () => {
  const facts = (maxLength: number | null, columnType: string): SchemaFacts => ({
    dialect: "postgres",
    schema: "public",
    table: "user",
    column: "invite_code",
    databaseExists: true,
    tableExists: true,
    columnExists: true,
    columnType,
    maxLength,
    unique: true,
    indexed: true,
  });
  assert.equal(longestCodeFor(facts(8, "character varying(8)")), 8);
  assert.equal(longestCodeFor(facts(6, "character varying(6)")), 6);
  assert.equal(longestCodeFor(facts(null, "text")), MAX_CODE_LENGTH);
  assert.throws(() => longestCodeFor(facts(4, "character varying(4)")), /at least 6 characters/);
});
