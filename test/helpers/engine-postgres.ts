import { spawn, type ChildProcess } from "node:child_process";
import { randomBytes } from "node:crypto";
import { createRequire } from "node:module";
import { createPostgresDriver } from "../../src/drivers/postgres/index.js";
import type { EngineUnderTest } from "./engines.js";

/** The server under test: POSTGRES_URL, or the one scripts/engines.sh starts. */
const BASE_URL = process.env["POSTGRES_URL"] ?? "postgres://postgres@127.0.0.1:5432/test";

function where(url: string): string {
  const u = new URL(url);
  return `${u.hostname || "localhost"}:${u.port || "5432"}`;
}

// Drops test schemas in a child process of its own, fed their names on stdin: cleanup() never blocks
// the runner, and the drops still happen after the test worker exits (its end of the pipe closes, the
// janitor finishes the queue, then exits). Not module state of the library: only of this harness.
const JANITOR = `
const pg = require(process.argv[1]);
const client = new pg.Client({ connectionString: process.argv[2], statement_timeout: 30000 });
const queue = [];
let buffered = "", ended = false, busy = false, connected;
async function pump() {
  if (busy) return;
  busy = true;
  try {
    connected ??= client.connect();
    await connected;
    while (queue.length > 0) await client.query('DROP SCHEMA IF EXISTS "' + queue.shift() + '" CASCADE').catch(() => {});
  } catch {
    queue.length = 0;
  }
  busy = false;
  if (queue.length > 0) return pump();
  if (ended) await client.end().catch(() => {});
}
process.stdin.on("data", (d) => {
  const lines = (buffered + d).split("\\n");
  buffered = lines.pop();
  for (const l of lines) if (/^t_[0-9a-f]+$/.test(l)) queue.push(l);
  void pump();
});
process.stdin.on("end", () => { ended = true; void pump(); });
`;

let janitor: ChildProcess | undefined;

function dropLater(schema: string): void {
  if (!janitor || janitor.stdin?.destroyed) {
    const pgPath = createRequire(import.meta.url).resolve("pg");
    janitor = spawn(process.execPath, ["-e", JANITOR, pgPath, BASE_URL], { stdio: ["pipe", "ignore", "ignore"], detached: true });
    janitor.on("error", () => undefined);
    janitor.stdin?.on("error", () => undefined);
    janitor.unref();
    (janitor.stdin as unknown as { unref?: () => void } | null)?.unref?.();
  }
  janitor.stdin?.write(`${schema}\n`);
}

/**
 * A fresh keyspace on the PostgreSQL server per call: a schema `t_<hex>` of its own, created by the
 * first client to open it and dropped by cleanup(). A test's ManualClock is handed to the driver, so
 * it (not the server's clock) judges leases, as on the embedded engines.
 */
export function postgresEngine(): EngineUnderTest {
  const schema = `t_${randomBytes(8).toString("hex")}`;
  const url = `${BASE_URL}${BASE_URL.includes("?") ? "&" : "?"}schema=${schema}`;
  return {
    name: "postgres",
    url,
    open: async (clock) => {
      try {
        return await createPostgresDriver({ connectionString: BASE_URL, schema, historyLimit: 1_000_000, ...(clock ? { clock } : {}) });
      } catch (e) {
        throw new Error(`engine postgres: cannot open ${where(BASE_URL)} (start it with scripts/engines.sh postgres): ${(e as Error).message}`, {
          cause: e,
        });
      }
    },
    // connect(url) in a primitive test creates the schema without open(): drop it regardless.
    cleanup: () => dropLater(schema),
  };
}
