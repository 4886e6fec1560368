/**
 * One Jepsen run: a few clients (OS processes; in-process for memory) run the workload of one
 * primitive against one engine while the nemesis injects faults scheduled from a seed; then the
 * history is checked. Used by the bounded runs in the test suite and by the soak command (run.ts).
 */
import { type ChildProcess, spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import { connect, type Concord } from "../../src/index.js";
import { TcpProxy } from "../helpers/tcp-proxy.js";
import { check, type Verdict } from "./checkers.js";
import { type Fault, type History, hrMs, type Line, type Primitive, Recorder, rng } from "./history.js";
import { type PrivateServer, privateEtcd, privatePostgres, privateRedis } from "./servers.js";
import { aborted, runWorkload, type WorkloadConfig } from "./workloads.js";

export const ENGINES = ["memory", "sqlite", "redis", "postgres", "etcd"] as const;
export type EngineName = (typeof ENGINES)[number];

const CLIENT = fileURLToPath(new URL("./client.ts", import.meta.url));
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** The faults each engine can take. SQLite's engine crash is a client process killed mid-write (the `kill` fault). */
const FAULTS: Record<EngineName, string[]> = {
  memory: ["kill"],
  sqlite: ["kill", "pause"],
  redis: ["kill", "pause", "proxy", "restart"],
  postgres: ["kill", "pause", "proxy", "restart"],
  etcd: ["kill", "pause", "proxy", "member"],
};

/**
 * The private servers of one engine, started once and shared by successive runs (each run has a
 * keyspace of its own). Memory and SQLite need none.
 */
export class Servers {
  readonly #started = new Map<EngineName, Promise<PrivateServer>>();

  get(engine: EngineName): Promise<PrivateServer> | undefined {
    if (engine === "memory" || engine === "sqlite") return undefined;
    let s = this.#started.get(engine);
    if (!s) {
      s = engine === "redis" ? privateRedis() : engine === "postgres" ? privatePostgres() : privateEtcd();
      this.#started.set(engine, s);
    }
    return s;
  }

  async stop(): Promise<void> {
    await Promise.all([...this.#started.values()].map(async (s) => (await s.catch(() => undefined))?.stop()));
    this.#started.clear();
  }
}

export interface RunOptions {
  engine: EngineName;
  primitive: Primitive;
  seed: number;
  clients: number;
  durationMs: number;
  /** Faults to inject over the run. */
  faults: number;
  servers: Servers;
  ttlMs?: number;
  /** Most operations per client incarnation. */
  opsPerClient?: number;
  paceMs?: number;
  log?: (line: string) => void;
}

export interface RunResult {
  engine: EngineName;
  primitive: Primitive;
  seed: number;
  history: History;
  verdict: Verdict;
  counts: { ok: number; fail: number; info: number };
  durationMs: number;
}

/** A client incarnation: its number, and how to fault it. */
interface Client {
  n: number;
  quiet(): void;
  stop(): Promise<void>;
  kill(): void;
  pause(): void;
  resume(): void;
  exited: Promise<void>;
}

export async function runOnce(o: RunOptions): Promise<RunResult> {
  const log = o.log ?? (() => undefined);
  const rand = rng(o.seed);
  const ttlMs = o.ttlMs ?? 1000;
  const rec = new Recorder();
  const faults: Fault[] = [];
  const id = randomBytes(6).toString("hex");
  const server = await o.servers.get(o.engine);
  const proxy = server ? await TcpProxy.start(server.ports[0]!) : undefined;
  const origin = hrMs();
  const now = (): number => hrMs() - origin;
  let dir: string | undefined;
  let url: string;
  let directUrl: string;
  switch (o.engine) {
    case "memory":
      url = directUrl = `memory:jepsen-${id}`;
      break;
    case "sqlite":
      dir = mkdtempSync(join(tmpdir(), "concord-jepsen-"));
      url = directUrl = `sqlite:${join(dir, "state.db")}`;
      break;
    case "redis":
      url = `redis://${proxy!.address}?keyspace=jepsen-${id}`;
      directUrl = `redis://127.0.0.1:${server!.ports[0]}?keyspace=jepsen-${id}`;
      break;
    case "postgres":
      url = `postgres://postgres@${proxy!.address}/postgres?schema=j_${id}`;
      directUrl = `postgres://postgres@127.0.0.1:${server!.ports[0]}/postgres?schema=j_${id}`;
      break;
    case "etcd": {
      const rest = server!.ports.slice(1).map((p) => `127.0.0.1:${p}`);
      url = `etcd://${[proxy!.address, ...rest].join(",")}?keyspace=jepsen-${id}`;
      directUrl = `etcd://${server!.ports.map((p) => `127.0.0.1:${p}`).join(",")}?keyspace=jepsen-${id}`;
      break;
    }
  }
  const name = `j${o.primitive}`;
  let nextClient = 0;
  const config = (): WorkloadConfig => ({
    primitive: o.primitive,
    name,
    client: nextClient++,
    seed: Math.floor(rand() * 2 ** 31),
    ops: o.opsPerClient ?? Number.MAX_SAFE_INTEGER,
    origin,
    keys: 3,
    ttlMs,
    opTimeoutMs: 2500,
    paceMs: o.paceMs ?? 10,
  });

  log(`${o.engine} ${o.primitive}: seed ${o.seed}, ${o.clients} clients, ${o.durationMs} ms, ${o.faults} faults`);
  const start = (): Client => (o.engine === "memory" ? inProcess(url, config(), rec) : processClient(url, config(), rec));
  const live: Client[] = [];
  for (let i = 0; i < o.clients; i++) live.push(start());
  // Process start-up (tsx, connecting) takes seconds on a loaded machine: the run's clock starts when every client is in.
  const readyBy = Date.now() + 60_000;
  while (rec.notes.filter((n) => n.kind === "ready").length < o.clients) {
    if (Date.now() > readyBy) throw new Error(`${o.engine} ${o.primitive}: the clients did not connect within 60 s`);
    await sleep(20);
  }
  const t0 = now();
  log(`  clients ready at ${t0.toFixed(0)} ms`);

  // ---- nemesis: faults at random times in the first 80 % of the run, one at a time ----
  const kinds = FAULTS[o.engine];
  const nemesis = (async () => {
    const slot = (o.durationMs * 0.8) / Math.max(1, o.faults);
    for (let k = 0; k < o.faults; k++) {
      const at = t0 + k * slot + rand() * slot * 0.5 + 100;
      if (at > now()) await sleep(at - now());
      const kind = kinds[Math.floor(rand() * kinds.length)]!;
      const victim = live[Math.floor(rand() * live.length)]!;
      const begin = now();
      let target = `client ${victim.n}`;
      switch (kind) {
        case "kill": {
          victim.kill();
          await Promise.race([victim.exited, sleep(2000)]);
          await sleep(50 + rand() * 250);
          live.splice(live.indexOf(victim), 1, start());
          break;
        }
        case "pause":
          victim.pause();
          await sleep(ttlMs + 300 + rand() * 700);
          victim.resume();
          break;
        case "proxy": {
          const mode = ["drop", "stall", "reset"][Math.floor(rand() * 3)]!;
          target = `proxy ${mode}`;
          const hold = 300 + rand() * 1200;
          if (mode === "drop") {
            proxy!.drop();
            await sleep(hold);
            // The bytes are gone, so the streams are broken: cut them before traffic passes again.
            proxy!.reset();
            proxy!.pass();
          } else if (mode === "stall") {
            proxy!.stall();
            await sleep(hold);
            proxy!.pass();
          } else {
            proxy!.refuse();
            proxy!.reset();
            await sleep(hold * 0.3);
            proxy!.pass();
          }
          break;
        }
        case "restart":
          target = `${o.engine} server`;
          await server!.restart(200 + rand() * 600);
          break;
        case "member": {
          const m = Math.floor(rand() * 3);
          target = `etcd member ${m}`;
          await server!.restart(300 + rand() * 1200, m);
          break;
        }
      }
      const f = { kind, target, start: begin, end: now() };
      faults.push(f);
      log(`  fault ${kind} on ${target} from ${f.start.toFixed(0)} to ${f.end.toFixed(0)} ms`);
    }
  })();
  await sleep(o.durationMs);
  await nemesis;
  if (rec.ops.every((op) => op.outcome !== "ok")) log(`  no operation succeeded`);
  for (const c of live) c.quiet();
  let final: Record<string, unknown> | undefined;
  if (o.primitive === "tasks") {
    // A client told to be quiet in the middle of an operation (or of the pause before one) still
    // submits that task: drain only once every client has said it submits no more, or the drain
    // reads the ids before the last submits land and reports their tasks lost (seed 4257, sqlite).
    if (!(await allDone(rec, live.map((c) => c.n), 15_000))) log(`  a client did not finish its operations within 15 s`);
    final = await drainTasks(directUrl, name, rec);
  }
  log(`  quiet at ${now().toFixed(0)} ms`);
  await Promise.all(live.map((c) => c.stop()));
  log(`  stopped at ${now().toFixed(0)} ms`);
  await proxy?.close();
  if (dir) rmSync(dir, { recursive: true, force: true });

  const history: History = { ops: rec.ops, notes: rec.notes, faults, ...(final ? { final } : {}) };
  const verdict = check(o.primitive, history);
  const counts = { ok: 0, fail: 0, info: 0 };
  for (const op of rec.ops) counts[op.outcome]++;
  return { engine: o.engine, primitive: o.primitive, seed: o.seed, history, verdict, counts, durationMs: now() };
}

/** Waits until each of `clients` has noted "done" (its operations are over); false if `ms` passed first. */
async function allDone(rec: Recorder, clients: number[], ms: number): Promise<boolean> {
  const deadline = Date.now() + ms;
  const done = (): boolean => clients.every((n) => rec.notes.some((x) => x.kind === "done" && x.client === n));
  while (!done()) {
    if (Date.now() > deadline) return false;
    await sleep(20);
  }
  return true;
}

/** Lets the workers finish every task (faults are healed by now), then reads each id's record. */
async function drainTasks(url: string, name: string, rec: Recorder): Promise<Record<string, unknown>> {
  const c = await connect(url, { ttlMs: 2000 });
  try {
    const q = c.tasks(name);
    const deadline = Date.now() + 30_000;
    for (;;) {
      const s = await q.stats();
      if (s.waiting + s.delayed + s.active === 0 || Date.now() > deadline) break;
      await sleep(100);
    }
    const ids = new Set(rec.ops.filter((op) => op.f === "submit").map((op) => op.input["id"] as string));
    const tasks: Record<string, unknown> = {};
    for (const id of ids) {
      const r = await q.get(id);
      tasks[id] = r ? { state: r.state, attempt: r.attempt, createdAt: r.createdAt } : null;
    }
    const s = await q.stats();
    return { tasks, total: s.waiting + s.delayed + s.active + s.done + s.failed, stats: s };
  } finally {
    await c.close();
  }
}

/** A client in an OS process of its own. */
function processClient(url: string, cfg: WorkloadConfig, rec: Recorder): Client {
  const child: ChildProcess = spawn(process.execPath, ["--import", "tsx", CLIENT, JSON.stringify({ ...cfg, url })], {
    stdio: ["pipe", "pipe", "inherit"],
  });
  child.stdin!.on("error", () => undefined);
  createInterface({ input: child.stdout! }).on("line", (l) => {
    try {
      rec.add(JSON.parse(l) as Line);
    } catch {
      // not one of ours (a library's stray output)
    }
  });
  const exited = new Promise<void>((r) => child.once("exit", () => r()));
  const send = (l: string): void => {
    if (child.exitCode === null && child.signalCode === null) child.stdin!.write(`${l}\n`);
  };
  return {
    n: cfg.client,
    exited,
    quiet: () => send("quiet"),
    kill: () => child.kill("SIGKILL"),
    pause: () => child.kill("SIGSTOP"),
    resume: () => child.kill("SIGCONT"),
    async stop() {
      child.kill("SIGCONT");
      send("stop");
      await Promise.race([exited, sleep(8000)]);
      if (child.exitCode === null && child.signalCode === null) {
        child.kill("SIGKILL");
        await exited;
      }
    },
  };
}

/** A memory client: in this process (the memory engine does not span processes). A kill closes it at once and forgets what it says after. */
function inProcess(url: string, cfg: WorkloadConfig, rec: Recorder): Client {
  const quiet = new AbortController();
  const stop = new AbortController();
  let dead = false;
  let client: Concord | undefined;
  const emit = (l: Line): void => {
    if (!dead) rec.add(l);
  };
  const exited = (async () => {
    client = await connect(url, { ttlMs: cfg.ttlMs, id: `c${cfg.client}` });
    emit({ t: "note", client: cfg.client, kind: "ready", at: hrMs() - cfg.origin });
    await runWorkload(client, cfg, emit, quiet.signal, stop.signal).catch(() => undefined);
    await aborted(stop.signal);
    await client.close();
  })();
  return {
    n: cfg.client,
    exited,
    quiet: () => quiet.abort(),
    kill() {
      dead = true;
      quiet.abort();
      stop.abort();
      void client?.close();
    },
    pause: () => undefined,
    resume: () => undefined,
    async stop() {
      quiet.abort();
      stop.abort();
      await Promise.race([exited, sleep(8000)]);
    },
  };
}
