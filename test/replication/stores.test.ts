import { mkdtempSync, rmSync } from "node:fs";
import { randomBytes } from "node:crypto";
import { tmpdir } from "node:os";
import { join } from "node:path";
import pg from "pg";
import { afterAll } from "vitest";
import { MemoryEventStore, PostgresEventStore, SqliteEventStore } from "../../src/replication/index.js";
import { testEventStore } from "./store-suite.js";

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
