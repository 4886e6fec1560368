/**
 * One side of bench/replication.ts, in its own process so each side's peak RSS is its own.
 *
 *   server DB             Concord node B: SQLite file DB behind createSyncHandler on a free port.
 *                         Prints {"port"}; on stdin "append N GAPMS" appends N events (data.t = send time),
 *                         "rss" prints {"rss"}.
 *   client DB URL N BATCH Concord node A: fills DB with N small events (untimed), pushes them all to URL
 *                         with SyncManager (timed), prints {"seconds"}; then streams live from URL and on
 *                         stdin "latency N" prints {"p50","p99"} of N live events (append on B -> stored on A).
 *   pouch N BATCH         PouchDB (memory adapter): N small docs in one database (untimed), replicated to a
 *                         second (timed); prints {"seconds","rss"}.
 */
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { createRequire } from "node:module";
import { createInterface } from "node:readline";
import { HttpTransport } from "../src/replication/http/transport.js";
import { createSyncHandler } from "../src/replication/http/handler.js";
import { Replica } from "../src/replication/replica.js";
import { SqliteEventStore } from "../src/replication/stores/sqlite.js";
import { SyncManager } from "../src/replication/sync-manager.js";
import type { ReplicatedEvent } from "../src/replication/types.js";
import { HybridLogicalClock } from "../src/time/hlc.js";

const out = (x: unknown): void => void process.stdout.write(`${JSON.stringify(x)}\n`);
const rss = (): number => process.resourceUsage().maxRSS * 1024;
const lines = createInterface({ input: process.stdin });

async function server(db: string): Promise<void> {
  const replica = new Replica({ nodeId: "b", store: new SqliteEventStore(db) });
  const http = createServer(createSyncHandler(replica));
  await new Promise<void>((r) => http.listen(0, "127.0.0.1", r));
  out({ port: (http.address() as AddressInfo).port });
  for await (const line of lines) {
    const [cmd, a, b] = line.split(" ");
    if (cmd === "rss") out({ rss: rss() });
    if (cmd === "append") {
      for (let i = 0; i < Number(a); i++) {
        await replica.append({ type: "Live", aggregateId: `live-${i % 10}`, data: { t: performance.timeOrigin + performance.now() } });
        await new Promise((r) => setTimeout(r, Number(b)));
      }
      out({ appended: Number(a) });
    }
  }
}

async function client(db: string, url: string, n: number, batch: number): Promise<void> {
  const store = new SqliteEventStore(db);
  const hlc = new HybridLogicalClock("a");
  for (let i = 0; i < n; i += 5000) {
    const page: ReplicatedEvent[] = [];
    for (let j = i; j < Math.min(n, i + 5000); j++) {
      page.push({ id: `a-${j}`, type: "ItemAdded", aggregateId: `cart-${Math.floor(j / 10)}`, data: { sku: `sku-${j % 977}`, qty: j % 7 }, metadata: {}, origin: "a", clock: { a: j + 1 }, hlc: HybridLogicalClock.encode(hlc.now()) });
    }
    await store.append(page);
  }
  const replica = new Replica({ nodeId: "a", store });
  const transport = new HttpTransport(url);
  // One manager does the bulk round and then, started, keeps the live stream: its cursors carry over.
  const live = new SyncManager(replica, transport, { batchSize: batch, live: true, intervalMs: 3_600_000 });
  const t0 = performance.now();
  const r = await live.sync();
  const seconds = (performance.now() - t0) / 1000;
  if (r.errors.length > 0 || r.pushed !== n) throw new Error(`sync failed: ${JSON.stringify(r)}`);
  out({ seconds, pushed: r.pushed, rss: rss() });

  // Live: events appended on B arrive over the stream and are stored here; latency = stored here - appended there.
  const latencies: number[] = [];
  replica.subscribe((events) => {
    const now = performance.timeOrigin + performance.now();
    for (const e of events) if (e.type === "Live") latencies.push(now - (e.data as { t: number }).t);
  });
  live.start();
  await new Promise((r) => setTimeout(r, 500));
  out({ streaming: true });
  for await (const line of lines) {
    const [cmd, a] = line.split(" ");
    if (cmd === "latency") {
      while (latencies.length < Number(a)) await new Promise((r) => setTimeout(r, 20));
      const sorted = [...latencies].sort((x, y) => x - y);
      const q = (p: number): number => sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))]!;
      out({ p50: q(0.5), p99: q(0.99), max: sorted[sorted.length - 1], n: sorted.length });
      await live.stop();
      await transport.close();
      await replica.close();
      process.exit(0);
    }
  }
}

interface PouchDb {
  bulkDocs(docs: object[]): Promise<unknown>;
  info(): Promise<{ doc_count: number }>;
  replicate: { to(target: PouchDb, opts: object): Promise<{ docs_written: number }> };
}
type PouchCtor = { new (name: string, opts: object): PouchDb; plugin(p: unknown): PouchCtor };

async function pouch(n: number, batch: number): Promise<void> {
  const require = createRequire(import.meta.url);
  const PouchDB = (require("pouchdb-core") as PouchCtor).plugin(require("pouchdb-adapter-memory")).plugin(require("pouchdb-replication"));
  const source = new PouchDB("bench-source", { adapter: "memory" });
  const target = new PouchDB("bench-target", { adapter: "memory" });
  for (let i = 0; i < n; i += 5000) {
    const docs: object[] = [];
    for (let j = i; j < Math.min(n, i + 5000); j++) docs.push({ _id: `a-${j}`, type: "ItemAdded", aggregateId: `cart-${Math.floor(j / 10)}`, sku: `sku-${j % 977}`, qty: j % 7 });
    await source.bulkDocs(docs);
  }
  const t0 = performance.now();
  const r = await source.replicate.to(target, { batch_size: batch, batches_limit: 10 });
  const seconds = (performance.now() - t0) / 1000;
  const count = (await target.info()).doc_count;
  if (count !== n) throw new Error(`pouchdb replicated ${count} of ${n} (${r.docs_written} written)`);
  out({ seconds, written: r.docs_written, rss: rss() });
  process.exit(0);
}

const [role, ...args] = process.argv.slice(2);
if (role === "server") await server(args[0]!);
else if (role === "client") await client(args[0]!, args[1]!, Number(args[2]), Number(args[3]));
else if (role === "pouch") await pouch(Number(args[0]), Number(args[1]));
else throw new Error(`unknown role ${role}`);
