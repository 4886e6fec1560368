import type { Concord } from "../../concord.js";
import type { LeaderInfo } from "../../primitives/election.js";
import { DEMO, type LastWrite } from "./names.js";

/** A leader as the observer saw it, with the local time it was first seen. */
export interface SeenLeader {
  readonly at: number;
  readonly leader: LeaderInfo | undefined;
}

/**
 * Watches the demo from the outside, on a client of its own: every change of leader, and every
 * fenced write to {@link DEMO.last}, checking that fencing tokens strictly increase.
 */
export class DemoObserver {
  readonly #c: Concord;
  readonly #ac = new AbortController();
  readonly #waiters = new Set<() => void>();
  readonly #loops: Array<Promise<void>>;
  /** Every leader change seen, oldest first. */
  readonly leaders: SeenLeader[] = [];
  /** Fenced writes seen, and whether each token was above the one before. */
  writes = 0;
  tokensIncreasing = true;
  lastToken = 0;
  /** The first failure of a background watch, if any. */
  error: unknown;

  constructor(c: Concord) {
    this.#c = c;
    this.#loops = [this.#watchLeaders(), this.#watchWrites()];
  }

  async #watchLeaders(): Promise<void> {
    try {
      for await (const l of this.#c.election(DEMO.election).observe({ signal: this.#ac.signal })) {
        this.leaders.push({ at: Date.now(), leader: l });
        for (const w of [...this.#waiters]) w();
      }
    } catch (e) {
      this.error ??= e;
    }
  }

  async #watchWrites(): Promise<void> {
    try {
      for await (const ev of this.#c.value<LastWrite>(DEMO.last).watch({ signal: this.#ac.signal })) {
        if (ev.type !== "put" || !ev.value) continue;
        this.writes++;
        if (ev.value.token <= this.lastToken) this.tokensIncreasing = false;
        this.lastToken = ev.value.token;
      }
    } catch (e) {
      this.error ??= e;
    }
  }

  /** The latest leader seen. */
  get leader(): LeaderInfo | undefined {
    return this.leaders.at(-1)?.leader;
  }

  /** Resolves with the first leader seen (from now on, or already) that `accept`s, or undefined at the deadline. */
  async waitFor(accept: (l: LeaderInfo) => boolean, deadline: number, signal: AbortSignal): Promise<SeenLeader | undefined> {
    for (;;) {
      const hit = this.leaders.find((s) => s.leader !== undefined && accept(s.leader));
      if (hit || signal.aborted || Date.now() >= deadline) return hit;
      await new Promise<void>((resolve) => {
        const done = (): void => {
          clearTimeout(timer);
          signal.removeEventListener("abort", done);
          this.#waiters.delete(done);
          resolve();
        };
        const timer = setTimeout(done, Math.max(0, deadline - Date.now()));
        signal.addEventListener("abort", done, { once: true });
        this.#waiters.add(done);
      });
    }
  }

  /** One line of live view: leader and term, the counter, the lock's holder and token. */
  async status(): Promise<string> {
    const [count, holder] = await Promise.all([this.#c.counter(DEMO.counter).get(), this.#c.lock(DEMO.lock).holder()]);
    const l = this.leader;
    const lead = l ? `${l.id} (term ${l.term})` : "none";
    const lock = holder ? `${holder.owner} (token ${holder.token})` : "free";
    return `leader ${lead} | ${DEMO.counter} ${count} | ${DEMO.lock} ${lock}`;
  }

  /** The counter's current value. */
  counter(): Promise<number> {
    return this.#c.counter(DEMO.counter).get();
  }

  /** Stops watching; the client is the caller's to close. */
  async close(): Promise<void> {
    this.#ac.abort();
    await Promise.all(this.#loops);
  }
}
