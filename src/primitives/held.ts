import type { Guard } from "../driver/types.js";
import { ConcordError } from "../errors.js";
import type { Fence } from "../context.js";
import type { FairQueue, Ticket } from "./queue.js";

// Reasons shared by every handle: a release is routine, and an Error's stack trace is not free.
const RELEASED = new ConcordError("LOCK_LOST", "released");
const CLIENT_CLOSED = new ConcordError("LOCK_LOST", "the client closed");

/**
 * A place at the head of a fair queue, held: the common core of a held lock and a leadership.
 * Its `signal` aborts before anyone else could take the place: on lease loss, release, or close.
 * The signal is made on first use, so a lock taken and released without looking at it costs no
 * AbortController.
 */
export class HeldPlace implements Fence {
  readonly #queue: FairQueue;
  readonly #ticket: Ticket;
  readonly #closed: AbortSignal;
  #ac: AbortController | undefined;
  #lost: Error | undefined;
  #releasing: Promise<void> | undefined;
  #unlink: (() => void) | undefined;

  constructor(queue: FairQueue, ticket: Ticket, closed: AbortSignal) {
    this.#queue = queue;
    this.#ticket = ticket;
    this.#closed = closed;
  }

  #check(): Error | undefined {
    if (this.#lost) return this.#lost;
    if (this.#closed.aborted) this.#abort(CLIENT_CLOSED);
    else if (!this.#ticket.lease.alive()) this.#abort(this.#ticket.lease.signal.reason as Error);
    return this.#lost;
  }

  #abort(reason: Error): void {
    if (this.#lost) return;
    this.#lost = reason;
    this.#unlink?.();
    this.#ac?.abort(reason);
  }

  get ticket(): Ticket {
    return this.#ticket;
  }

  get signal(): AbortSignal {
    if (!this.#ac) {
      this.#ac = new AbortController();
      if (this.#check()) this.#ac.abort(this.#lost);
      else {
        const lease = this.#ticket.lease.signal;
        const lost = (): void => this.#abort(lease.reason as Error);
        const close = (): void => this.#abort(CLIENT_CLOSED);
        lease.addEventListener("abort", lost, { once: true });
        this.#closed.addEventListener("abort", close, { once: true });
        this.#unlink = () => {
          lease.removeEventListener("abort", lost);
          this.#closed.removeEventListener("abort", close);
        };
      }
    } else {
      // After a process pause the lease timer may not have run yet: judge the deadline now, so
      // `held.signal.aborted` is never read as false past it.
      this.#check();
    }
    return this.#ac.signal;
  }

  get fenceGuard(): Guard {
    return { key: this.#ticket.key, version: this.#ticket.modRevision };
  }

  /** False once released or lost (lease deadline passed, checked now, so a paused process learns at once). */
  isHeld(): boolean {
    return this.#check() === undefined;
  }

  assertHeld(): void {
    const r = this.#check();
    if (r) {
      throw r instanceof ConcordError && r.code === "LOCK_LOST" && r !== RELEASED
        ? r
        : new ConcordError("LOCK_LOST", `${this.#ticket.key} is no longer held`, { cause: r });
    }
  }

  /** Aborts the signal first, then gives the place up, so no one else can hold it while our signal is live. */
  release(): Promise<void> {
    // Every caller waits for the one deletion, so "released" means the key is gone.
    this.#releasing ??= (async () => {
      this.#abort(RELEASED);
      await this.#queue.leave(this.#ticket);
    })();
    return this.#releasing;
  }
}
