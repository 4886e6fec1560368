import { randomBytes } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Database } from "better-sqlite3";
import pg from "pg";
import { afterAll, describe, expect, it } from "vitest";
import { isConcordError } from "../../src/errors.js";
import { MemoryEventStore, PostgresEventStore, SqliteEventStore } from "../../src/replication/index.js";
import { makeEvent, testEventStore } from "./store-suite.js";

// ENGINES=memory,sqlite narrows the run, as for the driver suites; every store runs by default, and a
// store whose server cannot be reached fails naming it.
const wanted = process.env["ENGINES"]?.split(",").map((s) => s.trim()) ?? ["memory", "sqlite", "postgres"];
const POSTGRES_URL = process.env["POSTGRES_URL"] ?? "postgres://postgres@127.0.0.1:5432/test";

if (wanted.includes("memory")) testEventStore("memory", async () => ({ store: new MemoryEventStore() }));

if (wanted.includes("sqlite")) {
  const dirs: string[] = [];
  afterAll(() => {
    for (const d of dirs) rmSync(d, { recursive: true, force: true });
  });
  testEventStore("sqlite", async () => {
    const dir = mkdtempSync(join(tmpdir(), "concord-events-"));
    dirs.push(dir);
    const path = join(dir, "events.db");
    return { store: new SqliteEventStore(path), reopen: async () => new SqliteEventStore({ path }) };
  }, { durable: true });
}

if (wanted.includes("postgres")) {
  const schemas: string[] = [];
  afterAll(async () => {
    if (schemas.length === 0) return;
    const client = new pg.Client({ connectionString: POSTGRES_URL });
    await client.connect();
    try {
      for (const s of schemas) await client.query(`DROP SCHEMA IF EXISTS "${s}" CASCADE`);
    } finally {
      await client.end();
    }
  });
  testEventStore("postgres", async () => {
    const schema = `t_ev_${randomBytes(6).toString("hex")}`;
    schemas.push(schema);
    const open = async () => {
      const store = new PostgresEventStore({ connectionString: POSTGRES_URL, schema, maxConnections: 3 });
      try {
        await store.head(); // creates the schema, and proves the server is there
      } catch (e) {
        throw new Error(`store postgres: cannot reach ${new URL(POSTGRES_URL).host} (start it with scripts/engines.sh postgres): ${(e as Error).message}`, { cause: e });
      }
      return store;
    };
    return { store: await open(), reopen: open };
  }, { durable: true });
}

describe("store options and failures", () => {
  it("refuses bad options naming them", () => {
    expect(() => new SqliteEventStore("")).toThrow(/^path/);
    expect(() => new SqliteEventStore({ path: ":memory:", synchronous: "OFF" as never })).toThrow(/^synchronous/);
    expect(() => new SqliteEventStore({ path: ":memory:", busyTimeoutMs: -1 })).toThrow(/^busyTimeoutMs/);
    expect(() => new PostgresEventStore({ schema: "Bad-Name" })).toThrow(/^schema/);
    expect(() => new PostgresEventStore({ maxConnections: 0 })).toThrow(/^maxConnections/);
    expect(() => new PostgresEventStore({ connectionString: "not a url" })).toThrow(/^connectionString/);
  });

  it("an unreachable PostgreSQL server is UNAVAILABLE naming host:port, never the password", async () => {
    const store = new PostgresEventStore({ connectionString: "postgres://postgres:s3cret@127.0.0.1:1/test", connectTimeoutMs: 2_000 });
    const err = await store.head().then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(isConcordError(err, "UNAVAILABLE")).toBe(true);
    expect((err as Error).message).toMatch(/127\.0\.0\.1:1/);
    expect((err as Error).message).not.toMatch(/s3cret/);
    await store.close();
  });

  it("a stored event that is not an event reads as CORRUPT", async () => {
    const dir = mkdtempSync(join(tmpdir(), "concord-corrupt-"));
    try {
      const path = join(dir, "events.db");
      const store = new SqliteEventStore(path);
      await store.append([makeEvent("a", 1)]);
      await store.close();
      const Db = createRequire(import.meta.url)("better-sqlite3") as new (p: string) => Database;
      const db = new Db(path);
      db.prepare("UPDATE replication_events SET body = '{\"id\":5}'").run();
      db.close();
      const again = new SqliteEventStore(path);
      const err = await again.read().then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(isConcordError(err, "CORRUPT")).toBe(true);
      await again.close();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
