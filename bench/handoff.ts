import { type ChildProcess, execFile, fork } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { cpus, tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import pg from "pg";
import { type Concord, connect } from "../src/index.js";
import { fmt, monotonicMs, percentile, type Row } from "./stats.js";
import { type Counts, countedClient, type Hold, notifierWaits, WaiterGroup } from "./waiters.js";

const run = promisify(execFile);
const CHILD = fileURLToPath(new URL("./handoff-child.ts", import.meta.url));

interface Result {
  acquisitions: number;
  handoffs: number;
  handoffsPerSec: number;
  p50: number;
  p99: number;
}

async function contend(kind: "concord" | "proper-lockfile", durationMs: number): Promise<Result> {
  const dir = mkdtempSync(join(tmpdir(), "concord-bench-"));
  const target = kind === "concord" ? join(dir, "state.db") : join(dir, "resource");
  if (kind === "proper-lockfile") writeFileSync(target, "");
  const startAt = monotonicMs() + 1500; // both children past start-up before the clock starts
  try {
    const outs = await Promise.all(
      [0, 1].map(() => run(process.execPath, ["--import", "tsx", CHILD, kind, target, String(durationMs), String(startAt)], { maxBuffer: 64 << 20 })),
    );
    const all = outs.flatMap((o, who) => (JSON.parse(o.stdout) as { holds: Array<[number, number]> }).holds.map(([a, r]) => ({ who, a, r })));
    all.sort((x, y) => x.a - y.a);
    const lat: number[] = [];
    for (let i = 1; i < all.length; i++) if (all[i]!.who !== all[i - 1]!.who) lat.push(all[i]!.a - all[i - 1]!.r);
    return { acquisitions: all.length, handoffs: lat.length, handoffsPerSec: lat.length / (durationMs / 1000), p50: percentile(lat, 50), p99: percentile(lat, 99) };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Two processes handing one lock back and forth: Concord on SQLite beside proper-lockfile. */
export async function benchHandoff(durationMs: number): Promise<Row[]> {
  const concord = await contend("concord", durationMs);
  const peer = await contend("proper-lockfile", durationMs);
  const ratio = concord.handoffsPerSec / Math.max(peer.handoffsPerSec, 1e-9);
  return [
    {
      benchmark: "cross-process lock hand-offs, 2 processes",
      unit: "hand-offs/s",
      concord: concord.handoffsPerSec,
      peer: peer.handoffsPerSec,
      peerName: "proper-lockfile",
      ratio,
      target: ">= 10x",
      met: ratio >= 10,
      note: `acquisitions: concord ${concord.acquisitions}, proper-lockfile ${peer.acquisitions}; hand-offs ${concord.handoffs} vs ${peer.handoffs}`,
    },
    {
      benchmark: "cross-process lock hand-off latency p50",
      unit: "ms",
      concord: concord.p50,
      peer: peer.p50,
      peerName: "proper-lockfile",
      ratio: peer.p50 / concord.p50,
      target: "< 2 ms",
      met: concord.p50 < 2,
      note: `p99 ${fmt(concord.p99, 2)} ms vs ${fmt(peer.p99, 2)} ms`,
    },
  ];
}

// ---------------------------------------------------------------------------------------------
// Hand-off flatness: does a release wake only the next waiter, whatever the depth of the queue?

/** Where a share of the waiters runs: a child process (one client each) or, for memory, this process. */
interface Participant {
  readonly ready: Promise<void>;
  start(url: string, name: string, count: number, holdMs: number, spreadMs: number, onHolds: (hs: Hold[]) => void): Promise<void>;
  mark(): void;
  stop(): Promise<{ counts: Counts; holds: number }>;
  exit(): void;
}

class ChildParticipant implements Participant {
  readonly #child: ChildProcess;
  readonly ready: Promise<void>;
  #onHolds: (hs: Hold[]) => void = () => undefined;
  #waiting: ((m: { ev: string; counts?: Counts; holds?: number }) => void) | undefined;

  constructor() {
    this.#child = fork(CHILD, ["waiters"], { execArgv: ["--import", "tsx"], stdio: ["ignore", "inherit", "inherit", "ipc"] });
    this.ready = this.#reply().then(() => undefined);
    this.#child.on("message", (m: { ev: string; holds?: Hold[] | number; counts?: Counts }) => {
      if (m.ev === "holds") this.#onHolds(m.holds as Hold[]);
      else this.#waiting?.(m as { ev: string; counts?: Counts; holds?: number });
    });
  }

  #reply(): Promise<{ ev: string; counts?: Counts; holds?: number }> {
    return new Promise((resolve) => (this.#waiting = resolve));
  }

  async start(url: string, name: string, count: number, holdMs: number, spreadMs: number, onHolds: (hs: Hold[]) => void): Promise<void> {
    this.#onHolds = onHolds;
    const r = this.#reply();
    this.#child.send({ cmd: "start", url, name, count, holdMs, spreadMs });
    await r;
  }

  mark(): void {
    this.#child.send({ cmd: "mark" });
  }

  async stop(): Promise<{ counts: Counts; holds: number }> {
    const r = this.#reply();
    this.#child.send({ cmd: "stop" });
    const m = await r;
    return { counts: m.counts!, holds: m.holds! };
  }

  exit(): void {
    if (this.#child.connected) this.#child.send({ cmd: "exit" });
  }
}

/** The memory engine lives in one process: its waiters run here, one client per participant. */
class LocalParticipant implements Participant {
  readonly ready = Promise.resolve();
  #group: WaiterGroup | undefined;
  #counts: Counts = {};
  #mark: { counts: Counts; held: number } = { counts: {}, held: 0 };
  #held = 0;

  async start(url: string, name: string, count: number, holdMs: number, spreadMs: number, onHolds: (hs: Hold[]) => void): Promise<void> {
    const c = await countedClient(url);
    this.#counts = c.counts;
    this.#held = 0;
    this.#group = new WaiterGroup(c.client, name, count, holdMs, (h) => {
      this.#held++;
      onHolds([h]);
    });
    await this.#group.start(spreadMs);
  }

  mark(): void {
    this.#mark = { counts: { ...this.#counts }, held: this.#held };
  }

  async stop(): Promise<{ counts: Counts; holds: number }> {
    const counts: Counts = {};
    for (const [k, v] of Object.entries(this.#counts)) counts[k] = v - (this.#mark.counts[k] ?? 0);
    const holds = this.#held - this.#mark.held;
    await this.#group?.stop();
    return { counts, holds };
  }

  exit(): void {}
}

export interface FlatnessCell {
  engine: string;
  waiters: number;
  processes: number;
  handoffs: number;
  /** ms from release() returning to the next holder's acquire() resolving. */
  p50: number;
  p99: number;
  /** ms from release() being called to the next holder's acquire() resolving. */
  p50FromCall: number;
  p99FromCall: number;
  /** Driver range reads per hand-off, every process together (the woken waiter's look at the queue). */
  readsPerHandoff: number;
  /** Every driver call per hand-off but keep-alives and clock reads: release, re-join, reads. */
  callsPerHandoff: number;
  /** `Notifier.wait()` calls per hand-off, every process together: waiter wake-ups plus one per client watch loop per event. */
  wakeupsPerHandoff: number;
  /** Hand-offs where the next acquire resolved before release() was called, or the token went down: must be 0. */
  violations: number;
  setupMs: number;
  /** Waiters queued behind the holder, sampled every ~200 ms while measuring: the least and the median. */
  depthMin: number;
  depthMedian: number;
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
/**
 * How long each holder keeps the lock: longer than a release and a re-join take, so the one before
 * it is back in the queue before it lets go (on etcd a release waits for its deletion to come back
 * on the watch, some 30 ms on the 3-member cluster here).
 */
const HOLD_MS: Record<string, number> = { etcd: 60, postgres: 30 };
/** The longest a cell measures, whatever number of hand-offs it has reached. */
const MEASURE_MAX_MS = 15_000;

async function until(what: string, ok: () => boolean | Promise<boolean>, timeoutMs: number, everyMs = 20): Promise<void> {
  const deadline = monotonicMs() + timeoutMs;
  while (!(await ok())) {
    if (monotonicMs() > deadline) throw new Error(`hand-off bench: timed out waiting for ${what}`);
    await sleep(everyMs);
  }
}

/**
 * `waiters + 1` clients' waiters loop on one lock (spread round-robin over `parts`), so one holds
 * and `waiters` queue behind it at every hand-off; after `warmup` hand-offs, `handoffs` are measured.
 */
async function flatnessCell(engine: string, url: string, gate: Concord, parts: Participant[], waiters: number, handoffs: number, warmup: number): Promise<FlatnessCell> {
  const name = `flat-${waiters}-${Date.now()}`;
  const held = await gate.lock(name).acquire();
  const total = waiters + 1;
  const used = parts.slice(0, Math.min(parts.length, total));
  const shares = used.map((_, i) => Math.floor(total / used.length) + (i < total % used.length ? 1 : 0));
  const holds: Hold[] = [];
  const t0 = monotonicMs();
  await Promise.all(used.map((p, i) => p.start(url, name, shares[i]!, HOLD_MS[engine] ?? 5, waiters >= 1000 ? 10_000 : waiters >= 100 ? 1000 : 0, (hs) => void holds.push(...hs))));
  // Everyone queued behind the gate before the first hand-off, so the queue is `waiters` deep from the start.
  const prefix = `concord/lock/${name}/`;
  // A read of the whole queue; a busy engine may time it out, which only skips this look.
  const depth = (): Promise<number> => gate.driver.range(prefix).then((r) => r.entries.length - 1, () => -1);
  let lastSay = monotonicMs();
  await until(
    `${total} waiters to queue on ${engine}`,
    async () => {
      const queued = await depth();
      if (monotonicMs() - lastSay > 5000) {
        lastSay = monotonicMs();
        console.error(`  ${engine}: ${queued} of ${total} queued after ${fmt(lastSay - t0)} ms`);
      }
      return queued >= total;
    },
    45_000,
    250, // a range of 1,000 keys is not free on the engine: look now and then
  );
  const setupMs = monotonicMs() - t0;
  await held.release();
  await until(`${warmup} warm-up hand-offs on ${engine}`, () => holds.length >= warmup, 15_000);
  for (const p of used) p.mark();
  const localWaits = notifierWaits.n; // memory: the waiters run in this process
  // The queue's depth, sampled while measuring (a reader only: it wakes nobody).
  const depths: number[] = [];
  let sampled = 0;
  const measureFrom = monotonicMs();
  await until(
    `${handoffs} hand-offs on ${engine} with ${waiters} waiters`,
    async () => {
      if (monotonicMs() - sampled > 200) {
        const d = await depth();
        if (d >= 0) depths.push(d);
        sampled = monotonicMs();
      }
      // Bounded in time too: a slow cell reports the hand-offs it got.
      return holds.length >= warmup + handoffs || monotonicMs() - measureFrom > MEASURE_MAX_MS;
    },
    MEASURE_MAX_MS + 10_000,
  );
  const localWaitsDelta = notifierWaits.n - localWaits;
  const stops = await Promise.all(used.map((p) => p.stop()));

  holds.sort((a, b) => a.acq - b.acq);
  const window = holds.slice(warmup, warmup + handoffs + 1);
  const lat: number[] = [];
  const fromCall: number[] = [];
  let violations = 0;
  for (let i = 1; i < window.length; i++) {
    const prev = window[i - 1]!;
    const cur = window[i]!;
    lat.push(cur.acq - prev.relDone);
    fromCall.push(cur.acq - prev.relCall);
    if (cur.acq < prev.relCall || cur.token <= prev.token) violations++;
  }
  const sum = (k: (c: Counts) => number): number => stops.reduce((s, x) => s + k(x.counts), 0);
  const inWindow = stops.reduce((s, x) => s + x.holds, 0);
  const reads = sum((c) => (c.range ?? 0) + (c.get ?? 0));
  const calls = sum((c) => Object.entries(c).reduce((s, [k, v]) => (["keepAlive", "time", "watch", "revision", "notifierWaits"].includes(k) ? s : s + v), 0));
  const waits = sum((c) => c.notifierWaits ?? 0) + (engine === "memory" ? localWaitsDelta : 0);
  return {
    engine,
    waiters,
    processes: used.length,
    handoffs: lat.length,
    p50: percentile(lat, 50),
    p99: percentile(lat, 99),
    p50FromCall: percentile(fromCall, 50),
    p99FromCall: percentile(fromCall, 99),
    readsPerHandoff: reads / Math.max(1, inWindow),
    callsPerHandoff: calls / Math.max(1, inWindow),
    wakeupsPerHandoff: waits / Math.max(1, inWindow),
    violations,
    setupMs,
    depthMin: Math.min(...depths),
    depthMedian: percentile(depths, 50),
  };
}

export interface FlatnessOptions {
  engines: Array<[string, string]>;
  sizes: number[];
  handoffs: number;
  processes: number;
}

/** Runs every engine x queue depth; children are forked once and reused. */
export const failures: Array<{ engine: string; waiters: number; error: string }> = [];

export async function runFlatness(o: FlatnessOptions): Promise<FlatnessCell[]> {
  const cells: FlatnessCell[] = [];
  const children = Array.from({ length: o.processes }, () => new ChildParticipant());
  try {
    await Promise.all(children.map((c) => c.ready)); // no child still compiling while a cell is measured
    for (const [engine, url] of o.engines) {
      const parts: Participant[] = engine === "memory" ? Array.from({ length: o.processes }, () => new LocalParticipant()) : children;
      const gate = await connect(url);
      try {
        for (const n of o.sizes) {
          let cell: FlatnessCell;
          try {
            cell = await flatnessCell(engine, url, gate, parts, n, o.handoffs, 20);
          } catch (e) {
            // Reported, not hidden: the cell is listed as failed and the others still run.
            console.error(`${engine} ${n} waiters: FAILED: ${(e as Error).message}`);
            failures.push({ engine, waiters: n, error: (e as Error).message });
            await Promise.all(parts.map((p) => p.stop().catch(() => undefined)));
            continue;
          }
          cells.push(cell);
          console.error(
            `${engine} ${n} waiters (depth min ${cell.depthMin}, median ${cell.depthMedian}): p50 ${fmt(cell.p50, 2)} p99 ${fmt(cell.p99, 2)} ms, reads/hand-off ${fmt(cell.readsPerHandoff, 2)}, calls/hand-off ${fmt(cell.callsPerHandoff, 2)}, waits/hand-off ${fmt(cell.wakeupsPerHandoff, 1)}, setup ${fmt(cell.setupMs)} ms`,
          );
        }
      } finally {
        await gate.close();
      }
    }
  } finally {
    for (const c of children) c.exit();
  }
  return cells;
}

/** Rows for bench/run.ts: per engine, p50 hand-off at the deepest queue beside the shallowest. */
export function flatnessRows(cells: FlatnessCell[]): Row[] {
  const engines = [...new Set([...cells.map((c) => c.engine), ...failures.map((f) => f.engine)])];
  return engines.map((engine) => {
    const mine = cells.filter((c) => c.engine === engine).sort((a, b) => a.waiters - b.waiters);
    const failed = failures.filter((f) => f.engine === engine);
    const lo = mine[0];
    const hi = mine[mine.length - 1];
    if (!lo || !hi || failed.length > 0) {
      return {
        benchmark: `${engine} lock hand-off p50, deepest vs 1 waiter`,
        unit: "ms",
        concord: hi?.p50FromCall ?? Number.NaN,
        peer: lo?.p50FromCall,
        peerName: `${lo?.waiters ?? "-"} waiter`,
        ratio: undefined,
        target: "<= 2x, <= 1.5 reads/hand-off",
        met: false,
        note: `failed with ${failed.map((f) => `${f.waiters} waiters: ${f.error}`).join("; ")}`,
      };
    }
    const ratio = hi.p50FromCall / lo.p50FromCall;
    const readsFlat = Math.max(...mine.map((c) => c.readsPerHandoff)) <= 1.5;
    return {
      benchmark: `${engine} lock hand-off p50, ${hi.waiters} vs ${lo.waiters} waiter(s)`,
      unit: "ms",
      concord: hi.p50FromCall,
      peer: lo.p50FromCall,
      peerName: `${lo.waiters} waiter`,
      ratio,
      target: "<= 2x, <= 1.5 reads/hand-off",
      met: ratio <= 2 && readsFlat && mine.every((c) => c.violations === 0),
      note: mine.map((c) => `${c.waiters}: p50 ${fmt(c.p50FromCall, 2)} p99 ${fmt(c.p99FromCall, 2)} ms, ${fmt(c.readsPerHandoff, 2)} reads/hand-off`).join("; "),
    };
  });
}

function table(cells: FlatnessCell[]): string {
  const lines = [
    "| engine | waiters | queue depth min/median | processes | hand-offs | p50 ms | p99 ms | p50 from release() call | p99 from call | reads/hand-off | calls/hand-off | wake-ups/hand-off | violations |",
    "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |",
  ];
  for (const c of cells) {
    lines.push(
      `| ${c.engine} | ${fmt(c.waiters)} | ${c.depthMin}/${c.depthMedian} | ${c.processes} | ${c.handoffs} | ${fmt(c.p50, 2)} | ${fmt(c.p99, 2)} | ${fmt(c.p50FromCall, 2)} | ${fmt(c.p99FromCall, 2)} | ${fmt(c.readsPerHandoff, 2)} | ${fmt(c.callsPerHandoff, 2)} | ${fmt(c.wakeupsPerHandoff, 1)} | ${c.violations} |`,
    );
  }
  lines.push("", "| engine | deepest:1 waiters | p50 ratio (from return) | p99 ratio (from return) | p50 ratio (from call) |", "| --- | --- | --- | --- | --- |");
  for (const engine of [...new Set(cells.map((c) => c.engine))]) {
    const mine = cells.filter((c) => c.engine === engine).sort((a, b) => a.waiters - b.waiters);
    const lo = mine[0]!;
    const hi = mine[mine.length - 1]!;
    lines.push(`| ${engine} | ${fmt(hi.waiters)}:${fmt(lo.waiters)} | ${fmt(hi.p50 / lo.p50, 2)}x | ${fmt(hi.p99 / lo.p99, 2)}x | ${fmt(hi.p50FromCall / lo.p50FromCall, 2)}x |`);
  }
  return lines.join("\n");
}

async function main(): Promise<void> {
  const only = process.env.ENGINES?.split(",");
  const sizes = (process.env.WAITERS ?? "1,10,100,1000").split(",").map(Number);
  const stamp = Date.now();
  const dir = mkdtempSync(join(tmpdir(), "concord-flat-"));
  const schema = `bench_flat_${stamp}`;
  const all: Array<[string, string]> = [
    ["memory", `memory:flat-${stamp}`],
    ["sqlite", `sqlite:${join(dir, "flat.db")}`],
    ["redis", `redis://127.0.0.1:6379?keyspace=flat-${stamp}`],
    ["postgres", `postgres://postgres@127.0.0.1:5432/test?schema=${schema}`],
    ["etcd", `etcd://127.0.0.1:2379,127.0.0.1:22379,127.0.0.1:32379?keyspace=flat-${stamp}`],
  ];
  const engines = all.filter(([e]) => !only || only.includes(e));
  const processes = Number(process.env.HANDOFF_PROCS ?? 4);
  const handoffs = Number(process.env.HANDOFFS ?? 150);
  const started = monotonicMs();
  try {
    const cells = await runFlatness({ engines, sizes, handoffs, processes });
    console.log(`Node ${process.version}, ${cpus().length} cores; ${processes} processes, ${handoffs} hand-offs per cell\n`);
    console.log(table(cells));
    for (const f of failures) console.log(`- FAILED: ${f.engine} with ${f.waiters} waiters: ${f.error}`);
    mkdirSync(new URL("./results/", import.meta.url), { recursive: true });
    writeFileSync(
      new URL(`./results/handoff-flatness${only ? `-${only.join("-")}` : ""}.json`, import.meta.url),
      `${JSON.stringify({ node: process.version, processes, handoffs, elapsedMs: monotonicMs() - started, cells, failures }, null, 2)}\n`,
    );
  } finally {
    rmSync(dir, { recursive: true, force: true });
    if (engines.some(([e]) => e === "postgres")) {
      const client = new pg.Client({ connectionString: "postgres://postgres@127.0.0.1:5432/test" });
      await client.connect();
      await client.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
      await client.end();
    }
  }
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) await main();
