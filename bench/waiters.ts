/**
 * Pieces shared by the hand-off flatness benchmark (bench/handoff.ts) and its child processes
 * (bench/handoff-child.ts): a driver that counts the calls made through it, and a group of waiters
 * looping on one lock so that the queue behind the holder keeps its depth.
 */
import { Concord, type Driver, openDriver } from "../src/index.js";
import { Notifier } from "../src/internal/deferred.js";
import { monotonicMs } from "./stats.js";

/**
 * Every `Notifier.wait()` in this process, counted: a lock waiter calls it each time it goes (back)
 * to sleep, so in a window the count is the waiter wake-ups plus one per event for each client's
 * own watch loop. Instrumentation of the benchmark only; nothing in src/ changes.
 */
export const notifierWaits = { n: 0 };
const wait = Notifier.prototype.wait;
Notifier.prototype.wait = function (this: Notifier, ...args: Parameters<Notifier["wait"]>): Promise<void> {
  notifierWaits.n++;
  return wait.apply(this, args);
};

/** Driver calls made through a counting driver, by method name. */
export type Counts = Record<string, number>;

/** `driver`, with every method call counted in `counts` (keep-alives included, reported apart). */
export function countingDriver(driver: Driver): { driver: Driver; counts: Counts } {
  const counts: Counts = {};
  const wrapped = new Proxy(driver, {
    get(target, prop, receiver) {
      const v: unknown = Reflect.get(target, prop, receiver);
      if (typeof v !== "function" || typeof prop !== "string") return v;
      return (...args: unknown[]): unknown => {
        counts[prop] = (counts[prop] ?? 0) + 1;
        return (v as (...a: unknown[]) => unknown).apply(target, args);
      };
    },
  });
  return { driver: wrapped, counts };
}

/** A client whose driver calls are counted. */
export async function countedClient(url: string, ttlMs = 30_000): Promise<{ client: Concord; counts: Counts }> {
  const { driver, counts } = countingDriver(await openDriver(url));
  return { client: new Concord(driver, { ttlMs }), counts };
}

/** One time the lock was held: when acquire() resolved, when release() was called and when it returned (CLOCK_MONOTONIC ms). */
export interface Hold {
  acq: number;
  relCall: number;
  relDone: number;
  token: number;
}

/**
 * `count` waiters on lock `name` of one client, each looping acquire -> release -> acquire again,
 * so it queues again at the tail: the queue behind the holder stays `count - 1` deep across the
 * group (and all groups on the lock). Each hold lasts `holdMs`; hand-off time does not include it.
 */
export class WaiterGroup {
  readonly #client: Concord;
  readonly #name: string;
  readonly #count: number;
  readonly #onHold: (h: Hold) => void;
  #stopped = false;
  /** Failed acquires by error code, each retried. */
  readonly errors: Record<string, number> = {};
  #loops: Array<Promise<unknown>> = [];

  readonly #holdMs: number;

  constructor(client: Concord, name: string, count: number, holdMs: number, onHold: (h: Hold) => void) {
    this.#holdMs = holdMs;
    this.#client = client;
    this.#name = name;
    this.#count = count;
    this.#onHold = onHold;
  }

  /**
   * Starts the client's shared watch stream first (one `observe()` step subscribes it), then the
   * waiters. Started the other way round, the stream's first `revision()` call queues behind
   * hundreds of joins and can time out on a busy engine, and WatchHub keeps that failed start:
   * every later wait of the client then fails (see the report of the hand-off benchmark).
   */
  async start(spreadMs = 0): Promise<void> {
    const first = this.#client.election(`${this.#name}-warm`).observe()[Symbol.asyncIterator]();
    await first.next();
    await first.return?.();
    const lock = this.#client.lock(this.#name);
    const loop = async (): Promise<void> => {
      while (!this.#stopped) {
        let held;
        try {
          held = await lock.acquire();
        } catch (e) {
          if (this.#stopped) return; // the client closed
          // Anything else (a call timed out on a busy engine) is counted and tried again.
          this.errors[(e as { code?: string }).code ?? String(e)] = (this.errors[(e as { code?: string }).code ?? String(e)] ?? 0) + 1;
          await new Promise((r) => setTimeout(r, 10));
          continue;
        }
        const acq = monotonicMs();
        // Held a moment, so the previous holder is back in the queue before this one lets go: the
        // queue stays as deep as the group is large (a hold of no time drains it to nothing).
        await new Promise((r) => setTimeout(r, this.#holdMs));
        const relCall = monotonicMs();
        await held.release().catch(() => undefined);
        const relDone = monotonicMs();
        this.#onHold({ acq, relCall, relDone, token: held.token });
      }
    };
    // Joins spread over `spreadMs`: a join reads the whole queue, so a thousand at once swamp the engine.
    this.#loops = Array.from({ length: this.#count }, (_, i) =>
      new Promise((r) => setTimeout(r, (i * spreadMs) / this.#count)).then(loop),
    );
  }

  /**
   * Stops every waiter by closing the client: its session is revoked, so the queued keys go in one
   * revocation instead of one delete per waiter; then waits for the loops to end.
   */
  async stop(): Promise<void> {
    this.#stopped = true;
    await this.#client.close();
    await Promise.all(this.#loops);
  }
}
