/**
 * The shape of a recorded history, shared by the clients that record it, the checkers and the report.
 *
 * Times are milliseconds on CLOCK_MONOTONIC (`process.hrtime`), which on Linux is one clock for every
 * process on the host; each client subtracts the run's origin, an hrtime reading the parent takes at
 * the start and passes in. So a client's own stamps, taken right before it sends a request and right
 * after the answer arrives, are comparable with every other client's and with the nemesis' fault
 * times, without the pipe's delay that a parent-side stamp would add (and a client killed mid-line
 * would lose). Stdout to a pipe is synchronous on Linux, so an invocation line is out before the
 * request is sent: a SIGKILL leaves the operation open, which the parent records as indeterminate.
 */

/** ok: it happened; fail: it certainly did not; info: unknown (timed out, cut off, client killed). */
export type Outcome = "ok" | "fail" | "info";

export const PRIMITIVES = ["lock", "election", "value", "counter", "map", "tasks"] as const;
export type Primitive = (typeof PRIMITIVES)[number];

/** One operation, invocation and completion merged. `ret` is Infinity when it never completed. */
export interface Op {
  client: number;
  f: string;
  input: Record<string, unknown>;
  output: Record<string, unknown> | undefined;
  outcome: Outcome;
  call: number;
  ret: number;
  error?: string;
}

/** Something a client observed that is not an operation: a belief check, a signal abort, a task run. */
export interface Note {
  client: number;
  kind: string;
  at: number;
  [k: string]: unknown;
}

/** A fault the nemesis injected, from `start` to `end` (ms since the origin). */
export interface Fault {
  kind: string;
  target: string;
  start: number;
  end: number;
}

export interface History {
  ops: Op[];
  notes: Note[];
  faults: Fault[];
  /** Final reads the harness made after the run (tasks: each id's outcome; queue stats). */
  final?: Record<string, unknown>;
}

/** One line a client prints. */
export type Line =
  | { t: "invoke"; client: number; seq: number; f: string; input: Record<string, unknown>; at: number }
  | { t: "complete"; client: number; seq: number; outcome: Outcome; output?: Record<string, unknown>; error?: string; at: number }
  | ({ t: "note" } & Note);

/** Folds client lines into operations; an invocation without its completion becomes `info` with ret = Infinity. */
export class Recorder {
  readonly #open = new Map<string, Op>();
  readonly ops: Op[] = [];
  readonly notes: Note[] = [];

  add(line: Line): void {
    if (line.t === "invoke") {
      const op: Op = { client: line.client, f: line.f, input: line.input, output: undefined, outcome: "info", call: line.at, ret: Infinity };
      this.#open.set(`${line.client}/${line.seq}`, op);
      this.ops.push(op);
    } else if (line.t === "complete") {
      const op = this.#open.get(`${line.client}/${line.seq}`);
      if (!op) return;
      this.#open.delete(`${line.client}/${line.seq}`);
      op.outcome = line.outcome;
      op.output = line.output;
      if (line.error !== undefined) op.error = line.error;
      // An indeterminate operation may have taken effect at any time after its call.
      op.ret = line.outcome === "info" ? Infinity : line.at;
    } else {
      const note: Note = { ...line };
      delete (note as Partial<Line>).t;
      this.notes.push(note);
    }
  }
}

/** A small seeded PRNG (mulberry32), so a run replays from its printed seed. */
export function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Milliseconds on CLOCK_MONOTONIC. */
export const hrMs = (): number => Number(process.hrtime.bigint()) / 1e6;
