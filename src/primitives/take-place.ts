import { callSignal, type CallOptions, type Context } from "../context.js";
import type { Entry } from "../driver/types.js";
import { abortedError, isConcordError } from "../errors.js";
import type { LeaseHandle } from "../session.js";
import type { FairQueue, Ticket } from "./queue.js";

/**
 * Joins `queue` under a live lease and waits until `blockers` lets the ticket go: the one acquire
 * loop of locks, elections, semaphores and read-write locks. If the lease lapses while waiting, it
 * queues again with a fresh one; on timeout or abort it leaves the queue and rejects.
 */
export async function takePlace(
  ctx: Context,
  queue: FairQueue,
  ttlMs: number | undefined,
  value: Uint8Array,
  blockers: (ahead: Entry[]) => string[],
  opts: CallOptions,
): Promise<Ticket> {
  const { signal, done } = callSignal(opts, ctx.closed);
  try {
    for (;;) {
      const ticket = await joinLive(ctx, queue, ttlMs, value, signal);
      if (ticket === undefined) continue; // the engine had dropped the lease: queue with a fresh one
      try {
        await queue.waitUntil(ticket, blockers, signal);
        return ticket;
      } catch (e) {
        await queue.leave(ticket);
        if (isConcordError(e, "LOCK_LOST") && !signal.aborted) continue;
        throw e;
      }
    }
  } catch (e) {
    if (signal.aborted) throw abortedError(signal);
    throw e;
  } finally {
    done();
  }
}

/**
 * Joins, rejecting as soon as `signal` aborts. The write itself is not cut short: one abandoned in
 * flight may still land, so the place it took is given up once it does, and never left queued.
 */
async function joinOrLeave(queue: FairQueue, lease: LeaseHandle, value: Uint8Array, signal: AbortSignal): Promise<Ticket> {
  const joining = queue.join(lease, value);
  if (!signal.aborted) {
    let onAbort: (() => void) | undefined;
    const aborted = new Promise<never>((_, reject) => {
      onAbort = () => reject(abortedError(signal));
      signal.addEventListener("abort", onAbort, { once: true });
    });
    try {
      const ticket = await Promise.race([joining, aborted]);
      if (!signal.aborted) return ticket;
    } catch (e) {
      if (!signal.aborted) throw e;
    } finally {
      signal.removeEventListener("abort", onAbort!);
    }
  }
  // Give the place up before rejecting, so that a caller who sees the rejection also sees the lock
  // as it was (isLocked(), holder()); an engine that stopped answering delays the rejection by
  // LEAVE_GRACE_MS at most, and the place is still given up whenever the write lands.
  const left = joining.then((t) => queue.leave(t)).catch(() => undefined);
  let timer: NodeJS.Timeout | undefined;
  await Promise.race([left, new Promise<void>((r) => (timer = setTimeout(r, LEAVE_GRACE_MS)))]);
  clearTimeout(timer);
  throw abortedError(signal);
}

/** Joins under the client's live lease; undefined if the engine had dropped that lease (see {@link lostLease}). */
async function joinLive(ctx: Context, queue: FairQueue, ttlMs: number | undefined, value: Uint8Array, signal: AbortSignal): Promise<Ticket | undefined> {
  const lease = await ctx.leaseFor(ttlMs, signal);
  return joinOrLeave(queue, lease, value, signal).catch((e: unknown) => lostLease(e, lease));
}

/**
 * A join refused with `NOT_HELD` used a lease the engine has dropped (revoked, or expired while this
 * process had not heard yet): the lease is marked lost here too, so every handle on it learns it and
 * the next call gets a fresh lease. Undefined for that case; any other error is rethrown.
 */
function lostLease(e: unknown, lease: LeaseHandle): undefined {
  if (!isConcordError(e, "NOT_HELD")) throw e;
  lease.lose("the engine no longer holds it");
  return undefined;
}

/** How long an aborted join waits for its in-flight write to land and be undone before rejecting. */
const LEAVE_GRACE_MS = 500;

/** Joins and keeps the place only if nothing blocks it now; never waits. */
export async function tryTakePlace(
  ctx: Context,
  queue: FairQueue,
  ttlMs: number | undefined,
  value: Uint8Array,
  blockers: (ahead: Entry[]) => string[],
  opts: { signal?: AbortSignal },
): Promise<Ticket | undefined> {
  const { signal, done } = callSignal(opts, ctx.closed);
  try {
    // Once more with a fresh lease if the engine had dropped the first; a second refusal is the caller's.
    const ticket = (await joinLive(ctx, queue, ttlMs, value, signal)) ?? (await joinOrLeave(queue, await ctx.leaseFor(ttlMs, signal), value, signal));
    if (blockers(ticket.aheadAtJoin).length === 0) return ticket;
    await queue.leave(ticket);
    return undefined;
  } finally {
    done();
  }
}
