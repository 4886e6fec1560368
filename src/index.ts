import { Concord, type ConcordOptions } from "./concord.js";
import type { Driver } from "./driver/types.js";
import { ConcordError, invalid } from "./errors.js";

export { Concord, type ConcordOptions, DEFAULT_TTL_MS, DEFAULT_MAX_VALUE_BYTES } from "./concord.js";
export { ConcordError, ErrorCode, isConcordError } from "./errors.js";
export type { Codec, CodecOption } from "./codec.js";
export type * from "./driver/types.js";
export { RuntimeDriver } from "./driver/runtime.js";
export { type Clock, ManualClock, systemClock } from "./internal/clock.js";
export type { Fence } from "./context.js";
export { Lock, HeldLock, type LockOptions, type LockHolder } from "./primitives/lock.js";
export { Election, Leadership, type ElectionOptions, type LeaderInfo } from "./primitives/election.js";
export { SharedValue, type ValueOptions } from "./primitives/value.js";
export { Counter } from "./primitives/counter.js";
export { SharedMap, type MapOptions } from "./primitives/map.js";
export { IndexedMap, type IndexedEntry } from "./primitives/indexed-map.js";
export { SharedSet, type SetOptions } from "./primitives/set.js";
export { SharedList, type ListOptions } from "./primitives/list.js";
export type { Versioned, WriteResult, ChangeEvent, WriteOptions } from "./primitives/shared.js";
export { LeaseHandle } from "./session.js";
export { ReadWriteLock } from "./primitives/rwlock.js";
export { Semaphore, type SemaphoreOptions } from "./primitives/semaphore.js";
export { Barrier } from "./primitives/barrier.js";
export { Latch } from "./primitives/latch.js";
export { TaskQueue, type TaskOutcome } from "./tasks/queue.js";
export { Worker } from "./tasks/worker.js";
export type { TaskRecord, TaskState, SubmitOptions, WorkOptions, TaskContext, Handler, QueueStats, BackoffOptions } from "./tasks/types.js";
export { ClusterClock, type ClusterTime } from "./time/cluster-clock.js";
export { HybridLogicalClock, type HlcTimestamp, type HybridLogicalClockOptions } from "./time/hlc.js";
export { SntpClock, type SntpOptions, type SntpTime } from "./time/sntp.js";

/** The engines a URL can name, and those this version can open. */
const PLANNED = ["nats", "kubernetes"];

/**
 * Opens the driver a URL names, loading its engine module only now:
 * `memory:`, `memory:NAME`, `sqlite:PATH` (`sqlite::memory:` for a private database),
 * `redis://[user:pass@]host:port[/db][?keyspace=NAME]` (`rediss://` for TLS),
 * `postgres://user:pass@host:port/db[?schema=NAME&sslmode=…]`, `etcd://host1:port,host2:port[?keyspace=NAME]`.
 */
export async function openDriver(url: string, opts: Pick<ConcordOptions, "clock"> = {}): Promise<Driver> {
  if (typeof url !== "string" || url.length === 0) throw invalid("url", "expected a connection URL such as sqlite:./.concord/state.db");
  const colon = url.indexOf(":");
  if (colon <= 0) throw invalid("url", `${JSON.stringify(url)} has no engine scheme; try memory:, sqlite:PATH, redis://, postgres:// or etcd://`);
  const scheme = url.slice(0, colon).toLowerCase();
  const rest = url.slice(colon + 1).replace(/^\/\//, "");
  switch (scheme) {
    case "memory": {
      const { createMemoryDriver } = await import("./drivers/memory/index.js");
      return createMemoryDriver({ name: rest || "default", ...(opts.clock ? { clock: opts.clock } : {}) });
    }
    case "sqlite": {
      if (!rest) throw invalid("url", "sqlite needs a file path: sqlite:./.concord/state.db");
      const { createSqliteDriver } = await import("./drivers/sqlite/index.js");
      return createSqliteDriver({ path: rest, ...(opts.clock ? { clock: opts.clock } : {}) });
    }
    case "redis":
    case "rediss": {
      const { createRedisDriverFromUrl } = await import("./drivers/redis/index.js");
      return createRedisDriverFromUrl(url);
    }
    case "postgres":
    case "postgresql": {
      const { createPostgresDriverFromUrl } = await import("./drivers/postgres/index.js");
      return createPostgresDriverFromUrl(url);
    }
    case "etcd":
    case "etcds": {
      const { createEtcdDriverFromUrl } = await import("./drivers/etcd/index.js");
      return createEtcdDriverFromUrl(url);
    }
    default:
      if (PLANNED.includes(scheme)) {
        throw new ConcordError("UNSUPPORTED", `the ${scheme} engine is not available in this version of concord; use memory:, sqlite:PATH, redis://, postgres:// or etcd://`);
      }
      throw invalid("url", `unknown engine scheme ${JSON.stringify(scheme)}; known: memory, sqlite, redis, postgres, etcd`);
  }
}

/** Opens a client on the engine the URL names. Every call is its own client with its own session. */
export async function connect(url: string, opts: ConcordOptions = {}): Promise<Concord> {
  const driver = await openDriver(url, opts);
  try {
    return new Concord(driver, opts);
  } catch (e) {
    await driver.close();
    throw e;
  }
}
