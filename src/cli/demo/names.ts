/** The primitives the demo's workers share, by name. */
export const DEMO = {
  election: "demo-leader",
  lock: "demo-lock",
  counter: "demo-counter",
  last: "demo-last",
} as const;

/** What each fenced write stores in the shared value {@link DEMO.last}. */
export interface LastWrite {
  readonly worker: string;
  readonly token: number;
  readonly counter: number;
}

/** The lease TTL of the demo's workers unless `--ttl` says otherwise: short, so failover is quick. */
export const DEMO_WORKER_TTL_MS = 1000;
