import type { Concord } from "../../concord.js";
import type { LeaderInfo } from "../../primitives/election.js";
import { pause } from "../interrupts.js";
import { DEMO } from "./names.js";
import type { DemoObserver } from "./observer.js";
import type { WorkerPool } from "./worker-pool.js";

/** A measured failover: who was killed, who took over, and how long it took. */
export interface Failover {
  readonly from: LeaderInfo;
  readonly to: LeaderInfo;
  readonly ms: number;
}

/** When to strike, and how to report. */
export interface FailoverPlan {
  /** Local time at which to kill the leader (or as soon after as there is one). */
  readonly killAt: number;
  /** Give up looking for a leader, or for its successor, at this local time. */
  readonly deadline: number;
  readonly signal: AbortSignal;
  readonly say: (line: string) => void;
}

/** The current leader, read from the store, if it is one of the pool's live workers. */
async function workerLeader(c: Concord, pool: WorkerPool): Promise<LeaderInfo | undefined> {
  const l = await c.election(DEMO.election).leader();
  return l && pool.pid(l.id) !== undefined ? l : undefined;
}

/**
 * Kills the current leader's process with SIGKILL (no chance to resign: its lease must expire)
 * and measures the time until the observer sees another worker lead with a higher term.
 * Returns a reason instead when there was no leader to kill or no successor before the deadline.
 */
export async function killLeader(c: Concord, pool: WorkerPool, observer: DemoObserver, plan: FailoverPlan): Promise<Failover | string> {
  await pause(plan.killAt - Date.now(), plan.signal);
  if (plan.signal.aborted) return "interrupted";
  let from: LeaderInfo | undefined;
  while (!(from = await workerLeader(c, pool))) {
    if (plan.signal.aborted) return "interrupted";
    if (Date.now() >= plan.deadline) return "no worker became leader in time";
    await pause(100, plan.signal);
  }
  const pid = pool.pid(from.id);
  plan.say(`>>> killing the leader ${from.id} (pid ${pid}, term ${from.term}) with SIGKILL`);
  const t0 = Date.now();
  await pool.kill(from.id, "SIGKILL");
  const old = from;
  const next = await observer.waitFor((l) => l.id !== old.id && l.term > old.term, plan.deadline, plan.signal);
  if (!next?.leader) return plan.signal.aborted ? "interrupted" : `no new leader within ${plan.deadline - t0} ms of the kill`;
  const ms = next.at - t0;
  plan.say(`>>> failover: ${next.leader.id} is leader (term ${next.leader.term}) after ${ms} ms`);
  return { from: old, to: next.leader, ms };
}
