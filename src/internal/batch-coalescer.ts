import { type BatchOp, type BatchResult, type Driver, MAX_BATCH_OPS as MAX_OPS } from "../driver/types.js";
import { ConcordError, isConcordError } from "../errors.js";

interface Pending {
  ops: BatchOp[];
  resolve: (r: BatchResult) => void;
  reject: (e: unknown) => void;
}

/**
 * Sends the batches asked for within one turn of the event loop as one: a worker finishing twenty
 * tasks at once, or eight submitters answered by the same reply, make one engine call (one round
 * trip, one socket write; on the SQL engines one commit) instead of twenty.
 *
 * Safe because batches asked for concurrently have no order between them, and the merged batch
 * means what the separate ones would: groups are merged only when none names a key (as its key or
 * its guard) that another writes, every condition is judged before anything is written, and each op
 * keeps its own revision and watch event. When a condition fails nothing is written: the group it
 * belongs to gets that failure (exactly what it would have got alone, at that instant), the groups
 * before it are sent again together and those after it each alone. Bad input and a dead lease are
 * refused before anything is written, so then each group goes alone and only the one at fault hears
 * of it; any other error reaches every group of the call (the outcome is unknown for all).
 */
export class BatchCoalescer {
  readonly #batch: NonNullable<Driver["batch"]>;
  #pending: Pending[] = [];
  #scheduled = false;

  constructor(batch: NonNullable<Driver["batch"]>) {
    this.#batch = batch;
  }

  /** Like `driver.batch(ops)`, sent with whatever else is asked for in this turn. */
  batch(ops: BatchOp[]): Promise<BatchResult> {
    return new Promise<BatchResult>((resolve, reject) => {
      this.#pending.push({ ops, resolve, reject });
      if (!this.#scheduled) {
        this.#scheduled = true;
        // After every promise continuation of this turn has run, so they all get in.
        process.nextTick(() => this.#flush());
      }
    });
  }

  #flush(): void {
    this.#scheduled = false;
    const pending = this.#pending;
    this.#pending = [];
    let group: Pending[] = [];
    let size = 0;
    let written = new Set<string>();
    let named = new Set<string>();
    for (const p of pending) {
      if (!mergeable(p.ops)) {
        this.#send([p]); // alone: the runtime refuses it with the reason, and nothing else with it
        continue;
      }
      const clash = p.ops.some((op) => named.has(op.key) || (op.guard !== undefined && written.has(op.guard.key)));
      if (size + p.ops.length > MAX_OPS || clash) {
        this.#send(group);
        group = [];
        size = 0;
        written = new Set();
        named = new Set();
      }
      group.push(p);
      size += p.ops.length;
      for (const op of p.ops) {
        written.add(op.key);
        named.add(op.key);
        if (op.guard) named.add(op.guard.key);
      }
    }
    this.#send(group);
  }

  /** The driver's batch, with an exception thrown on the spot turned into a rejection. */
  #call(ops: BatchOp[]): Promise<BatchResult> {
    try {
      return this.#batch(ops);
    } catch (e) {
      return Promise.reject(e);
    }
  }

  #send(group: Pending[]): void {
    if (group.length === 0) return;
    if (group.length === 1) {
      const [p] = group as [Pending];
      this.#call(p.ops).then(p.resolve, p.reject);
      return;
    }
    this.#call(group.flatMap((p) => p.ops)).then(
      (r) => {
        let at = 0;
        const after: Pending[] = [];
        let failedAt = -1;
        group.forEach((p, i) => {
          const end = at + p.ops.length;
          if (r.ok) p.resolve({ ok: true, results: r.results.slice(at, end) });
          else if (r.failed >= at && r.failed < end) {
            failedAt = i;
            p.resolve({ ok: false, failed: r.failed - at, result: r.result });
          } else if (failedAt >= 0) after.push(p);
          at = end;
        });
        if (r.ok) return;
        if (failedAt < 0) {
          const e = new ConcordError("CORRUPT", `the driver's batch named op ${r.failed} as failed, of ${at}`);
          for (const p of group) p.reject(e);
          return;
        }
        // Nothing was written. The groups before the failed one passed their checks: again together.
        // Those after it were not judged: each alone, so that racing workers cost two round trips, not one per loser.
        this.#send(group.slice(0, failedAt));
        for (const p of after) this.#send([p]);
      },
      (e: unknown) => {
        // Refused before anything was written (bad input, or a put under a lease that is gone): each
        // alone, so only the group at fault hears of it.
        if (isConcordError(e, "INVALID_ARGUMENT") || isConcordError(e, "NOT_HELD")) for (const p of group) this.#send([p]);
        else for (const p of group) p.reject(e);
      },
    );
  }
}

/** Ops that can be merged with others: a non-empty list of well-formed ops (anything else goes alone, to be refused). */
function mergeable(ops: BatchOp[]): boolean {
  return (
    Array.isArray(ops) &&
    ops.length > 0 &&
    ops.length <= MAX_OPS &&
    ops.every((op) => typeof op === "object" && op !== null && typeof op.key === "string" && (op.guard === undefined || (typeof op.guard === "object" && op.guard !== null && typeof op.guard.key === "string")))
  );
}
