import { constants } from "node:os";
import { ConcordError } from "../errors.js";

const TRAPPED = ["SIGINT", "SIGTERM", "SIGHUP"] as const;

/**
 * Turns SIGINT, SIGTERM and SIGHUP into an abort, so a command can release what it holds before
 * exiting. The first signal aborts {@link signal}; the second runs the `onForce` callbacks (e.g.
 * SIGKILL a child that ignores SIGTERM); the third exits at once.
 */
export class Interrupts {
  readonly #ac = new AbortController();
  readonly #force = new Set<() => void>();
  #received: NodeJS.Signals | undefined;
  #count = 0;
  readonly #handler = (sig: NodeJS.Signals): void => {
    this.#count++;
    if (this.#count === 1) {
      this.#received = sig;
      this.#ac.abort(new ConcordError("ABORTED", `interrupted by ${sig}`));
    } else if (this.#count === 2) {
      for (const fn of [...this.#force]) fn();
    } else {
      process.exit(this.exitCode());
    }
  };

  constructor() {
    for (const s of TRAPPED) process.on(s, this.#handler);
  }

  /** Aborts on the first trapped signal, with an `ABORTED` ConcordError as its reason. */
  get signal(): AbortSignal {
    return this.#ac.signal;
  }

  /** The first signal received, if any. */
  get received(): NodeJS.Signals | undefined {
    return this.#received;
  }

  /** The conventional exit status after the signal received: 128 + its number (130 for SIGINT). */
  exitCode(): number {
    return 128 + (constants.signals[this.#received ?? "SIGINT"] ?? 2);
  }

  /** Runs `fn` on the second signal; returns a function that unregisters it. */
  onForce(fn: () => void): () => void {
    this.#force.add(fn);
    return () => this.#force.delete(fn);
  }

  /** Restores the default signal behaviour. */
  dispose(): void {
    for (const s of TRAPPED) process.off(s, this.#handler);
  }
}

/** A promise that resolves when `signal` aborts, and a `dispose` that removes its listener. */
export function whenAborted(signal: AbortSignal): { promise: Promise<void>; dispose: () => void } {
  let onAbort = (): void => {};
  const promise = new Promise<void>((resolve) => {
    onAbort = () => resolve();
    if (signal.aborted) resolve();
    else signal.addEventListener("abort", onAbort, { once: true });
  });
  return { promise, dispose: () => signal.removeEventListener("abort", onAbort) };
}

/** Sleeps `ms`, returning early (without throwing) if `signal` aborts. */
export function pause(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal?.aborted) return resolve();
    const done = (): void => {
      clearTimeout(timer);
      signal?.removeEventListener("abort", done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal?.addEventListener("abort", done, { once: true });
  });
}
