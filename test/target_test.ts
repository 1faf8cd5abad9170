/**
 * Which database: resolved as Open WebUI resolves it, read as SQLAlchemy's
 * make_url reads it, handed to libpq as psycopg2 hands it.
 */
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { test } from "node:test";
import { endpoints, KEYWORD_NAMES, postgresTarget } from "../src/connect/conninfo.ts";
import { resolveDatabaseUrl } from "../src/connect/environment.ts";
import { parseSqlalchemyUrl } from "../src/connect/sqlalchemy.ts";
import { parseDatabaseUrl } from "../src/connect/target.ts";
import { InviteCodeError } from "../src/errors.ts";
import { ROOT } from "./helpers.ts";

const pg = (url: string, env: Record<string, string> = {}) => {
  const target = parseDatabaseUrl(url, env);
  assert.equal(target.dialect, "postgres");
  return target as Extract<typeof target, { dialect: "postgres" }>;
};

test("DATABASE_URL wins when set", () => {
  assert.equal(
    resolveDatabaseUrl({ DATABASE_URL: "postgresql://u@db/x", DATA_DIR: "/d" }),
    "postgresql://u@db/x",
  );
});

test("DATABASE_* parts compose a URL that reads back to the same parts", () => {
  const env = {
    DATABASE_TYPE: "postgresql",
    DATABASE_USER: "webui",
    DATABASE_PASSWORD: "p@ss/w:rd#%?",
    DATABASE_HOST: "db",
    DATABASE_PORT: "5432",
    DATABASE_NAME: "openwebui",
  };
  const target = pg(resolveDatabaseUrl(env), env);
  assert.deepEqual(target.conninfo, {
    user: "webui",
    password: "p@ss/w:rd#%?",
    host: "db",
    port: "5432",
    dbname: "openwebui",
  });
  assert.equal(target.display, "postgresql://webui:***@db:5432/openwebui");
  assert.ok(target.secrets.includes("p@ss/w:rd#%?"));
  assert.equal(
    resolveDatabaseUrl({ ...env, DATABASE_PASSWORD: undefined }),
    "postgresql://webui@db:5432/openwebui",
  );
  // An IPv6 DATABASE_HOST, bracketed or not, is a host, not a port.
  for (const host of ["::1", "[::1]"]) {
    assert.equal(pg(resolveDatabaseUrl({ ...env, DATABASE_HOST: host })).conninfo.host, "::1");
  }
});

test("DATABASE_* parts are ignored unless all five are set", () => {
  assert.equal(
    resolveDatabaseUrl({ DATABASE_TYPE: "postgresql", DATABASE_HOST: "db" }),
    "sqlite:///./data/webui.db",
  );
});

test("the embedded default lives under DATA_DIR, shown as an absolute path", () => {
  assert.equal(resolveDatabaseUrl({}), "sqlite:///./data/webui.db");
  const url = resolveDatabaseUrl({ DATA_DIR: "/app/backend/data" });
  assert.equal(url, "sqlite:////app/backend/data/webui.db");
  assert.deepEqual(parseDatabaseUrl(url, {}), {
    dialect: "sqlite",
    path: "/app/backend/data/webui.db",
    cipher: null,
    display: "sqlite:////app/backend/data/webui.db",
    secrets: [],
  });
  const relative = parseDatabaseUrl("sqlite:///tmp/x.db", {});
  assert.ok(relative.dialect === "sqlite" && relative.path === resolve("tmp/x.db"));
  // A file named like a SQLite URI is still a file name.
  const uriLike = parseDatabaseUrl("sqlite:///file:new2.db", {});
  assert.ok(uriLike.dialect === "sqlite" && uriLike.path === resolve("file:new2.db"));
});

// Expected values: what SQLAlchemy's make_url and its psycopg2 dialect's
// create_connect_args give for each URL (Debian's python3-sqlalchemy 1.4.46;
// the grammar is the same in 2.0), as libpq keywords. "error": SQLAlchemy
// refuses the URL.
const SQLALCHEMY_CASES: [string, Record<string, string> | "error"][] = [
  ["postgresql://u:pw@db:5432/openwebui", {
    "host": "db",
    "dbname": "openwebui",
    "user": "u",
    "password": "pw",
    "port": "5432",
  }],
  ["postgresql+psycopg2://u:pw@/db?host=/var/run/postgresql", {
    "dbname": "db",
    "user": "u",
    "password": "pw",
    "host": "/var/run/postgresql",
  }],
  ["postgresql://u:pw@/db?host=/cloudsql/proj:region:inst", {
    "dbname": "db",
    "user": "u",
    "password": "pw",
    "host": "/cloudsql/proj:region:inst",
  }],
  ["postgresql:///db?host=/var/run/postgresql", { "dbname": "db", "host": "/var/run/postgresql" }],
  ["postgresql://u:pw@[::1]:5432/db", {
    "host": "::1",
    "dbname": "db",
    "user": "u",
    "password": "pw",
    "port": "5432",
  }],
  ["postgresql://u:pw@[2001:db8::5]/db", {
    "host": "2001:db8::5",
    "dbname": "db",
    "user": "u",
    "password": "pw",
  }],
  ["postgresql://u:#Sup3rSecret@db:5432/openwebui", {
    "host": "db",
    "dbname": "openwebui",
    "user": "u",
    "password": "#Sup3rSecret",
    "port": "5432",
  }],
  ["postgresql://u:?x=1&y@db/db", {
    "host": "db",
    "dbname": "db",
    "user": "u",
    "password": "?x=1&y",
  }],
  ["postgresql://u:/slash/pw@db/db", {
    "host": "db",
    "dbname": "db",
    "user": "u",
    "password": "/slash/pw",
  }],
  ["postgresql://u:5432#x@db:5432/db", {
    "host": "db",
    "dbname": "db",
    "user": "u",
    "password": "5432#x",
    "port": "5432",
  }],
  ["postgresql://u:50%off@db/db", {
    "host": "db",
    "dbname": "db",
    "user": "u",
    "password": "50%off",
  }],
  ["postgresql://u:p%40ss%2Fw%3Ard@db/db", {
    "host": "db",
    "dbname": "db",
    "user": "u",
    "password": "p@ss/w:rd",
  }],
  ["postgresql://u:caf%C3%A9@db/db", {
    "host": "db",
    "dbname": "db",
    "user": "u",
    "password": "café",
  }],
  ["postgresql://u:bad%FFbyte@db/db", {
    "host": "db",
    "dbname": "db",
    "user": "u",
    "password": "bad�byte",
  }],
  ["postgresql://us%20er:pw@db/db", {
    "host": "db",
    "dbname": "db",
    "user": "us er",
    "password": "pw",
  }],
  ["postgresql://u:pw@db/my%20db", {
    "host": "db",
    "dbname": "my%20db",
    "user": "u",
    "password": "pw",
  }],
  ["postgresql://u:pw@db/db?sslmode=verify-full&sslrootcert=/path/ca.pem", {
    "host": "db",
    "dbname": "db",
    "user": "u",
    "password": "pw",
    "sslmode": "verify-full",
    "sslrootcert": "/path/ca.pem",
  }],
  ["postgresql://u:pw@db/db?sslcert=&sslkey=", {
    "host": "db",
    "dbname": "db",
    "user": "u",
    "password": "pw",
  }],
  ["postgresql://u:pw@db/db?application_name=a+b&options=-c%20search_path%3Dx", {
    "host": "db",
    "dbname": "db",
    "user": "u",
    "password": "pw",
    "application_name": "a b",
    "options": "-c search_path=x",
  }],
  ["postgresql://u:pw@db:/db", "error"],
  ["postgresql://u@db/db", { "host": "db", "dbname": "db", "user": "u" }],
  ["postgresql://:pw@db/db", { "host": "db", "dbname": "db", "password": "pw" }],
  ["postgresql://db/db", { "host": "db", "dbname": "db" }],
  ["postgresql+asyncpg://u:pw@db/db?ssl=require", {
    "host": "db",
    "dbname": "db",
    "user": "u",
    "password": "pw",
    "sslmode": "require",
  }],
  ["postgresql://u:p:w:d@db/db", {
    "host": "db",
    "dbname": "db",
    "user": "u",
    "password": "p:w:d",
  }],
  ["postgresql://u:pw@db", { "host": "db", "user": "u", "password": "pw" }],
  ["postgres://u:pw@db/db?keepalives=1&keepalives_idle=30", {
    "host": "db",
    "dbname": "db",
    "user": "u",
    "password": "pw",
    "keepalives": "1",
    "keepalives_idle": "30",
  }],
];

test("URLs read as SQLAlchemy + psycopg2 read them (table from SQLAlchemy itself)", () => {
  for (const [url, expected] of SQLALCHEMY_CASES) {
    if (expected === "error") {
      assert.throws(() => parseDatabaseUrl(url, {}), InviteCodeError, url);
      continue;
    }
    assert.deepEqual(pg(url).conninfo, expected, url);
  }
});

test("passwords of every printable ASCII character but @, written raw, read back whole", () => {
  const printable = Array.from({ length: 95 }, (_, i) => String.fromCharCode(32 + i))
    .filter((c) => c !== "@" && c !== "%");
  const passwords = [printable.join("") + "%"];
  // Every character also first and last: rotations of the set.
  for (let i = 0; i < printable.length; i++) {
    passwords.push([...printable.slice(i), ...printable.slice(0, i)].join(""));
  }
  for (const password of passwords) {
    const target = pg(`postgresql+psycopg2://webui:${password}@db:5432/openwebui`);
    assert.equal(target.conninfo.password, password);
    assert.equal(target.conninfo.host, "db");
    assert.equal(target.conninfo.dbname, "openwebui");
    assert.ok(!target.display.includes(password));
    // Percent-encoded, the same password (and "@") comes back decoded.
    const encoded = pg(`postgresql://webui:${encodeURIComponent(password + "@")}@db/openwebui`);
    assert.equal(encoded.conninfo.password, password + "@");
  }
});

test("multi-host forms as SQLAlchemy 2.0 splits them", () => {
  assert.deepEqual(
    pg("postgresql://u:pw@/db?host=h1:5433&host=h2:5434").conninfo,
    { user: "u", password: "pw", dbname: "db", host: "h1,h2", port: "5433,5434" },
  );
  assert.deepEqual(
    pg("postgresql://u:pw@/db?host=h1,h2&port=5433,5434").conninfo,
    { user: "u", password: "pw", dbname: "db", host: "h1,h2", port: "5433,5434" },
  );
  assert.deepEqual(pg("postgresql://u@/db?host=h1:5433").conninfo, {
    user: "u",
    dbname: "db",
    host: "h1",
    port: "5433",
  });
  assert.throws(() => pg("postgresql://u@/db?host=h1,h2,h3&port=1,2"), /don't match/);
  assert.throws(() => pg("postgresql://u@/db?host=h1:1&host=h2:2&port=3"), /cannot be mixed/);
});

test("libpq's endpoints: sockets, abstract sockets, IPv6, hostaddr, port lists", () => {
  const socket = (host: string, path: string, port = 5432) => ({
    kind: "unix",
    host,
    hostaddr: "",
    port,
    path,
    label: host,
  });
  assert.deepEqual(endpoints({ host: "/var/run/postgresql" }), [
    socket("/var/run/postgresql", "/var/run/postgresql/.s.PGSQL.5432"),
  ]);
  assert.deepEqual(endpoints({}), [
    socket("/var/run/postgresql", "/var/run/postgresql/.s.PGSQL.5432"),
  ]);
  assert.deepEqual(endpoints({ host: "@pg", port: "6000" }), [
    socket("@pg", "\0pg/.s.PGSQL.6000", 6000),
  ]);
  assert.deepEqual(endpoints({ host: "::1,db.internal,/tmp", port: "5433,5434,5435" }), [
    {
      kind: "tcp",
      host: "::1",
      hostaddr: "",
      address: "::1",
      port: 5433,
      tlsName: "::1",
      label: "::1:5433",
    },
    {
      kind: "tcp",
      host: "db.internal",
      hostaddr: "",
      address: "db.internal",
      port: 5434,
      tlsName: "db.internal",
      label: "db.internal:5434",
    },
    socket("/tmp", "/tmp/.s.PGSQL.5435", 5435),
  ]);
  assert.deepEqual(endpoints({ host: "db.example", hostaddr: "10.0.0.5" }), [
    {
      kind: "tcp",
      host: "db.example",
      hostaddr: "10.0.0.5",
      address: "10.0.0.5",
      port: 5432,
      tlsName: "db.example",
      label: "db.example",
    },
  ]);
  assert.throws(() => endpoints({ host: "a,b", port: "1,2,3" }), /3 port numbers to 2 hosts/);
  assert.throws(() => endpoints({ host: "a", port: "99999" }), /invalid port/);
  assert.throws(() => endpoints({ hostaddr: "not-an-ip" }), /network address/);
});

test("PG* variables fill what the URL leaves out, never what it says", () => {
  const env = {
    PGHOST: "/var/run/postgresql",
    PGPORT: "6543",
    PGUSER: "envuser",
    PGPASSWORD: "envsecret",
    PGDATABASE: "envdb",
    PGSSLMODE: "require",
    PGAPPNAME: "from-env",
  };
  assert.deepEqual(pg("postgresql://", env).conninfo, {
    host: "/var/run/postgresql",
    port: "6543",
    user: "envuser",
    password: "envsecret",
    dbname: "envdb",
    sslmode: "require",
    application_name: "from-env",
  });
  const url = pg("postgresql://u:pw@db:5432/x?sslmode=disable", env);
  assert.equal(url.conninfo.host, "db");
  assert.equal(url.conninfo.user, "u");
  assert.equal(url.conninfo.sslmode, "disable");
  assert.ok(url.secrets.includes("envsecret") && url.secrets.includes("pw"));
});

test("keywords libpq refuses, or this tool cannot honour, are one clear config line", () => {
  for (
    const [query, message] of [
      ["bogus=1", /invalid connection option "bogus"/],
      ["sslmode=maybe", /invalid sslmode value "maybe"/],
      ["gssencmode=require", /gssencmode=require is not supported: GSSAPI/],
      ["requirepeer=postgres", /requirepeer is not supported/],
      ["service=prod", /service is not supported: pg_service.conf/],
      ["sslrootcert=system&sslmode=require", /weak sslmode "require" may not be used/],
      ["sslmode=require&sslmode=disable", /given more than once/],
    ] as const
  ) {
    assert.throws(() => pg(`postgresql://u:topsecret@db/x?${query}`), (error: unknown) => {
      assert.ok(error instanceof InviteCodeError && error.kind === "config");
      assert.match(error.message, message);
      assert.doesNotMatch(error.message, /topsecret|\n/);
      return true;
    });
  }
  assert.equal(pg("postgresql://u@db/x?sslrootcert=system").conninfo.sslrootcert, "system");
  assert.deepEqual(
    pg("postgresql://u@db/x?keepalives_interval=5&keepalives_count=3&gssencmode=disable").ignored,
    ["keepalives_interval", "keepalives_count"],
  );
});

test("secrets are masked in display, wherever they are written", () => {
  const target = pg(
    "postgresql://u:hunter22pw@db/x?sslpassword=keyphrase9&sslmode=require&application_name=a",
  );
  assert.equal(
    target.display,
    "postgresql://u:***@db/x?sslpassword=***&sslmode=require&application_name=a",
  );
  assert.ok(target.secrets.includes("hunter22pw") && target.secrets.includes("keyphrase9"));
  const postgresTargetDirect = postgresTarget(
    parseSqlalchemyUrl("postgres://u:p4ssw0rd@h/d"),
    {},
    [],
  );
  assert.ok(!postgresTargetDirect.display.includes("p4ssw0rd"));
});

test("DATABASE_SCHEMA names the schema and is checked", () => {
  const target = pg("postgres://h/db", { DATABASE_SCHEMA: 'we"ird.schema' });
  assert.equal(target.schema, 'we"ird.schema');
  assert.throws(
    () => parseDatabaseUrl("postgres://h/db", { DATABASE_SCHEMA: "x".repeat(64) }),
    /63 bytes/,
  );
});

test("anything else gets one clear error naming what is supported", () => {
  for (
    const url of [
      "mysql://u:hunter22@h/db",
      "garbage",
      "",
      "sqlite://",
      "sqlite://relative",
      "postgresql://u:hunter22@db:/x",
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

test("a scheme in capitals is refused, as SQLAlchemy refuses it (Can't load plugin)", () => {
  for (const url of ["POSTGRESQL://u:p@h/db", "Postgresql+Psycopg2://u:p@h/db", "SQLite:///x.db"]) {
    const scheme = url.slice(0, url.indexOf("://"));
    assert.throws(
      () => parseDatabaseUrl(url, {}),
      (error: Error) => error.message.startsWith(`unsupported database URL scheme "${scheme}://"`),
      url,
    );
  }
});

test("the README's Connecting table names every libpq keyword", () => {
  const readme = readFileSync(join(ROOT, "README.md"), "utf8");
  const table = readme.slice(
    readme.indexOf("### Connecting"),
    readme.indexOf("**Runtime differences.**"),
  );
  const missing = KEYWORD_NAMES.filter((name) => !table.includes(`\`${name}\``));
  assert.deepEqual(missing, []);
});

test("query keys are percent-decoded as SQLAlchemy does; ssl= is asyncpg's alone; schema names count bytes", () => {
  assert.equal(pg("postgresql://u@h/db?ssl%6Dode=require").conninfo.sslmode, "require");
  assert.equal(pg("postgresql+asyncpg://u@h/db?ssl=require").conninfo.sslmode, "require");
  for (const scheme of ["postgresql", "postgresql+psycopg2", "postgresql+psycopg"]) {
    assert.throws(
      () => pg(`${scheme}://u@h/db?ssl=require`),
      /invalid connection option "ssl"/,
    );
  }
  // 63 bytes is PostgreSQL's limit: 31 two-byte characters and one more fit, 32 do not.
  assert.equal(
    pg("postgresql://u@h/db", { DATABASE_SCHEMA: `${"é".repeat(31)}x` }).schema,
    `${"é".repeat(31)}x`,
  );
  assert.throws(
    () => pg("postgresql://u@h/db", { DATABASE_SCHEMA: "é".repeat(32) }),
    /at most 63 bytes/,
  );
});

test("a raw @ in a password ends it, as in SQLAlchemy: the rest is read as the host", () => {
  const url = parseSqlalchemyUrl("postgresql://u:p@ss@db/x");
  assert.deepEqual([url.username, url.password, url.host, url.database], ["u", "p", "ss@db", "x"]);
});
