/**
 * Invite codes: cryptographically random, unbiased, from an alphabet that
 * reads aloud and types safely.
 *
 * @module
 */
import { InviteCodeError } from "./errors.ts";
import type { SchemaFacts } from "./db/dialect.ts";

/** The alphabet of invite codes: no 0/O, 1/I/L, to be read aloud and typed safely. */
export const ALPHABET = "23456789ABCDEFGHJKMNPQRSTUVWXYZ";
/** Codes start at this length and grow only when collisions call for it. */
export const MIN_CODE_LENGTH = 6;
/** Codes never grow beyond this length (nor the column's declared length). */
export const MAX_CODE_LENGTH = 8;

// Bytes at or above this multiple of the alphabet size are rejected, so
// `byte % 31` is uniform.
const UNBIASED_LIMIT = 256 - (256 % ALPHABET.length);
const ALPHABET_CODES = Array.from(ALPHABET, (c) => c.charCodeAt(0));
const COMMA = 0x2c;
const ASCII = new TextDecoder();

/**
 * `count` distinct random codes of `length` characters.
 *
 * @example
 * ```ts
 * generateInviteCodes(3, 6); // ["K7M2QX", "9HTW3C", "PZ4R8N"]
 * ```
 * @param count How many codes.
 * @param length Characters per code.
 */
export function generateInviteCodes(count: number, length: number = MIN_CODE_LENGTH): string[] {
  const codes = new Set<string>();
  const bytes = new Uint8Array(Math.min(65536, Math.max(64, count * length * 2)));
  let offset = bytes.length;
  // One string per code, made at once: building it a character at a time
  // left a string per character behind, which is most of what a repair of a
  // million users allocates.
  const picked: number[] = new Array(length);
  let filled = 0;
  while (codes.size < count) {
    if (offset === bytes.length) {
      crypto.getRandomValues(bytes);
      offset = 0;
    }
    const byte = bytes[offset++];
    if (byte >= UNBIASED_LIMIT) continue;
    picked[filled++] = ALPHABET_CODES[byte % ALPHABET.length];
    if (filled === length) {
      codes.add(String.fromCharCode(...picked));
      filled = 0;
    }
  }
  return [...codes];
}

/**
 * `count` random codes of `length` characters as one comma-separated string,
 * made without a string per code: a chunk's candidates for one statement,
 * light on memory. Unlike `generateInviteCodes`, a code may repeat; the
 * caller drops repeats.
 *
 * @example
 * ```ts
 * generateInviteCodeList(3, 6); // "K7M2QX,9HTW3C,PZ4R8N"
 * ```
 * @param count How many codes.
 * @param length Characters per code.
 */
export function generateInviteCodeList(count: number, length: number = MIN_CODE_LENGTH): string {
  if (count <= 0) return "";
  const out = new Uint8Array(count * (length + 1) - 1);
  const bytes = new Uint8Array(Math.min(65536, out.length * 2));
  let offset = bytes.length;
  let filled = 0;
  for (let at = 0; at < out.length; at++) {
    if (filled === length) {
      out[at] = COMMA;
      filled = 0;
      continue;
    }
    let byte: number;
    do {
      if (offset === bytes.length) {
        crypto.getRandomValues(bytes);
        offset = 0;
      }
      byte = bytes[offset++];
    } while (byte >= UNBIASED_LIMIT);
    out[at] = ALPHABET_CODES[byte % ALPHABET.length];
    filled++;
  }
  return ASCII.decode(out);
}

/**
 * One random invite code.
 *
 * @example
 * ```ts
 * generateInviteCode(); // "K7M2QX"
 * ```
 * @param length Characters in the code.
 */
export function generateInviteCode(length: number = MIN_CODE_LENGTH): string {
  return generateInviteCodes(1, length)[0];
}

/**
 * The longest code the column allows, capped at `MAX_CODE_LENGTH`; throws a
 * `schema` error when even the shortest code would not fit.
 *
 * @example
 * ```ts
 * declare const facts: Parameters<typeof longestCodeFor>[0]; // what the dialect found
 * longestCodeFor({ ...facts, maxLength: 6 }); // 6
 * ```
 * @param facts The column as the dialect found it.
 */
export function longestCodeFor(facts: SchemaFacts): number {
  const longest = Math.min(MAX_CODE_LENGTH, facts.maxLength ?? MAX_CODE_LENGTH);
  if (longest < MIN_CODE_LENGTH) {
    throw new InviteCodeError(
      "schema",
      `column ${facts.column} is ${facts.columnType}; codes need at least ${MIN_CODE_LENGTH} characters`,
    );
  }
  return longest;
}
