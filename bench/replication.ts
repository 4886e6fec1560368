/**
 * Replication benchmark (issue 6), Concord beside PouchDB in one run:
 *
 * - Concord: N small events pushed from node A to node B over loopback HTTP (HttpTransport ->
 *   createSyncHandler), SQLite (WAL) on both sides, each node its own process.
 * - PouchDB 9: N small docs replicated between two databases of the memory adapter in one process
 *   (faster for PouchDB than its HTTP or LevelDB paths, so the comparison is the kindest to it).
 * - Live stream latency: events appended on B reach A's store through the SSE stream; p50 / p99.
 *
 * Usage: npx tsx bench/replication.ts [N=100000] [concordBatch=2000] [pouchBatch=1000] [liveEvents=300]
 * Writes bench/results/replication.json.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { cpus, tmpdir } from "node:os";
import { join } from "node:path";
import { createInterface, type Interface } from "node:readline";
import { fileURLToPath } from "node:url";

const CHILD = fileURLToPath(new URL("./replication-child.ts", import.meta.url));
const [n = 100_000, concordBatch = 2000, pouchBatch = 1000, liveEvents = 300] = process.argv.slice(2).map(Number);

interface Child {
  proc: ChildProcess;
  next(): Promise<Record<string, number>>;
  send(line: string): void;
}

function child(args: string[]): Child {
  const proc = spawn(process.execPath, ["--import", "tsx", CHILD, ...args], { stdio: ["pipe", "pipe", "inherit"] });
  const rl: Interface = createInterface({ input: proc.stdout! });
  const queue: string[] = [];
  const waiting: ((l: string) => void)[] = [];
  rl.on("line", (l) => {
    const w = waiting.shift();
    if (w) w(l);
    else queue.push(l);
  });
  return {
    proc,
    next: () =>
      new Promise((resolve, reject) => {
        const q = queue.shift();
        if (q !== undefined) return resolve(JSON.parse(q) as Record<string, number>);
        waiting.push((l) => resolve(JSON.parse(l) as Record<string, number>));
        proc.once("exit", (code) => reject(new Error(`${args[0]} exited with ${code}`)));
      }),
    send: (l) => proc.stdin!.write(`${l}\n`),
  };
}

const mb = (b: number): number => Math.round((b / 1024 / 1024) * 10) / 10;
const dir = mkdtempSync(join(tmpdir(), "concord-bench-repl-"));
try {
  console.log(`replicating ${n} events: Concord over loopback HTTP, SQLite both sides (batch ${concordBatch})`);
  const server = child(["server", join(dir, "b.db")]);
  const { port } = await server.next();
  const client = child(["client", join(dir, "a.db"), `http://127.0.0.1:${port}/`, String(n), String(concordBatch)]);
  const bulk = await client.next();
  server.send("rss");
  const serverRss = (await server.next())["rss"]!;
  const concordRate = n / bulk["seconds"]!;
  console.log(`  concord: ${bulk["seconds"]!.toFixed(2)} s, ${Math.round(concordRate)} events/s, peak RSS A ${mb(bulk["rss"]!)} MB, B ${mb(serverRss)} MB`);

  await client.next(); // streaming
  server.send(`append ${liveEvents} 10`);
  await server.next();
  client.send(`latency ${liveEvents}`);
  const lat = await client.next();
  console.log(`  live stream: p50 ${lat["p50"]!.toFixed(2)} ms, p99 ${lat["p99"]!.toFixed(2)} ms (${lat["n"]} events, max ${lat["max"]!.toFixed(2)} ms)`);
  server.proc.kill("SIGTERM");

  console.log(`replicating ${n} docs: PouchDB memory adapter, in-process (batch_size ${pouchBatch})`);
  const pouch = child(["pouch", String(n), String(pouchBatch)]);
  const p = await pouch.next();
  const pouchRate = n / p["seconds"]!;
  console.log(`  pouchdb: ${p["seconds"]!.toFixed(2)} s, ${Math.round(pouchRate)} docs/s, peak RSS ${mb(p["rss"]!)} MB`);
  const ratio = concordRate / pouchRate;
  console.log(`  ratio concord / pouchdb: ${ratio.toFixed(2)}x (target >= 3x); live p99 target < 50 ms`);

  const results = {
    date: new Date().toISOString(),
    node: process.version,
    cpus: cpus().length,
    events: n,
    concord: {
      transport: "HTTP loopback, SQLite (WAL) both sides, separate processes",
      batchSize: concordBatch,
      seconds: bulk["seconds"],
      eventsPerSecond: Math.round(concordRate),
      peakRssMB: { client: mb(bulk["rss"]!), server: mb(serverRss) },
    },
    pouchdb: { adapter: "memory", replication: "in-process", batchSize: pouchBatch, seconds: p["seconds"], docsPerSecond: Math.round(pouchRate), peakRssMB: mb(p["rss"]!) },
    ratio: Math.round(ratio * 100) / 100,
    liveStream: { events: lat["n"], p50Ms: Math.round(lat["p50"]! * 100) / 100, p99Ms: Math.round(lat["p99"]! * 100) / 100, maxMs: Math.round(lat["max"]! * 100) / 100 },
    targets: { ratioAtLeast: 3, liveP99BelowMs: 50 },
  };
  mkdirSync(fileURLToPath(new URL("./results/", import.meta.url)), { recursive: true });
  writeFileSync(fileURLToPath(new URL("./results/replication.json", import.meta.url)), `${JSON.stringify(results, null, 2)}\n`);
  console.log("wrote bench/results/replication.json");
} finally {
  rmSync(dir, { recursive: true, force: true });
}
