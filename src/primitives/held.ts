import type { Guard } from "../driver/types.js";
import { ConcordError } from "../errors.js";
import type { Fence } from "../context.js";
import type { FairQueue, Ticket } from "./queue.js";

/**
 * A place at the head of a fair queue, held: the common core of a held lock and a leadership.
 * Its `signal` aborts before anyone else could take the place: on lease loss, release, or close.
 */
export class HeldPlace implements Fence {
  readonly #queue: FairQueue;
  readonly #ticket: Ticket;
  readonly #ac = new AbortController();
  readonly #unlink: () => void;

  constructor(queue: FairQueue, ticket: Ticket, closed: AbortSignal) {
    this.#queue = queue;
    this.#ticket = ticket;
    const lost = (): void => this.#abort(ticket.lease.signal.reason as Error);
    const close = (): void => this.#abort(new ConcordError("LOCK_LOST", "the client closed"));
    ticket.lease.signal.addEventListener("abort", lost, { once: true });
    closed.addEventListener("abort", close, { once: true });
    this.#unlink = () => {
      ticket.lease.signal.removeEventListener("abort", lost);
      closed.removeEventListener("abort", close);
    };
    if (ticket.lease.signal.aborted) lost();
    if (closed.aborted) close();
  }

  #abort(reason: Error): void {
    this.#unlink();
    this.#ac.abort(reason);
  }

  get ticket(): Ticket {
    return this.#ticket;
  }
  get signal(): AbortSignal {
    return this.#ac.signal;
  }
  get fenceGuard(): Guard {
    return { key: this.#ticket.key, version: this.#ticket.modRevision };
  }

  /** False once the signal has aborted or the lease deadline has passed (checked now, so a paused process learns at once). */
  isHeld(): boolean {
    if (!this.#ac.signal.aborted && !this.#ticket.lease.alive()) this.#abort(this.#ticket.lease.signal.reason as Error);
    return !this.#ac.signal.aborted;
  }

  assertHeld(): void {
    if (!this.isHeld()) {
      const r: unknown = this.#ac.signal.reason;
      throw r instanceof ConcordError && r.code === "LOCK_LOST"
        ? r
        : new ConcordError("LOCK_LOST", `${this.#ticket.key} is no longer held`, { cause: r });
    }
  }

  /** Aborts the signal first, then gives the place up, so no one else can hold it while our signal is live. */
  async release(): Promise<void> {
    if (this.#ac.signal.aborted && this.#released) return;
    this.#released = true;
    this.#abort(new ConcordError("LOCK_LOST", "released"));
    await this.#queue.leave(this.#ticket);
  }
  #released = false;
}
