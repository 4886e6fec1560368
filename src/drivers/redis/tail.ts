import type { Redis } from "ioredis";
import type { WatchEvent } from "../../driver/types.js";
import { type Clock, sleep } from "../../internal/clock.js";
import { Notifier } from "../../internal/deferred.js";

/** How often a running tail checks that the server did not go back in revisions (lost its data). */
const CHECK_MS = 5000;
const RETRY_MS = 250;
/** Recent changes kept for caught-up watches; one further behind reads the log by script. */
const KEEP = 2048;

/** The recent changes {@link LogTail.since} found for one watch. */
export interface TailBatch {
  events: WatchEvent[];
  /** The next revision to ask for. */
  next: number;
}

/** What the tail needs from its driver. */
export interface TailSource {
  /** A new connection for the subscription (a subscribed connection can serve nothing else). */
  connect(): Redis;
  /** The pub/sub channel the scripts publish every change on (`append` in scripts/lib.lua). */
  channel: string;
  /** The change stream (its key as the connection names it), tailed if the channel is refused. */
  log: string;
  /** The keyspace's revision, read on the command connection. */
  revision(): Promise<number>;
}

const NEWLINE = 0x0a;
/** A length or revision in a change's header: digits only (a sign or a fraction would let the decoder go back). */
const DIGITS = /^[0-9]{1,16}$/;

/**
 * Decodes a published message: one change or several in a row, each "rev type create keyBytes
 * leaseBytes valueBytes\n" then the key, the lease and the value (see `append` in
 * scripts/lib.lua); undefined if it is not that.
 */
export function decodeChanges(msg: Buffer): WatchEvent[] | undefined {
  const out: WatchEvent[] = [];
  let at = 0;
  while (at < msg.length) {
    const nl = msg.indexOf(NEWLINE, at);
    if (nl < 0) return undefined;
    const head = msg.toString("latin1", at, nl).split(" ");
    if (head.length !== 6 || !DIGITS.test(head[0]!) || !DIGITS.test(head[3]!) || !DIGITS.test(head[4]!) || !DIGITS.test(head[5]!)) return undefined;
    const revision = Number(head[0]);
    const keyBytes = Number(head[3]);
    const leaseBytes = Number(head[4]);
    const valueBytes = Number(head[5]);
    if (!Number.isSafeInteger(revision) || !Number.isSafeInteger(keyBytes + leaseBytes + valueBytes)) return undefined;
    const keyEnd = nl + 1 + keyBytes;
    const leaseEnd = keyEnd + leaseBytes;
    const end = leaseEnd + valueBytes;
    if (end > msg.length) return undefined;
    const key = msg.toString("utf8", nl + 1, keyEnd);
    if (head[1] === "d") out.push({ type: "delete", key, revision });
    else if (head[1] === "p") {
      const lease = leaseBytes > 0 ? msg.toString("utf8", keyEnd, leaseEnd) : undefined;
      // A copy: the caller owns it, and the message buffer may be a view of a larger one.
      const entry = { key, value: new Uint8Array(msg.subarray(leaseEnd, end)), createRevision: Number(head[2]), modRevision: revision, lease };
      out.push({ type: "put", key, revision, entry });
    } else return undefined;
    at = end;
  }
  return out;
}

/**
 * Wakes this client's watches when the keyspace changes, without polling and without a command
 * per change: every write script publishes its change, and one subscribed connection per client,
 * started by the first watch, receives them. The changes received are kept (the last
 * {@link KEEP}, contiguous by revision), so a watch that is caught up takes its changes from here
 * with no round trip; a watch further behind, or one just started, reads the log (the stream) by
 * script from its own cursor, which is also where `COMPACTED` is found.
 *
 * Why no change is missed: the kept run starts just after the revision read once the subscription
 * is confirmed, so every later change is published to us; messages on one connection arrive in the
 * order the scripts ran, and one that does not follow on (or a dropped connection) restarts the run,
 * sending watches behind it to the script. `changed` is notified after every update, so a watch
 * that reads `changed.seq` and then {@link since} (or the log) is woken for anything later.
 */
export class LogTail {
  readonly changed = new Notifier();
  readonly #src: TailSource;
  readonly #stop = new AbortController();
  readonly #clock: Clock;
  #conn: Redis | undefined;
  #timer: NodeJS.Timeout | undefined;
  /** Kept changes; `#kept[i].revision === #first + i`. `#first` is undefined while the tail does not know where it is. */
  #kept: WatchEvent[] = [];
  #first: number | undefined;
  /** Changes received while the starting revision is being read. */
  #pending: WatchEvent[] | undefined;
  /** Bumped at every (re)connection, so a stale sync gives up. */
  #epoch = 0;
  /** True once the channel was refused: the stream is tailed instead (see {@link #tailStream}). */
  #stream = false;

  /** `clock` only paces retries on the network, so it is a real one even when leases use a test clock. */
  constructor(src: TailSource, clock: Clock) {
    this.#src = src;
    this.#clock = clock;
  }

  /** Starts tailing, once. */
  start(): void {
    if (this.#stop.signal.aborted || this.#conn) return;
    const conn = this.#src.connect();
    this.#conn = conn;
    conn.on("messageBuffer", (_channel: Buffer, msg: Buffer) => this.#receive(msg));
    conn.on("ready", () => void this.#sync());
    conn.on("close", () => {
      // Messages may be lost while away: keep nothing until the next sync.
      this.#epoch++;
      this.#reset(undefined);
      this.changed.notify();
    });
    this.#timer = setInterval(() => void this.#check(), CHECK_MS);
    this.#timer.unref();
  }

  /**
   * Changes under `prefix` from revision `from`, at most `limit`, if the kept run covers `from`
   * (an empty batch when `from` is just past the last change received); undefined if it does not.
   */
  since(from: number, prefix: string, limit: number): TailBatch | undefined {
    const first = this.#first;
    if (first === undefined || from < first || from > first + this.#kept.length) return undefined;
    const events: WatchEvent[] = [];
    let i = from - first;
    for (; i < this.#kept.length && events.length < limit; i++) {
      const ev = this.#kept[i]!;
      if (ev.key.startsWith(prefix)) events.push(ev);
    }
    return { events, next: first + i };
  }

  /** Restarts the kept run just after revision `rev` (or forgets where it is). */
  #reset(rev: number | undefined): void {
    this.#kept = [];
    this.#first = rev === undefined ? undefined : rev + 1;
  }

  /** Subscribes, then reads where the keyspace is, so that every later change reaches us. */
  async #sync(): Promise<void> {
    const epoch = ++this.#epoch;
    this.#reset(undefined);
    this.#pending = [];
    while (!this.#stop.signal.aborted && epoch === this.#epoch) {
      try {
        if (this.#stream) return;
        await this.#conn!.subscribe(this.#src.channel);
        const rev = await this.#src.revision();
        if (epoch !== this.#epoch) return;
        this.#reset(rev);
        const pending = this.#pending ?? [];
        this.#pending = undefined;
        for (const ev of pending) this.#add(ev);
        this.changed.notify(); // watches that read before this point look again
        return;
      } catch (e) {
        if ((e as Error)?.message?.startsWith("NOPERM")) {
          this.#stream = true;
          this.#pending = undefined;
          void this.#tailStream();
          return;
        }
        await sleep(this.#clock, RETRY_MS, this.#stop.signal).catch(() => undefined);
      }
    }
  }

  /**
   * For a user whose ACL forbids the channel: a blocking XREAD on the change stream, which only
   * wakes the watches (they then read the log by script), one read per change.
   */
  async #tailStream(): Promise<void> {
    const conn = this.#conn!;
    const signal = this.#stop.signal;
    let last: number | undefined;
    while (!signal.aborted) {
      try {
        if (last === undefined) {
          last = await this.#src.revision();
          this.changed.notify();
          continue;
        }
        const reply = (await conn.xread("COUNT", 512, "BLOCK", CHECK_MS, "STREAMS", this.#src.log, `${last}-0`)) as
          | Array<[string, Array<[string, string[]]>]>
          | null;
        const entries = reply?.[0]?.[1];
        const rev = entries?.length ? Number.parseInt(entries[entries.length - 1]![0], 10) : await this.#src.revision();
        // A lower revision means the server lost its data: the watches find out when they look.
        if (rev !== last) this.changed.notify();
        last = rev;
      } catch {
        if (signal.aborted) return;
        last = undefined;
        await sleep(this.#clock, RETRY_MS, signal).catch(() => undefined);
      }
    }
  }

  #receive(msg: Buffer): void {
    const evs = decodeChanges(msg);
    if (evs === undefined) {
      // Not ours to read: keep nothing from before it, so no watch skips a change.
      this.#reset(undefined);
    } else if (this.#pending) {
      this.#pending.push(...evs);
      return;
    } else {
      for (const ev of evs) this.#add(ev);
    }
    this.changed.notify();
  }

  #add(ev: WatchEvent): void {
    const first = this.#first;
    if (first === undefined) return;
    const next = first + this.#kept.length;
    if (ev.revision < next) return; // from before the sync's starting point: the log has it
    if (ev.revision > next) {
      // A gap: the run restarts here, and watches from before it read the log.
      this.#kept = [ev];
      this.#first = ev.revision;
      return;
    }
    this.#kept.push(ev);
    if (this.#kept.length > 2 * KEEP) {
      const drop = this.#kept.length - KEEP;
      this.#kept.splice(0, drop);
      this.#first = first + drop;
    }
  }

  /** A server that went back in revisions lost its data: wake the watches so they find out. */
  async #check(): Promise<void> {
    const first = this.#first;
    if (first === undefined || this.#pending) return;
    const last = first + this.#kept.length - 1;
    const rev = await this.#src.revision().catch(() => undefined);
    if (rev !== undefined && rev < last && this.#first === first) {
      this.#reset(rev);
      this.changed.notify();
    }
  }

  /** Ends the subscription at once and wakes every watch to see it end. */
  async stop(): Promise<void> {
    this.#stop.abort();
    this.#epoch++;
    clearInterval(this.#timer);
    this.#conn?.disconnect();
    this.changed.notify();
    await Promise.resolve();
  }
}
