/** Which database: resolved exactly as Open WebUI resolves it. */
import assert from "node:assert/strict";
import { test } from "node:test";
import { InviteCodeError, parseDatabaseUrl, resolveDatabaseUrl } from "../mod.ts";

test("DATABASE_URL wins when set", () => {
  assert.equal(
    resolveDatabaseUrl({ DATABASE_URL: "postgresql://u@db/x", DATA_DIR: "/d" }),
    "postgresql://u@db/x",
  );
});

test("DATABASE_* parts compose a URL, encoding the password", () => {
  const env = {
    DATABASE_TYPE: "postgresql",
    DATABASE_USER: "webui",
    DATABASE_PASSWORD: "p@ss/w:rd",
    DATABASE_HOST: "db",
    DATABASE_PORT: "5432",
    DATABASE_NAME: "openwebui",
  };
  const url = resolveDatabaseUrl(env);
  assert.equal(url, "postgresql://webui:p%40ss%2Fw%3Ard@db:5432/openwebui");
  const target = parseDatabaseUrl(url, env);
  assert.equal(target.dialect, "postgres");
  assert.equal(target.display, "postgres://webui:***@db:5432/openwebui");
  assert.ok(target.secrets.includes("p@ss/w:rd"));
  assert.equal(
    resolveDatabaseUrl({ ...env, DATABASE_PASSWORD: undefined }),
    "postgresql://webui@db:5432/openwebui",
  );
});

test("DATABASE_* parts are ignored unless all five are set", () => {
  assert.equal(
    resolveDatabaseUrl({ DATABASE_TYPE: "postgresql", DATABASE_HOST: "db" }),
    "sqlite:///./data/webui.db",
  );
});

test("the embedded default lives under DATA_DIR", () => {
  assert.equal(resolveDatabaseUrl({}), "sqlite:///./data/webui.db");
  const url = resolveDatabaseUrl({ DATA_DIR: "/app/backend/data" });
  assert.equal(url, "sqlite:////app/backend/data/webui.db");
  assert.deepEqual(parseDatabaseUrl(url, {}), {
    dialect: "sqlite",
    path: "/app/backend/data/webui.db",
    display: "sqlite:////app/backend/data/webui.db",
    secrets: [],
  });
});

test("SQLAlchemy driver forms and query parameters are accepted", () => {
  for (
    const scheme of [
      "postgres",
      "postgresql",
      "postgresql+psycopg2",
      "postgresql+psycopg",
      "postgresql+asyncpg",
    ]
  ) {
    const target = parseDatabaseUrl(`${scheme}://u:secretpw@h:5433/db?sslmode=require`, {});
    assert.equal(target.dialect, "postgres", scheme);
    assert.ok(
      target.dialect === "postgres" &&
        target.url === "postgres://u:secretpw@h:5433/db?sslmode=require",
    );
    assert.equal(target.display, "postgres://u:***@h:5433/db?sslmode=require");
  }
  assert.equal(parseDatabaseUrl("sqlite:///rel/webui.db", {}).dialect, "sqlite");
});

test("DATABASE_SCHEMA names the schema and is checked", () => {
  const target = parseDatabaseUrl("postgres://h/db", { DATABASE_SCHEMA: 'we"ird.schema' });
  assert.ok(target.dialect === "postgres" && target.schema === 'we"ird.schema');
  assert.throws(
    () => parseDatabaseUrl("postgres://h/db", { DATABASE_SCHEMA: "x".repeat(64) }),
    /63 bytes/,
  );
});

test("anything else gets one clear error naming what is supported", () => {
  for (
    const url of [
      "mysql://u:hunter22@h/db",
      "sqlite+sqlcipher:///x.db",
      "garbage",
      "",
      "sqlite://",
      "sqlite://relative",
    ]
  ) {
    assert.throws(
      () => parseDatabaseUrl(url, {}),
      (error: unknown) => {
        assert.ok(error instanceof InviteCodeError);
        assert.equal(error.kind, "config");
        assert.doesNotMatch(error.message, /hunter22/);
        assert.doesNotMatch(error.message, /\n/);
        return true;
      },
      url,
    );
  }
  assert.throws(
    () => parseDatabaseUrl("mysql://u:p@h/db", {}),
    /unsupported database URL scheme "mysql:\/\/" \(supported: postgres:\/\//,
  );
});
