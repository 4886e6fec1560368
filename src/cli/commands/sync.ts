import { randomUUID } from "node:crypto";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { createRequire } from "node:module";
import type { Database } from "better-sqlite3";
import { invalid } from "../../errors.js";
import { bearerAuth, createSyncHandler } from "../../replication/http/handler.js";
import { HttpTransport } from "../../replication/http/transport.js";
import { Replica } from "../../replication/replica.js";
import { SqliteEventStore } from "../../replication/stores/sqlite.js";
import { type CursorStore, SyncManager, type SyncResult } from "../../replication/sync-manager.js";
import type { Json } from "../../replication/types.js";
import { type Command, type Invocation, noMoreArgs } from "../command.js";
import { note, printJson } from "../json-io.js";
import { intOption, stringOption } from "../options.js";

/** Node id and sync cursors, kept in a table of the event database itself, so a restart resumes. */
class SqliteMeta implements CursorStore {
  readonly #db: Database;
  constructor(path: string) {
    const Db = createRequire(import.meta.url)("better-sqlite3") as new (p: string, o?: { timeout?: number }) => Database;
    this.#db = new Db(path, { timeout: 5000 });
    this.#db.exec("CREATE TABLE IF NOT EXISTS concord_sync_meta (key TEXT PRIMARY KEY, value TEXT NOT NULL) WITHOUT ROWID");
  }
  get(key: string): string | undefined {
    return this.#db.prepare<[string], { value: string }>("SELECT value FROM concord_sync_meta WHERE key = ?").get(key)?.value;
  }
  set(key: string, value: string): void {
    this.#db.prepare("INSERT INTO concord_sync_meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value").run(key, value);
  }
  /** `--node`, else the id this file was given the first time, else a new one. */
  nodeId(given: string | undefined): string {
    const held = this.get("node-id");
    if (given !== undefined && held !== undefined && given !== held) throw invalid("--node", `this database belongs to node ${JSON.stringify(held)}; one node id per database`);
    const id = held ?? given ?? `node-${randomUUID().slice(0, 8)}`;
    if (held === undefined) this.set("node-id", id);
    return id;
  }
  close(): void {
    this.#db.close();
  }
}

function open(inv: Invocation): { replica: Replica; meta: SqliteMeta } {
  const db = stringOption(inv.parsed, "db");
  if (db === undefined) throw invalid("--db", "is required: the SQLite file of this node's events, e.g. --db ./node-a.db");
  const store = new SqliteEventStore(db);
  const meta = new SqliteMeta(store.path);
  const replica = new Replica({ nodeId: meta.nodeId(stringOption(inv.parsed, "node")), store });
  return { replica, meta };
}

/** `TYPE:AGGREGATE:JSON`, JSON being everything after the second colon. */
function parseAppend(raw: string): { type: string; aggregateId: string; data: Json } {
  const m = /^([^:]+):([^:]+):(.*)$/s.exec(raw);
  if (!m) throw invalid("--append", `expected TYPE:AGGREGATE:JSON, e.g. ItemAdded:cart-7:{"sku":"a1","qty":2}, got ${JSON.stringify(raw)}`);
  let data: Json;
  try {
    data = JSON.parse(m[3]!) as Json;
  } catch {
    throw invalid("--append", `the data after TYPE:AGGREGATE: is not JSON: ${JSON.stringify(m[3])}`);
  }
  return { type: m[1]!, aggregateId: m[2]!, data };
}

function summary(r: SyncResult): Record<string, unknown> {
  return { pushed: r.pushed, pulled: r.pulled, conflicts: r.conflicts, errors: r.errors.map((e) => `${e.code}: ${e.message}`) };
}

async function serve(inv: Invocation): Promise<number> {
  noMoreArgs(inv, 1);
  const port = intOption(inv.parsed, "port", "", 0, 65535) ?? 8080;
  const host = stringOption(inv.parsed, "host") ?? "127.0.0.1";
  const token = stringOption(inv.parsed, "token") ?? process.env["CONCORD_SYNC_TOKEN"];
  const { replica, meta } = open(inv);
  const server = createServer(createSyncHandler(replica, token === undefined ? {} : { authorize: bearerAuth(token) }));
  try {
    await new Promise<void>((resolve, reject) => {
      server.once("error", reject);
      server.listen(port, host, resolve);
    });
    const addr = server.address() as AddressInfo;
    printJson({ listening: `http://${host}:${addr.port}/`, node: replica.nodeId, events: await replica.store.count() });
    const signal = inv.interrupts.signal;
    await new Promise<void>((resolve) => (signal.aborted ? resolve() : signal.addEventListener("abort", () => resolve(), { once: true })));
    return 0;
  } finally {
    server.closeAllConnections();
    await new Promise((r) => server.close(r));
    await replica.close();
    meta.close();
  }
}

async function client(inv: Invocation): Promise<number> {
  noMoreArgs(inv, 1);
  const peer = stringOption(inv.parsed, "peer");
  if (peer === undefined) throw invalid("--peer", "is required: the URL of a concord sync serve, e.g. --peer http://127.0.0.1:8080/");
  const token = stringOption(inv.parsed, "token") ?? process.env["CONCORD_SYNC_TOKEN"];
  const raw = stringOption(inv.parsed, "append");
  const toAppend = raw === undefined ? undefined : parseAppend(raw);
  const watch = inv.parsed.options.has("watch");
  const intervalMs = intOption(inv.parsed, "interval", "milliseconds", 1) ?? 5_000;
  const { replica, meta } = open(inv);
  const transport = new HttpTransport(peer, token === undefined ? {} : { token });
  const manager = new SyncManager(replica, transport, { cursorStore: meta, peer, intervalMs, live: watch });
  try {
    if (toAppend) {
      const e = await replica.append(toAppend);
      printJson({ appended: e.id, node: replica.nodeId, aggregateId: e.aggregateId });
    }
    if (!watch) {
      const r = await manager.sync();
      const show = stringOption(inv.parsed, "show");
      const state = show === undefined ? {} : { state: (await replica.state(show)) ?? null };
      printJson({ ...summary(r), node: replica.nodeId, events: await replica.store.count(), ...state });
      return r.errors.length === 0 ? 0 : 1;
    }
    manager.subscribe((r) => {
      if (r.pushed + r.pulled + r.conflicts + r.errors.length > 0) printJson(summary(r));
      for (const e of r.errors) note(`${e.code}: ${e.message}`);
    });
    manager.start();
    const signal = inv.interrupts.signal;
    await new Promise<void>((resolve) => (signal.aborted ? resolve() : signal.addEventListener("abort", () => resolve(), { once: true })));
    return 0;
  } finally {
    await manager.close();
    await transport.close();
    await replica.close();
    meta.close();
  }
}

/** `concord sync serve …` / `concord sync client …` */
export const syncCommand: Command = {
  name: "sync",
  summary: "serve or sync an offline-first event log (SQLite) over HTTP",
  options: ["db", "port", "host", "token", "peer", "append", "watch", "node", "interval", "show"],
  usage: `concord sync serve --db PATH [--port N] [--host H] [--token T] [--node ID]
concord sync client --db PATH --peer URL [--token T] [--append TYPE:AGG:JSON] [--show AGG] [--watch] [--interval MS] [--node ID]

serve: serves the events in the SQLite file PATH to peers (push, pull, live stream) on
127.0.0.1:8080 (--port 0 picks a free port); prints {"listening": URL, …} and runs until interrupted.
--token (or $CONCORD_SYNC_TOKEN) requires "Authorization: Bearer T".

client: optionally appends one event to the local file, then syncs with the peer both ways and
prints {"pushed", "pulled", "conflicts", "errors", "events"} (and "state" of aggregate AGG with
--show: its events folded, concurrent writes decided by last-writer-wins); exit 1 if the round failed. With
--watch it keeps syncing every --interval ms (default 5000) and receives the peer's new events live,
printing one line per change, until interrupted. Cursors and the node id live in the same file,
so writing offline and running client again later sends only what is new.`,
  async run(inv) {
    const sub = inv.args[0];
    if (sub === "serve") return serve(inv);
    if (sub === "client") return client(inv);
    throw invalid("operation", `expected concord sync serve or concord sync client, got ${JSON.stringify(sub ?? "")}`);
  },
};
