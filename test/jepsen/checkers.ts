/**
 * The checkers of a Jepsen run, one per claim of DESIGN §5. Each takes a history and returns the
 * anomalies it found (an empty list is the verdict "valid"), each anomaly a sentence with times.
 */
import type { History, Op, Primitive } from "./history.js";
import { checkPerKey, counterModel, registerModel, type Operation } from "./linearizability.js";

export interface Verdict {
  /** Operations the checker looked at. */
  checked: number;
  anomalies: string[];
}

const fmt = (ms: number): string => (Number.isFinite(ms) ? `${ms.toFixed(1)} ms` : "never");

/** A hold: from the first to the last moment its owner believed it held (a lock or a leadership). */
export interface Hold {
  client: number;
  token: number;
  /** The acquire (or campaign) operation's call and return. */
  call: number;
  ret: number;
  /** First and last belief notes; undefined if the holder never saw itself holding. */
  from: number | undefined;
  to: number | undefined;
}

/** Builds holds from the successful acquire/campaign ops and the belief notes keyed by `field` (token or term). */
export function holdsOf(h: History, acquire: string, field: "token" | "term"): Hold[] {
  const holds = new Map<string, Hold>();
  for (const op of h.ops) {
    if (op.f !== acquire || op.outcome !== "ok") continue;
    const token = op.output![field] as number;
    holds.set(`${op.client}/${token}`, { client: op.client, token, call: op.call, ret: op.ret, from: undefined, to: undefined });
  }
  for (const n of h.notes) {
    if (n.kind !== "belief") continue;
    const hold = holds.get(`${n.client}/${n[field] as number}`);
    if (!hold) continue;
    hold.from = Math.min(hold.from ?? Infinity, n.at);
    hold.to = Math.max(hold.to ?? -Infinity, n.at);
  }
  return [...holds.values()];
}

/** No two holds' belief intervals overlap; tokens increase in real-time order of acquisition. */
export function checkExclusive(holds: Hold[], what: string): string[] {
  const out: string[] = [];
  const believed = holds.filter((x) => x.from !== undefined).sort((a, b) => a.from! - b.from!);
  let last: Hold | undefined;
  for (const x of believed) {
    if (last && x.from! <= last.to!) {
      out.push(`two ${what}s at once: client ${last.client} (${what === "lock" ? "token" : "term"} ${last.token}) believed it held until ${fmt(last.to!)}, client ${x.client} (${x.token}) from ${fmt(x.from!)}`);
    }
    if (!last || x.to! > last.to!) last = x;
  }
  // Real-time order: an acquisition that returned before another was called has the smaller token.
  const byRet = [...holds].sort((a, b) => a.ret - b.ret);
  for (const b of holds) {
    for (const a of byRet) {
      if (a.ret >= b.call) break;
      if (a.token >= b.token) out.push(`${what} ${a.token} of client ${a.client} returned at ${fmt(a.ret)}, before client ${b.client} asked at ${fmt(b.call)}, yet got ${b.token}, not a larger one`);
    }
  }
  const seen = new Map<number, number>();
  for (const x of holds) {
    const other = seen.get(x.token);
    if (other !== undefined && other !== x.client) out.push(`${what} ${x.token} granted to clients ${other} and ${x.client}`);
    seen.set(x.token, x.client);
  }
  return out;
}

/** Mutual exclusion with fencing (DESIGN §5). */
export function checkLock(h: History): Verdict {
  const holds = holdsOf(h, "acquire", "token");
  const out = checkExclusive(holds, "lock");
  const writes = h.ops.filter((o) => o.f === "fenced-write" && o.outcome === "ok");
  // A fenced write by token t that was called after a larger token's acquisition returned came from a stale holder: it must have been refused.
  for (const w of writes) {
    const t = w.input["token"] as number;
    const newer = holds.find((x) => x.token > t && x.ret < w.call);
    if (newer) out.push(`stale fenced write accepted: token ${t} (client ${w.client}) wrote at ${fmt(w.call)}-${fmt(w.ret)}, after token ${newer.token} was granted at ${fmt(newer.ret)}`);
  }
  // In the order the engine applied them, accepted fenced writes never go back to an older token.
  const applied = [...writes].sort((a, b) => (a.output!["version"] as number) - (b.output!["version"] as number));
  for (let i = 1; i < applied.length; i++) {
    const a = applied[i - 1]!;
    const b = applied[i]!;
    if ((b.input["token"] as number) < (a.input["token"] as number)) {
      out.push(`fenced write of token ${b.input["token"] as number} applied (version ${b.output!["version"] as number}) after one of token ${a.input["token"] as number} (version ${a.output!["version"] as number})`);
    }
  }
  return { checked: h.ops.length, anomalies: out };
}

/** One leader per term, increasing terms, and observers that never go back (DESIGN §5). */
export function checkElection(h: History): Verdict {
  const holds = holdsOf(h, "campaign", "term");
  const out = checkExclusive(holds, "leader");
  const winner = new Map(holds.map((x) => [x.token, `c${x.client}`]));
  const lastSeen = new Map<number, number>();
  for (const n of [...h.notes].sort((a, b) => a.at - b.at)) {
    if (n.kind !== "observe" || n["term"] === null) continue;
    const term = n["term"] as number;
    const prev = lastSeen.get(n.client);
    if (prev !== undefined && term < prev) out.push(`client ${n.client} observed term ${term} at ${fmt(n.at)} after term ${prev}`);
    lastSeen.set(n.client, Math.max(prev ?? -Infinity, term));
    const w = winner.get(term);
    if (w !== undefined && w !== n["id"]) out.push(`client ${n.client} observed ${String(n["id"])} leading term ${term}, which ${w} won`);
  }
  const observed = h.notes.filter((n) => n.kind === "observe").length;
  return { checked: h.ops.length + observed, anomalies: out };
}

/**
 * Tasks (DESIGN §5): every acknowledged submit ends done (or failed after spending its attempts, never
 * missing); an id is one task (every submit of it got the same record); no task ran more often than its
 * attempts, nor twice under one attempt number (two claims at once).
 */
export function checkTasks(h: History): Verdict {
  const out: string[] = [];
  const final = (h.final?.["tasks"] ?? {}) as Record<string, { state: string; attempt?: number; createdAt?: number } | null>;
  const acked = new Map<string, Op[]>();
  for (const o of h.ops) {
    if (o.f !== "submit" || o.outcome !== "ok") continue;
    const id = o.input["id"] as string;
    acked.set(id, [...(acked.get(id) ?? []), o]);
  }
  for (const [id, subs] of acked) {
    const f = final[id];
    if (!f) out.push(`task ${id} lost: its submit was acknowledged at ${fmt(subs[0]!.ret)} but it is gone`);
    else if (f.state !== "done" && f.state !== "failed") out.push(`task ${id} never finished: still ${f.state}`);
    const created = new Set(subs.map((s) => s.output!["createdAt"]));
    if (created.size > 1) out.push(`task ${id} enqueued ${created.size} times (submits returned different records)`);
    if (f?.createdAt !== undefined && !created.has(f.createdAt)) out.push(`task ${id} was replaced: the final record is not the one its submit returned`);
  }
  const runs = new Map<string, number[]>();
  for (const n of h.notes) if (n.kind === "run") runs.set(n["id"] as string, [...(runs.get(n["id"] as string) ?? []), n["attempt"] as number]);
  for (const [id, attempts] of runs) {
    if (attempts.length > 10) out.push(`task ${id} ran ${attempts.length} times, more than its 10 attempts`);
    if (new Set(attempts).size < attempts.length) out.push(`task ${id} ran twice under one attempt number (${attempts.join(", ")}): two workers held its claim`);
    if (Math.max(...attempts) > 10) out.push(`task ${id} ran as attempt ${Math.max(...attempts)} of 10`);
  }
  for (const [id, f] of Object.entries(final)) {
    if (f?.state === "done" && !runs.has(id)) out.push(`task ${id} is done but no worker ever ran it`);
  }
  const total = h.final?.["total"] as number | undefined;
  const attempted = new Set(h.ops.filter((o) => o.f === "submit" && o.outcome !== "fail").map((o) => o.input["id"]));
  if (total !== undefined && (total < acked.size || total > attempted.size)) {
    out.push(`the queue holds ${total} tasks, but ${acked.size} distinct ids were acknowledged and ${attempted.size} submitted`);
  }
  return { checked: h.ops.length + h.notes.filter((n) => n.kind === "run").length, anomalies: out };
}

/** Linearizability of value, map (a register per key, with CAS) and counter histories. */
export function checkRegisterOps(h: History, model: "register" | "counter"): Verdict {
  const ops = h.ops
    .filter((o) => o.outcome !== "fail")
    .map((o): Operation<never, never> => ({ client: o.client, call: o.call, ret: o.ret, input: o.input as never, output: (o.outcome === "ok" ? o.output : undefined) as never }));
  const r = model === "register" ? checkPerKey(registerModel, ops) : checkPerKey(counterModel, ops);
  return {
    checked: h.ops.length,
    anomalies: r.ok ? [] : [`not linearizable: key ${r.failedKey} (the search linearized at most ${r.bestLinearized} operations of it)`],
  };
}

/** The checker of `primitive`; a history without one successful operation is itself an anomaly (nothing was tested). */
export function check(primitive: Primitive, h: History): Verdict {
  const v = checkOne(primitive, h);
  if (!h.ops.some((o) => o.outcome === "ok")) v.anomalies.push("no operation succeeded: nothing was checked");
  return v;
}

function checkOne(primitive: Primitive, h: History): Verdict {
  switch (primitive) {
    case "lock":
      return checkLock(h);
    case "election":
      return checkElection(h);
    case "value":
    case "map":
      return checkRegisterOps(h, "register");
    case "counter":
      return checkRegisterOps(h, "counter");
    case "tasks":
      return checkTasks(h);
    default:
      return primitive satisfies never;
  }
}
