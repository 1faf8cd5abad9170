/**
 * An Open WebUI-shaped `"user"` table for tests, benchmarks and the demo:
 * the upstream columns and constraints plus the fork's `invite_code`.
 */

/** The shape of a seeded `"user"` table. */
export interface Shape {
  users: number;
  /** Users with NULL codes. */
  missing?: number;
  /**
   * Users with distinct blank codes ('', a tab, two spaces, ...). Under a
   * unique varchar(8) column at most 8 fit: PostgreSQL trims excess spaces.
   */
  blank?: number;
  /** A unique constraint on invite_code (default true). */
  unique?: boolean;
  /** Declared type of invite_code, or false for no such column. */
  column?: string | false;
  /** False: no "user" table at all. */
  table?: boolean;
}

/** Open WebUI's `"user"` table, plus the fork's invite_code column. */
export function createUserTableSql(shape: Shape): string {
  const column = shape.column === false
    ? ""
    : `, invite_code ${shape.column ?? "VARCHAR(8)"}${shape.unique === false ? "" : " UNIQUE"}`;
  return `CREATE TABLE "user" (
    id VARCHAR(255) NOT NULL PRIMARY KEY, name VARCHAR(255) NOT NULL,
    email VARCHAR(255) NOT NULL, role VARCHAR(255) NOT NULL, profile_image_url TEXT NOT NULL,
    api_key VARCHAR(255) UNIQUE, created_at BIGINT NOT NULL, updated_at BIGINT NOT NULL,
    last_active_at BIGINT NOT NULL, settings JSON, info JSON, oauth_sub TEXT UNIQUE${column})`;
}

/** SQL spelling of what seeding needs, per dialect. */
export interface SeedSql {
  /** Yields column i = 1..n. */
  series: (n: number) => string;
  uuid: string;
  /** The i-th existing code: X and 7 hex digits, distinct up to 268 million users. */
  existingCode: string;
  /** n spaces. */
  spaces: (n: string) => string;
  tab: string;
}

/**
 * The INSERT that seeds `shape`. Blank codes are distinct ('', ' ', a tab,
 * ...), as a unique constraint forces them to be in a real table.
 */
export function seedUsersSql(shape: Shape, dialect: SeedSql): string {
  const withCodes = shape.users - (shape.missing ?? 0) - (shape.blank ?? 0);
  const k = `(i - ${withCodes} - 1)`;
  const code = shape.column === false
    ? ""
    : `, CASE WHEN i <= ${withCodes} THEN ${dialect.existingCode}
      WHEN i <= ${withCodes + (shape.blank ?? 0)} THEN
        CASE ${k} % 2 WHEN 1 THEN ${dialect.tab} || ${dialect.spaces(k)} ELSE ${
      dialect.spaces(k)
    } END
      ELSE NULL END`;
  return `INSERT INTO "user" (id, name, email, role, profile_image_url, created_at, updated_at,
      last_active_at${shape.column === false ? "" : ", invite_code"})
    SELECT ${dialect.uuid}, 'User ' || i, 'user' || i || '@example.com', 'user', '/user.png', 0, 0, 0${code}
    FROM ${dialect.series(shape.users)}`;
}

/** Seeding spelled for PostgreSQL. */
export const POSTGRES_SEED: SeedSql = {
  series: (n) => `generate_series(1, ${n}) AS i`,
  uuid: "gen_random_uuid()::text",
  existingCode: "'X' || lpad(upper(to_hex(i)), 7, '0')",
  spaces: (n) => `repeat(' ', ${n})`,
  tab: "chr(9)",
};

/** Seeding spelled for SQLite. */
export const SQLITE_SEED: SeedSql = {
  series: (n) =>
    `(WITH RECURSIVE s(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM s WHERE i < ${n}) SELECT i FROM s)`,
  uuid: "lower(hex(randomblob(16)))",
  existingCode: "printf('X%07X', i)",
  spaces: (n) => `replace(hex(zeroblob(${n})), '00', ' ')`,
  tab: "char(9)",
};
