import { idCollisionError, sameEvent, validateEvent, checkName } from "../event.js";
import type { AppendResult, Cursor, EventStore, ReadOptions, ReadResult, ReplicatedEvent, VectorClockJSON } from "../types.js";
import { VectorClock } from "../vector-clock.js";
import { checkBatch, checkIds, checkOpen, checkReadOptions, formatCursor, matches } from "./options.js";

/**
 * An event store in this process's memory: for tests, caches and nodes that rebuild from a peer.
 * Nothing survives the process. Events are kept as validated copies, so a caller mutating its
 * objects afterwards changes nothing stored.
 */
export class MemoryEventStore implements EventStore {
  readonly #log: ReplicatedEvent[] = [];
  readonly #byId = new Map<string, ReplicatedEvent>();
  readonly #byAggregate = new Map<string, ReplicatedEvent[]>();
  #version: VectorClockJSON = {};
  #closed = false;

  async append(events: readonly ReplicatedEvent[]): Promise<AppendResult> {
    checkOpen(this.#closed, "event store");
    checkBatch(events);
    const batch = events.map((e, i) => validateEvent(e, `events[${i}]`));
    // Decide the whole batch before storing any of it, so a collision stores nothing.
    const fresh = new Map<string, ReplicatedEvent>();
    const appended: ReplicatedEvent[] = [];
    const duplicates: string[] = [];
    batch.forEach((e, i) => {
      const known = this.#byId.get(e.id) ?? fresh.get(e.id);
      if (known === undefined) {
        fresh.set(e.id, e);
        appended.push(e);
      } else if (sameEvent(known, e)) duplicates.push(e.id);
      else throw idCollisionError(e.id, `events[${i}]`);
    });
    for (const e of appended) {
      this.#log.push(e);
      this.#byId.set(e.id, e);
      const agg = this.#byAggregate.get(e.aggregateId);
      if (agg) agg.push(e);
      else this.#byAggregate.set(e.aggregateId, [e]);
    }
    if (appended.length > 0) this.#version = VectorClock.merge(this.#version, ...appended.map((e) => e.clock));
    return { appended: appended.map((e) => e.id), duplicates };
  }

  async read(opts?: ReadOptions): Promise<ReadResult> {
    checkOpen(this.#closed, "event store");
    const r = checkReadOptions(opts);
    const events: ReplicatedEvent[] = [];
    let seq = Math.min(r.since, this.#log.length);
    while (seq < this.#log.length && events.length < r.limit) {
      const e = this.#log[seq]!;
      seq++;
      if (matches(r, e)) events.push(copy(e));
    }
    return { events, cursor: formatCursor(Math.max(seq, r.since)) };
  }

  async byAggregate(aggregateId: string): Promise<ReplicatedEvent[]> {
    checkOpen(this.#closed, "event store");
    checkName("aggregateId", aggregateId);
    return (this.#byAggregate.get(aggregateId) ?? []).map(copy);
  }

  async get(id: string): Promise<ReplicatedEvent | undefined> {
    checkOpen(this.#closed, "event store");
    checkName("id", id);
    const e = this.#byId.get(id);
    return e && copy(e);
  }

  async has(ids: readonly string[]): Promise<Set<string>> {
    checkOpen(this.#closed, "event store");
    return new Set(checkIds(ids).filter((id) => this.#byId.has(id)));
  }

  async version(): Promise<VectorClockJSON> {
    checkOpen(this.#closed, "event store");
    return { ...this.#version };
  }

  async head(): Promise<Cursor> {
    checkOpen(this.#closed, "event store");
    return formatCursor(this.#log.length);
  }

  async count(): Promise<number> {
    checkOpen(this.#closed, "event store");
    return this.#log.length;
  }

  /** Idempotent; afterwards every call rejects with `CLOSED`. */
  async close(): Promise<void> {
    this.#closed = true;
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }
}

// Callers get their own objects: the stored ones stay as appended.
function copy(e: ReplicatedEvent): ReplicatedEvent {
  return structuredClone(e);
}
