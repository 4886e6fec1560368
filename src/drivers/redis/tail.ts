import type { Redis } from "ioredis";
import { type Clock, sleep } from "../../internal/clock.js";
import { Notifier } from "../../internal/deferred.js";

/** How long one XREAD blocks before it checks the revision anyway (it also notices a reset server). */
const BLOCK_MS = 5000;
const RETRY_MS = 250;

/**
 * Wakes this client's watches when the keyspace's change stream grows, without polling: one
 * XREAD BLOCK on a dedicated connection (a blocked connection can serve nothing else), started by
 * the first watch. It only learns THAT the log moved; each watch then reads the changes it wants
 * on the command connection, from its own cursor, so none can miss or repeat one.
 *
 * Why no wake-up is lost: `lastRev` is set and `changed` notified in one step, so a watch that
 * reads `changed.seq` and then the log has seen every change up to `lastRev`, and the next XREAD,
 * which waits for anything after `lastRev`, wakes it for whatever comes later.
 */
export class LogTail {
  readonly changed = new Notifier();
  readonly #connect: () => Redis;
  readonly #logKey: string;
  readonly #revKey: string;
  readonly #stop = new AbortController();
  readonly #clock: Clock;
  #conn: Redis | undefined;
  #running: Promise<void> | undefined;

  /** `clock` only paces retries on the network, so it is a real one even when leases use a test clock. */
  constructor(connect: () => Redis, keys: { log: string; rev: string }, clock: Clock) {
    this.#connect = connect;
    this.#logKey = keys.log;
    this.#revKey = keys.rev;
    this.#clock = clock;
  }

  /** Starts tailing, once. */
  start(): void {
    if (this.#stop.signal.aborted) return;
    this.#running ??= this.#loop();
  }

  async #loop(): Promise<void> {
    const conn = this.#connect();
    this.#conn = conn;
    const signal = this.#stop.signal;
    let lastRev: number | undefined;
    while (!signal.aborted) {
      try {
        if (lastRev === undefined) {
          lastRev = Number((await conn.get(this.#revKey)) ?? 0);
          this.changed.notify(); // watches that read before this point look again
          continue;
        }
        // Pipelined: the GET runs right after the XREAD returns, on the same connection, so one
        // round trip learns the newest revision however many changes arrived.
        const replies = await conn
          .pipeline()
          .xread("COUNT", 1, "BLOCK", BLOCK_MS, "STREAMS", this.#logKey, `${lastRev}-0`)
          .get(this.#revKey)
          .exec();
        const failed = replies?.find(([err]) => err !== null)?.[0];
        if (failed) throw failed;
        const rev = Number((replies?.[1]?.[1] as string | null) ?? 0);
        // A lower revision means the server lost its data: wake the watches so they find out.
        if (rev !== lastRev) {
          lastRev = rev;
          this.changed.notify();
        }
      } catch {
        if (signal.aborted) break;
        lastRev = undefined;
        await sleep(this.#clock, RETRY_MS, signal).catch(() => undefined);
      }
    }
  }

  /** Ends the blocked read at once (a quit would wait for it) and wakes every watch to see it end. */
  async stop(): Promise<void> {
    this.#stop.abort();
    this.#conn?.disconnect();
    this.changed.notify();
    await this.#running;
  }
}
