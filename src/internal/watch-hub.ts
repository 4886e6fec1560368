import type { Driver, WatchEvent } from "../driver/types.js";
import { isConcordError } from "../errors.js";
import { type Clock, sleep } from "./clock.js";

/** Called with each event under the subscribed prefix, or with `undefined` when history was lost and state must be re-read. */
export type HubListener = (ev: WatchEvent | undefined) => void;

/**
 * One watch stream per client, shared by every primitive: waiters subscribe to a prefix and get a
 * cheap callback, instead of each opening its own stream on the engine.
 */
export class WatchHub {
  readonly #driver: Driver;
  readonly #prefix: string;
  readonly #clock: Clock;
  readonly #listeners = new Map<HubListener, string>();
  readonly #stop = new AbortController();
  #started: Promise<void> | undefined;
  #position: number | undefined;

  constructor(driver: Driver, prefix: string, clock: Clock) {
    this.#driver = driver;
    this.#prefix = prefix;
    this.#clock = clock;
  }

  /**
   * Registers `fn` for changes under `prefix`. Once the returned promise resolves, every change made
   * after it will reach `fn`: subscribe first, then read, and nothing is missed in between.
   */
  async subscribe(prefix: string, fn: HubListener): Promise<() => void> {
    this.#listeners.set(fn, prefix);
    try {
      await this.#start();
    } catch (e) {
      this.#listeners.delete(fn);
      throw e;
    }
    return () => this.#listeners.delete(fn);
  }

  /**
   * The revision of the last change passed on (or the one the stream started after); undefined
   * until the stream has started. A listener registered now gets every change after it.
   */
  get position(): number | undefined {
    return this.#position;
  }

  #start(): Promise<void> {
    this.#started ??= (async () => {
      const from = (await this.#driver.revision()) + 1;
      this.#position = from - 1;
      void this.#run(from);
    })();
    // A first read that failed (engine away, timed out) must not fail every later subscribe: try again next time.
    const started = this.#started;
    started.catch(() => {
      if (this.#started === started) this.#started = undefined;
    });
    return started;
  }

  #emit(ev: WatchEvent | undefined): void {
    for (const [fn, prefix] of this.#listeners) {
      if (ev === undefined || ev.key.startsWith(prefix)) fn(ev);
    }
  }

  async #run(from: number): Promise<void> {
    let next = from;
    const signal = this.#stop.signal;
    while (!signal.aborted) {
      try {
        for await (const ev of this.#driver.watch(this.#prefix, { fromRevision: next, signal })) {
          next = ev.revision + 1;
          this.#position = ev.revision;
          this.#emit(ev);
        }
        return; // the driver closed
      } catch (e) {
        if (signal.aborted || isConcordError(e, "CLOSED")) return;
        if (isConcordError(e, "COMPACTED")) {
          next = (await this.#driver.revision().catch(() => next - 1)) + 1;
          this.#position = next - 1;
          this.#emit(undefined);
        }
        await sleep(this.#clock, 100, signal).catch(() => undefined);
      }
    }
  }

  close(): void {
    this.#stop.abort();
    this.#listeners.clear();
  }
}
