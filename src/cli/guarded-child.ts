import { Child, type ChildExit } from "./child.js";
import { type Interrupts, whenAborted } from "./interrupts.js";

/** Why a guarded child ended: by itself, because the guard was lost, or because we were interrupted. */
export type GuardedEnd = "exited" | "lost" | "interrupted";

/** What {@link runGuarded} returns. */
export interface GuardedOutcome {
  readonly why: GuardedEnd;
  readonly exit: ChildExit;
}

/** How to run a command under a guard. */
export interface GuardedOptions {
  readonly argv: readonly string[];
  readonly env: NodeJS.ProcessEnv;
  /** The holder's signal (a lock or a leadership): its abort means the right to run is gone. */
  readonly guard: AbortSignal;
  readonly interrupts: Interrupts;
  /** How long the child gets between SIGTERM and SIGKILL. */
  readonly graceMs: number;
  /** Called as soon as the guard is lost, before the child is stopped. */
  readonly onLost?: (reason: unknown) => void;
}

/**
 * Runs a command only while `guard` holds: when the guard aborts, or the process is interrupted,
 * the child gets SIGTERM and, after `graceMs`, SIGKILL. A second interrupt kills it at once.
 * Resolves after the child has ended, so the caller releases the guard only then.
 */
export async function runGuarded(o: GuardedOptions): Promise<GuardedOutcome> {
  const child = new Child(o.argv, o.env);
  const unforce = o.interrupts.onForce(() => child.kill("SIGKILL"));
  const lost = whenAborted(o.guard);
  const interrupted = whenAborted(o.interrupts.signal);
  try {
    const why = await Promise.race([
      child.exited.then((): GuardedEnd => "exited"),
      lost.promise.then((): GuardedEnd => "lost"),
      interrupted.promise.then((): GuardedEnd => "interrupted"),
    ]);
    if (why === "lost") o.onLost?.(o.guard.reason);
    const exit = await child.stop(o.graceMs);
    return { why, exit };
  } finally {
    unforce();
    lost.dispose();
    interrupted.dispose();
  }
}
