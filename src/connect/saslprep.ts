/**
 * SASLprep (RFC 4013) of a SCRAM password, step for step as PostgreSQL's
 * `pg_saslprep` (src/common/saslprep.c) does it, quirks included: the
 * prohibition and bidi checks look at the mapped characters before
 * normalization. The server prepares the password the same way when it
 * stores the verifier, so both sides must agree exactly.
 *
 * @module
 */
import {
  L_CAT,
  MAPPED_TO_NOTHING,
  NON_ASCII_SPACE,
  PROHIBITED,
  RAND_AL_CAT,
  UNASSIGNED,
} from "./stringprep.ts";

type Table = readonly (readonly [number, number])[];

function table(text: string): Table {
  return text.split(" ").map((item) => {
    const [first, last = first] = item.split("-");
    return [parseInt(first, 16), parseInt(last, 16)] as const;
  });
}

const SPACES = table(NON_ASCII_SPACE);
const NOTHING = table(MAPPED_TO_NOTHING);
const FORBIDDEN = table(PROHIBITED);
const UNASSIGNED_3_2 = table(UNASSIGNED);
const RIGHT_TO_LEFT = table(RAND_AL_CAT);
const LEFT_TO_RIGHT = table(L_CAT);

function inTable(code: number, ranges: Table): boolean {
  let low = 0;
  let high = ranges.length - 1;
  while (low <= high) {
    const middle = (low + high) >> 1;
    const [first, last] = ranges[middle];
    if (code < first) high = middle - 1;
    else if (code > last) low = middle + 1;
    else return true;
  }
  return false;
}

/**
 * The password prepared with SASLprep, or null where `pg_saslprep` would
 * refuse it (a prohibited or unassigned character, a bidi violation, nothing
 * left after mapping); libpq then uses the password as it is.
 *
 * @example
 * ```ts
 * saslprep("I\u00ADX"); // "IX"
 * saslprep("\u0007"); // "\u0007": pure ASCII is never touched
 * saslprep("a\u0007é"); // null
 * ```
 * @param password The password as given.
 */
export function saslprep(password: string): string | null {
  // pg_saslprep: pure ASCII needs no processing, control characters included.
  if ([...password].every((character) => character.codePointAt(0)! < 0x80)) return password;
  const mapped: number[] = [];
  for (const character of password) {
    const code = character.codePointAt(0)!;
    if (inTable(code, SPACES)) mapped.push(0x20);
    else if (!inTable(code, NOTHING)) mapped.push(code);
  }
  if (mapped.length === 0) return null;
  if (mapped.some((code) => inTable(code, FORBIDDEN) || inTable(code, UNASSIGNED_3_2))) {
    return null;
  }
  if (mapped.some((code) => inTable(code, RIGHT_TO_LEFT))) {
    if (mapped.some((code) => inTable(code, LEFT_TO_RIGHT))) return null;
    if (!inTable(mapped[0], RIGHT_TO_LEFT) || !inTable(mapped.at(-1)!, RIGHT_TO_LEFT)) {
      return null;
    }
  }
  return String.fromCodePoint(...mapped).normalize("NFKC");
}

/**
 * What libpq feeds SCRAM: the prepared password, or the password itself
 * when SASLprep refuses it (`pg_fe_scram_init`).
 *
 * @param password The password as given.
 */
export function scramPassword(password: string): string {
  return saslprep(password) ?? password;
}
