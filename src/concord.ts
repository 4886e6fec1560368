import { setMaxListeners } from "node:events";
import { hostname } from "node:os";
import { randomBytes } from "node:crypto";
import type { Context } from "./context.js";
import type { Driver } from "./driver/types.js";
import { checkTtl } from "./driver/validate.js";
import { ConcordError, closedError, invalid } from "./errors.js";
import { type Clock, systemClock } from "./internal/clock.js";
import { checkName } from "./internal/names.js";
import { BatchCoalescer } from "./internal/batch-coalescer.js";
import { WatchHub } from "./internal/watch-hub.js";
import { Counter } from "./primitives/counter.js";
import { Election, type ElectionOptions } from "./primitives/election.js";
import { SharedList, type ListOptions } from "./primitives/list.js";
import { Lock, type LockOptions } from "./primitives/lock.js";
import { IndexedMap } from "./primitives/indexed-map.js";
import { SharedMap, type MapOptions } from "./primitives/map.js";
import { SharedSet, type SetOptions } from "./primitives/set.js";
import { SharedValue, type ValueOptions } from "./primitives/value.js";
import { Barrier } from "./primitives/barrier.js";
import { Latch } from "./primitives/latch.js";
import { ReadWriteLock } from "./primitives/rwlock.js";
import { Semaphore, type SemaphoreOptions } from "./primitives/semaphore.js";
import { type LeaseHandle, Session } from "./session.js";
import { ClusterClock } from "./time/cluster-clock.js";
import { TaskQueue } from "./tasks/queue.js";

export interface ConcordOptions {
  /** Key namespace; clients in different namespaces never see each other. Default "concord". */
  namespace?: string;
  /** The session lease TTL. Default 10,000 ms, minimum 1,000 ms. */
  ttlMs?: number;
  /** The largest encoded value accepted, the same on every engine. Default 1 MiB. */
  maxValueBytes?: number;
  /** This client's id in lock holders and election candidates. Default host:pid:random. */
  id?: string;
  /** The clock for deadlines and keep-alives; inject one in tests. */
  clock?: Clock;
}

export const DEFAULT_TTL_MS = 10_000;
export const DEFAULT_MAX_VALUE_BYTES = 1024 * 1024;

/**
 * A client: one driver, one session lease, one shared watch stream, and the primitives over them.
 * `close()` revokes the session (releasing whatever it held) and closes the driver.
 */
export class Concord implements AsyncDisposable {
  readonly driver: Driver;
  readonly namespace: string;
  readonly id: string;
  readonly ttlMs: number;
  /** Time agreed across the cluster, read from the engine's clock NTP-style. */
  readonly time: ClusterClock;
  readonly #ctx: Context;
  readonly #session: Session;
  readonly #hub: WatchHub;
  readonly #closed = new AbortController();
  readonly #ownSessions = new Map<number, Session>();
  #closing: Promise<void> | undefined;

  constructor(driver: Driver, opts: ConcordOptions = {}) {
    if (typeof opts !== "object" || opts === null) throw invalid("options", "expected an object");
    this.namespace = checkName("namespace", opts.namespace ?? "concord");
    if (this.namespace.includes("/")) throw invalid("namespace", "must not contain '/'");
    this.ttlMs = opts.ttlMs ?? DEFAULT_TTL_MS;
    checkTtl("ttlMs", this.ttlMs);
    const maxValueBytes = opts.maxValueBytes ?? DEFAULT_MAX_VALUE_BYTES;
    if (!Number.isSafeInteger(maxValueBytes) || maxValueBytes < 1) throw invalid("maxValueBytes", `expected a positive integer, got ${String(maxValueBytes)}`);
    this.id = opts.id === undefined ? `${hostname()}:${process.pid}:${randomBytes(3).toString("hex")}` : checkName("id", opts.id);
    const clock = opts.clock ?? systemClock;
    setMaxListeners(0, this.#closed.signal); // every pending call and handle listens for close
    this.driver = driver;
    this.time = new ClusterClock(driver, clock);
    this.#session = new Session(driver, { ttlMs: this.ttlMs, clock });
    const ns = `${this.namespace}/`;
    this.#hub = new WatchHub(driver, ns, clock);
    const coalescer = driver.batch ? new BatchCoalescer(driver.batch.bind(driver)) : undefined;
    this.#ctx = {
      driver,
      hub: this.#hub,
      batch: coalescer && ((ops) => coalescer.batch(ops)),
      clock,
      ns,
      clientId: this.id,
      maxValueBytes,
      closed: this.#closed.signal,
      leaseFor: (ttlMs, signal) => this.#leaseFor(ttlMs, signal),
    };
  }

  #leaseFor(ttlMs: number | undefined, signal?: AbortSignal): Promise<LeaseHandle> {
    if (this.#closed.signal.aborted) throw closedError("the client");
    if (ttlMs === undefined || ttlMs === this.ttlMs) return this.#session.lease(signal);
    let s = this.#ownSessions.get(ttlMs);
    if (!s) {
      s = new Session(this.driver, { ttlMs, clock: this.#ctx.clock });
      this.#ownSessions.set(ttlMs, s);
    }
    return s.lease(signal);
  }

  #open(): Context {
    if (this.#closed.signal.aborted) throw closedError("the client");
    return this.#ctx;
  }

  /** The session lease (granted on first use); its `signal` aborts when the session is lost. */
  session(signal?: AbortSignal): Promise<LeaseHandle> {
    return this.#leaseFor(undefined, signal);
  }

  lock(name: string, opts?: LockOptions): Lock {
    return new Lock(this.#open(), name, opts);
  }
  /** A fair read-write lock: shared readers, one writer, no writer starvation. */
  rwlock(name: string, opts?: { ttlMs?: number }): ReadWriteLock {
    return new ReadWriteLock(this.#open(), name, opts);
  }
  /** At most `permits` holders at once, first come first served. */
  semaphore(name: string, opts: SemaphoreOptions): Semaphore {
    return new Semaphore(this.#open(), name, opts);
  }
  /** Releases every waiter once `parties` are waiting. */
  barrier(name: string, opts: { parties: number }): Barrier {
    return new Barrier(this.#open(), name, opts);
  }
  /** Releases waiters after `count` count-downs in all. */
  latch(name: string, count: number): Latch {
    return new Latch(this.#open(), name, count);
  }
  /** A durable task queue. */
  tasks(name: string, opts?: { retainMs?: number }): TaskQueue {
    return new TaskQueue(this.#open(), name, opts);
  }
  /** Runs `fn` on one process at a time cluster-wide (a lock named `runonce/NAME`); its signal aborts if the lock is lost. */
  async runOnce<T>(name: string, fn: (signal: AbortSignal) => Promise<T> | T, opts?: { signal?: AbortSignal; timeoutMs?: number; ttlMs?: number }): Promise<T> {
    const { ttlMs, ...call } = opts ?? {};
    return this.lock(`runonce/${name}`, ttlMs === undefined ? {} : { ttlMs }).withLock((signal) => fn(signal), call);
  }
  election(name: string, opts?: ElectionOptions): Election {
    return new Election(this.#open(), name, opts);
  }
  value<T = unknown>(name: string, opts?: ValueOptions<T>): SharedValue<T> {
    return new SharedValue<T>(this.#open(), name, opts);
  }
  counter(name: string): Counter {
    return new Counter(this.#open(), name);
  }
  map<T = unknown>(name: string, opts?: MapOptions<T>): SharedMap<T> {
    return new SharedMap<T>(this.#open(), name, opts);
  }
  /** A map that also keeps its entries in insertion order, reachable by index (Atomix's IndexedMap). */
  indexedMap<T = unknown>(name: string, opts?: MapOptions<T>): IndexedMap<T> {
    return new IndexedMap<T>(this.#open(), name, opts);
  }
  set<T = unknown>(name: string, opts?: SetOptions<T>): SharedSet<T> {
    return new SharedSet<T>(this.#open(), name, opts);
  }
  list<T = unknown>(name: string, opts?: ListOptions<T>): SharedList<T> {
    return new SharedList<T>(this.#open(), name, opts);
  }

  /** Aborts every held signal, revokes the leases (so waiters elsewhere go ahead at once), closes the driver. */
  close(): Promise<void> {
    this.#closing ??= (async () => {
      this.#closed.abort(new ConcordError("CLOSED", "the client is closed"));
      this.#hub.close();
      await Promise.all([this.#session.close(), ...[...this.#ownSessions.values()].map((s) => s.close())]);
      await this.driver.close();
    })();
    return this.#closing;
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }
}
