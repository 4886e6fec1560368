/**
 * Leader failover after SIGKILL of the leader: a leader process is killed, a candidate waiting in
 * another process takes over. Measures kill -> new leader's campaign() resolving, on every engine
 * whose clients can live in separate processes, beside the etcd3 package's own Election.
 * Usage: npx tsx bench/failover.ts (ENGINES=sqlite,redis,postgres,etcd,etcd3 REPS=5)
 */
import { type ChildProcess, spawn } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { cpus, tmpdir } from "node:os";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import { Etcd3 } from "etcd3";
import pg from "pg";
import { connect } from "../src/index.js";
import { fmt, monotonicMs, percentile, type Row } from "./stats.js";

const CHILD = fileURLToPath(new URL("./failover-child.ts", import.meta.url));
const HOSTS = ["127.0.0.1:2379", "127.0.0.1:22379", "127.0.0.1:32379"];
const MARGIN_MS = 200;

interface Event {
  event: string;
  at?: number;
  ttlMs?: number;
  reads?: number;
  term?: number;
  message?: string;
}

/** A candidate process and the events it printed. */
class Candidate {
  readonly proc: ChildProcess;
  readonly #events: Event[] = [];
  #wake: (() => void) | undefined;

  constructor(cfg: object) {
    this.proc = spawn(process.execPath, ["--import", "tsx", CHILD, JSON.stringify(cfg)], { stdio: ["pipe", "pipe", "inherit"] });
    createInterface({ input: this.proc.stdout! }).on("line", (l) => {
      try {
        this.#events.push(JSON.parse(l) as Event);
      } catch {
        return; // not ours
      }
      this.#wake?.();
    });
  }

  async next(event: string, timeoutMs: number): Promise<Event> {
    const deadline = monotonicMs() + timeoutMs;
    for (;;) {
      const e = this.#events.find((x) => x.event === event || x.event === "error");
      if (e?.event === "error") throw new Error(`failover bench: candidate failed: ${e.message}`);
      if (e) return e;
      const left = deadline - monotonicMs();
      if (left <= 0) throw new Error(`failover bench: no ${event} within ${timeoutMs} ms`);
      await new Promise<void>((r) => {
        const t = setTimeout(r, left);
        this.#wake = () => {
          clearTimeout(t);
          r();
        };
      });
    }
  }

  kill(): void {
    this.proc.kill("SIGKILL");
  }
}

export interface FailoverResult {
  engine: string;
  peer: boolean;
  askedTtlMs: number;
  grantedTtlMs: number;
  failoversMs: number[];
  p50: number;
  max: number;
  /** max - granted TTL. */
  marginMs: number;
  pass: boolean;
  /** Engine reads the new leader made while waiting for the old one's lease to go (concord only). */
  readsWhileWaiting: number[];
}

interface Target {
  engine: string;
  cfg: object;
  askedTtlMs: number;
  /** How many candidates are queued. */
  queued(): Promise<number>;
  /** The TTL the engine granted, when the child does not say (etcd3). */
  granted?(): Promise<number>;
  close(): Promise<void>;
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

async function measure(t: Target, reps: number): Promise<FailoverResult> {
  const live: Candidate[] = [];
  const failovers: number[] = [];
  const reads: number[] = [];
  let granted: number;
  try {
    let leader = new Candidate(t.cfg);
    live.push(leader);
    const first = await leader.next("elected", 30_000);
    granted = first.ttlMs ?? (await t.granted!());
    for (let i = 0; i < reps; i++) {
      const cand = new Candidate(t.cfg);
      live.push(cand);
      await cand.next("campaigning", 30_000);
      const deadline = monotonicMs() + 20_000;
      while ((await t.queued()) < 2) {
        if (monotonicMs() > deadline) throw new Error(`failover bench: ${t.engine} candidate never queued`);
        await sleep(20);
      }
      // Killed at a random point of the leader's keep-alive cycle.
      await sleep(Math.random() * 500);
      const killedAt = monotonicMs();
      leader.kill();
      const elected = await cand.next("elected", granted + 10_000);
      failovers.push(elected.at! - killedAt);
      if (elected.reads !== undefined) reads.push(elected.reads);
      console.error(`${t.engine}: failover ${fmt(elected.at! - killedAt)} ms (granted TTL ${granted} ms)`);
      leader = cand;
    }
  } finally {
    for (const c of live) c.kill();
    await t.close();
  }
  const max = Math.max(...failovers);
  return {
    engine: t.engine,
    peer: t.engine === "etcd3",
    askedTtlMs: t.askedTtlMs,
    grantedTtlMs: granted,
    failoversMs: failovers,
    p50: percentile(failovers, 50),
    max,
    marginMs: max - granted,
    pass: max <= granted + MARGIN_MS,
    readsWhileWaiting: reads,
  };
}

async function concordTarget(engine: string, url: string, ttlMs: number, cleanup: () => Promise<void> = async () => undefined): Promise<Target> {
  const name = `failover-${Date.now()}`;
  const c = await connect(url);
  const election = c.election(name);
  return {
    engine,
    cfg: { kind: "concord", url, name, ttlMs },
    askedTtlMs: ttlMs,
    queued: async () => (await election.candidates()).length,
    close: async () => {
      await c.close();
      await cleanup();
    },
  };
}

function etcd3Target(ttlSec: number): Target {
  const name = `concord-bench-failover-${Date.now()}`;
  const etcd = new Etcd3({ hosts: HOSTS.map((h) => `http://${h}`) });
  const prefix = `election/${name}/`;
  return {
    engine: "etcd3",
    cfg: { kind: "etcd3", hosts: HOSTS, name, ttlSec },
    askedTtlMs: ttlSec * 1000,
    queued: async () => (await etcd.getAll().prefix(prefix).keys()).length,
    granted: async () => {
      const kv = (await etcd.getAll().prefix(prefix).exec()).kvs[0];
      const ttl = await etcd.leaseClient.leaseTimeToLive({ ID: kv!.lease });
      return Number(ttl.grantedTTL) * 1000;
    },
    close: async () => {
      await etcd.delete().prefix(prefix);
      etcd.close();
    },
  };
}

/** Rows for bench/run.ts: per engine, the worst failover beside the granted TTL. */
export function failoverRows(results: FailoverResult[]): Row[] {
  const peer = results.find((r) => r.peer);
  return results
    .filter((r) => !r.peer)
    .map((r) => ({
      benchmark: `${r.engine} leader failover after SIGKILL, max of ${r.failoversMs.length} (TTL ${r.grantedTtlMs} ms)`,
      unit: "ms",
      concord: r.max,
      peer: r.engine === "etcd" && peer ? peer.max : undefined,
      peerName: peer ? `etcd3 Election, TTL ${peer.grantedTtlMs} ms` : "-",
      ratio: r.engine === "etcd" && peer ? peer.max / r.max : undefined,
      target: `<= TTL + ${MARGIN_MS} ms`,
      met: r.pass,
      note: `p50 ${fmt(r.p50)} ms, margin over TTL ${fmt(r.marginMs)} ms, reads while waiting ${r.readsWhileWaiting.join("/")}`,
    }));
}

export async function runFailover(engines: string[], reps: number): Promise<FailoverResult[]> {
  const stamp = Date.now();
  const dir = mkdtempSync(join(tmpdir(), "concord-failover-"));
  const schema = `bench_failover_${stamp}`;
  const results: FailoverResult[] = [];
  try {
    for (const engine of engines) {
      let t: Target;
      if (engine === "sqlite") t = await concordTarget(engine, `sqlite:${join(dir, "failover.db")}`, 1000);
      else if (engine === "redis") t = await concordTarget(engine, `redis://127.0.0.1:6379?keyspace=failover-${stamp}`, 1000);
      else if (engine === "postgres") {
        t = await concordTarget(engine, `postgres://postgres@127.0.0.1:5432/test?schema=${schema}`, 1000, async () => {
          const client = new pg.Client({ connectionString: "postgres://postgres@127.0.0.1:5432/test" });
          await client.connect();
          await client.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
          await client.end();
        });
      } else if (engine === "etcd") t = await concordTarget(engine, `etcd://${HOSTS.join(",")}?keyspace=failover-${stamp}`, 1000);
      else if (engine === "etcd3") t = etcd3Target(1);
      else throw new Error(`failover bench: unknown engine ${engine}`);
      results.push(await measure(t, reps));
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  return results;
}

async function main(): Promise<void> {
  const engines = (process.env.ENGINES ?? "sqlite,redis,postgres,etcd,etcd3").split(",");
  const reps = Number(process.env.REPS ?? 5);
  const started = monotonicMs();
  const results = await runFailover(engines, reps);
  console.log(`Node ${process.version}, ${cpus().length} cores; ${reps} SIGKILLs per engine\n`);
  console.log("| engine | TTL asked | TTL granted | failovers ms | p50 ms | max ms | max - TTL | <= TTL + 200 ms | engine reads while waiting |");
  console.log("| --- | --- | --- | --- | --- | --- | --- | --- | --- |");
  for (const r of results) {
    console.log(
      `| ${r.peer ? "etcd3 Election (peer)" : r.engine} | ${r.askedTtlMs} | ${r.grantedTtlMs} | ${r.failoversMs.map((x) => fmt(x)).join(", ")} | ${fmt(r.p50)} | ${fmt(r.max)} | ${fmt(r.marginMs)} | ${r.pass ? "yes" : "NO"} | ${r.readsWhileWaiting.join(", ") || "-"} |`,
    );
  }
  mkdirSync(new URL("./results/", import.meta.url), { recursive: true });
  writeFileSync(new URL("./results/failover.json", import.meta.url), `${JSON.stringify({ node: process.version, reps, elapsedMs: monotonicMs() - started, results }, null, 2)}\n`);
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) await main();
