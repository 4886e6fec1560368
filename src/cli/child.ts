import { type ChildProcess, spawn } from "node:child_process";
import { constants } from "node:os";

/** How a child ended: an exit code, a signal, or a failure to start (`error`). */
export interface ChildExit {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
  readonly error: Error | undefined;
}

/**
 * The shell-style exit status for a child's end: its exit code, 128 + the signal number if a
 * signal ended it, 127 if the command was not found and 126 if it could not be started.
 */
export function exitStatus(x: ChildExit): number {
  if (x.error) return (x.error as NodeJS.ErrnoException).code === "ENOENT" ? 127 : 126;
  if (x.code !== null) return x.code;
  return 128 + (x.signal ? (constants.signals[x.signal] ?? 1) : 1);
}

/**
 * A command run as a child process with inherited stdio and no shell. `stop()` asks it to end
 * with SIGTERM and uses SIGKILL if it is still running after a grace period.
 */
export class Child {
  readonly process: ChildProcess;
  /** Settles once, when the child has ended or failed to start; never rejects. */
  readonly exited: Promise<ChildExit>;
  #ended = false;

  constructor(argv: readonly string[], env: NodeJS.ProcessEnv) {
    const [file, ...args] = argv;
    this.process = spawn(file!, args, { stdio: "inherit", env });
    this.exited = new Promise((resolve) => {
      const end = (x: ChildExit): void => {
        if (this.#ended) return;
        this.#ended = true;
        resolve(x);
      };
      this.process.once("exit", (code, signal) => end({ code, signal, error: undefined }));
      // A failure to start emits only "error" (and no pid); a later error (a failed kill) changes nothing.
      this.process.once("error", (error) => {
        if (this.process.pid === undefined) end({ code: null, signal: null, error });
      });
    });
  }

  /** True until the child has ended. */
  get running(): boolean {
    return !this.#ended;
  }

  /** Sends `signal` if the child is still running. */
  kill(signal: NodeJS.Signals): void {
    if (this.running) this.process.kill(signal);
  }

  /** SIGTERM, then SIGKILL if it has not ended within `graceMs`; resolves when it has ended. */
  async stop(graceMs: number): Promise<ChildExit> {
    if (this.running) {
      this.kill("SIGTERM");
      let timer: NodeJS.Timeout | undefined;
      const late = new Promise<"late">((resolve) => {
        timer = setTimeout(() => resolve("late"), graceMs);
      });
      const first = await Promise.race([this.exited, late]);
      clearTimeout(timer);
      if (first === "late") this.kill("SIGKILL");
    }
    return this.exited;
  }
}
