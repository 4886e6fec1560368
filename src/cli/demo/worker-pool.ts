import { type ChildProcess, spawn } from "node:child_process";
import { createInterface } from "node:readline";

/** How to start the demo's workers. */
export interface PoolOptions {
  /** The store URL, passed in the environment (CONCORD_STORE) so credentials never show in `ps`. */
  readonly store: string;
  readonly namespace: string;
  readonly ttlMs: number;
  /** A worker stops by itself after this many seconds, even if it is never told to. */
  readonly lifetimeS: number;
  /** Receives each line a worker prints. */
  readonly output: (line: string) => void;
}

interface Worker {
  readonly id: string;
  readonly process: ChildProcess;
  readonly exited: Promise<void>;
  alive: boolean;
}

/**
 * The demo's worker processes: the same CLI (same Node, same execArgv, so it works under tsx)
 * running the hidden `demo-worker` command. Every worker is killed when the pool stops or this
 * process exits, and each also stops by itself when its IPC channel to us closes.
 */
export class WorkerPool {
  readonly #opts: PoolOptions;
  readonly #workers = new Map<string, Worker>();
  readonly #onExit = (): void => this.#killAll("SIGKILL");

  constructor(opts: PoolOptions) {
    this.#opts = opts;
    process.on("exit", this.#onExit);
  }

  /** Starts a worker named `id`. */
  spawn(id: string): void {
    const o = this.#opts;
    const script = process.argv[1]!;
    const args = [...process.execArgv, script, "demo-worker", "--id", id, "--namespace", o.namespace, "--ttl", String(o.ttlMs), "--duration", String(o.lifetimeS)];
    const child = spawn(process.execPath, args, {
      stdio: ["ignore", "pipe", "pipe", "ipc"],
      env: { ...process.env, CONCORD_STORE: o.store },
    });
    const exited = new Promise<void>((resolve) => {
      // "close", not "exit": it comes after the worker's last output lines have been read.
      child.once("close", () => resolve());
      child.once("error", () => resolve());
    }).then(() => {
      w.alive = false;
    });
    const w: Worker = { id, process: child, exited, alive: true };
    for (const stream of [child.stdout, child.stderr]) {
      if (stream) createInterface({ input: stream }).on("line", (line) => o.output(line));
    }
    this.#workers.set(id, w);
  }

  /** The pid of a live worker, or undefined. */
  pid(id: string): number | undefined {
    const w = this.#workers.get(id);
    return w?.alive ? w.process.pid : undefined;
  }

  /** Sends `signal` to the worker `id` and resolves once it has exited; false if it was not running. */
  async kill(id: string, signal: NodeJS.Signals): Promise<boolean> {
    const w = this.#workers.get(id);
    if (!w?.alive) return false;
    w.process.kill(signal);
    await w.exited;
    return true;
  }

  /** Asks every worker to stop (SIGTERM), SIGKILLs those still running after `graceMs`, and waits for all. */
  async stop(graceMs: number): Promise<void> {
    this.#killAll("SIGTERM");
    const all = Promise.all([...this.#workers.values()].map((w) => w.exited));
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<"late">((r) => {
      timer = setTimeout(() => r("late"), graceMs);
    });
    if ((await Promise.race([all, late])) === "late") this.#killAll("SIGKILL");
    clearTimeout(timer);
    await all;
    process.off("exit", this.#onExit);
  }

  #killAll(signal: NodeJS.Signals): void {
    for (const w of this.#workers.values()) {
      if (!w.alive) continue;
      try {
        w.process.kill(signal);
      } catch {
        // already gone
      }
    }
  }
}
