/** Where a task is in its life. */
export type TaskState = "waiting" | "delayed" | "active" | "done" | "failed";

/** The durable record of one task (stored as JSON under the queue's `t/<id>` key). */
export interface TaskRecord {
  id: string;
  kind: string;
  payload: unknown;
  state: TaskState;
  /** Runs so far (the current one included while active). */
  attempt: number;
  /** Most runs allowed. */
  attempts: number;
  priority: number;
  /** Not before this time (engine-agreed ms). */
  runAt: number;
  backoff: BackoffOptions;
  createdAt: number;
  finishedAt?: number;
  result?: unknown;
  error?: string;
  progress?: unknown;
}

export interface BackoffOptions {
  /** First retry delay; doubles each attempt up to `maxMs`, with ±20 % jitter. Default 1,000 ms. */
  delayMs?: number;
  maxMs?: number;
  /** "fixed" keeps every retry at `delayMs`. Default "exponential". */
  type?: "exponential" | "fixed";
}

export interface SubmitOptions {
  /** Makes the submit idempotent: a second submit of the same id returns the first task. */
  id?: string;
  delayMs?: number;
  /** Most runs, retries included. Default 3. */
  attempts?: number;
  /** Retry delays: `{ delayMs, maxMs }`, a number (the first delay), or BullMQ's `{ type: "exponential" | "fixed", delay }`. */
  backoff?: BackoffOptions | number | { type: "exponential" | "fixed"; delay: number };
  /** Lower runs first. Default 0. */
  priority?: number;
  signal?: AbortSignal;
}

/** What a handler gets besides the payload. */
export interface TaskContext {
  id: string;
  kind: string;
  attempt: number;
  /** Aborts if the claim is lost (lease expiry) or the worker closes. */
  signal: AbortSignal;
  /** Records progress visible to `get(id)` and watchers. */
  progress(value: unknown): Promise<void>;
}

export type Handler = (payload: any, ctx: TaskContext) => unknown; // eslint-disable-line @typescript-eslint/no-explicit-any

export interface WorkOptions {
  /** Handlers run at once. Default 1. */
  concurrency?: number;
  /** Lease TTL of claims. Default 30,000 ms. */
  claimTtlMs?: number;
  signal?: AbortSignal;
  /** How long `close()` waits for running handlers before giving their tasks back. Default 10,000 ms. */
  closeTimeoutMs?: number;
}

export interface QueueStats {
  waiting: number;
  delayed: number;
  active: number;
  done: number;
  failed: number;
}
