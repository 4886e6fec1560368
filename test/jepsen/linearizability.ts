/**
 * A linearizability checker in the style of Wing & Gong / Lowe, as Porcupine does it: depth-first
 * search over the order in which operations take effect, with memoization of (linearized set, state)
 * so that histories of a few thousand operations per key check in milliseconds.
 */

/** One recorded operation. `ret` is Infinity when the outcome is unknown (timed out, cut off). */
export interface Operation<I, O> {
  client: number;
  call: number;
  ret: number;
  input: I;
  /** Undefined when the outcome is unknown. */
  output: O | undefined;
}

export interface Model<S, I, O> {
  init(): S;
  /** Applies `input` to `state`; returns the next state if `output` is what the model allows, else undefined. */
  step(state: S, input: I, output: O | undefined): S | undefined;
  /** A string identifying the state, for the memo. */
  hash(state: S): string;
}

interface Node {
  id: number;
  isCall: boolean;
  time: number;
  prev: Node | undefined;
  next: Node | undefined;
  match: Node | undefined; // call -> its return
}

export interface CheckResult {
  ok: boolean;
  /** Operations checked. */
  operations: number;
  /** The longest prefix (in ops linearized) the search reached, for a report when it fails. */
  bestLinearized: number;
}

/** Checks one history (one key) against `model`. */
export function checkLinearizable<S, I, O>(model: Model<S, I, O>, history: Array<Operation<I, O>>): CheckResult {
  const events: Node[] = [];
  history.forEach((op, id) => {
    const call: Node = { id, isCall: true, time: op.call, prev: undefined, next: undefined, match: undefined };
    const ret: Node = { id, isCall: false, time: op.ret, prev: undefined, next: undefined, match: undefined };
    call.match = ret;
    events.push(call, ret);
  });
  // By time; at a tie a call goes first, so touching operations count as concurrent (the lenient reading).
  events.sort((a, b) => a.time - b.time || (a.isCall === b.isCall ? 0 : a.isCall ? -1 : 1));
  const head: Node = { id: -1, isCall: false, time: -Infinity, prev: undefined, next: undefined, match: undefined };
  let prev = head;
  for (const e of events) {
    prev.next = e;
    e.prev = prev;
    prev = e;
  }

  const lift = (call: Node): void => {
    call.prev!.next = call.next;
    if (call.next) call.next.prev = call.prev;
    const ret = call.match!;
    ret.prev!.next = ret.next;
    if (ret.next) ret.next.prev = ret.prev;
  };
  const unlift = (call: Node): void => {
    const ret = call.match!;
    ret.prev!.next = ret;
    if (ret.next) ret.next.prev = ret;
    call.prev!.next = call;
    if (call.next) call.next.prev = call;
  };

  const n = history.length;
  const linearized = new Uint8Array(n);
  let count = 0;
  let best = 0;
  const memo = new Set<string>();
  const stack: Array<{ node: Node; state: S }> = [];
  let state = model.init();
  let entry = head.next;
  const bitsKey = (): string => {
    // compact key of the linearized set
    let s = "";
    for (let i = 0; i < n; i += 8) {
      let byte = 0;
      for (let j = 0; j < 8 && i + j < n; j++) byte |= linearized[i + j]! << j;
      s += String.fromCharCode(byte);
    }
    return s;
  };

  while (head.next !== undefined) {
    if (entry === undefined) return { ok: false, operations: n, bestLinearized: best };
    if (entry.isCall) {
      const op = history[entry.id]!;
      const next = model.step(state, op.input, op.output);
      if (next !== undefined) {
        linearized[entry.id] = 1;
        const key = bitsKey() + "|" + model.hash(next);
        if (!memo.has(key)) {
          memo.add(key);
          stack.push({ node: entry, state });
          state = next;
          count++;
          best = Math.max(best, count);
          lift(entry);
          entry = head.next;
          continue;
        }
        linearized[entry.id] = 0;
      }
      entry = entry.next;
    } else {
      // A return whose call is not linearized yet: backtrack.
      const top = stack.pop();
      if (!top) return { ok: false, operations: n, bestLinearized: best };
      state = top.state;
      linearized[top.node.id] = 0;
      count--;
      unlift(top.node);
      entry = top.node.next;
    }
  }
  return { ok: true, operations: n, bestLinearized: n };
}

/** Splits a history by key and checks each part on its own (P-compositionality). */
export function checkPerKey<S, I extends { key: string }, O>(model: Model<S, I, O>, history: Array<Operation<I, O>>): CheckResult & { failedKey?: string } {
  const byKey = new Map<string, Array<Operation<I, O>>>();
  for (const op of history) {
    const list = byKey.get(op.input.key) ?? [];
    list.push(op);
    byKey.set(op.input.key, list);
  }
  for (const [key, ops] of byKey) {
    const r = checkLinearizable(model, ops);
    if (!r.ok) return { ...r, operations: history.length, failedKey: key };
  }
  return { ok: true, operations: history.length, bestLinearized: history.length };
}

// ---- models ----

/** A versioned register with compare-and-set: what `value` and each `map` entry promise. */
export type RegisterInput =
  | { key: string; f: "read" }
  | { key: string; f: "write"; value: number }
  | { key: string; f: "cas"; ifVersion: number; value: number };
export type RegisterOutput =
  | { f: "read"; value: number | null; version: number }
  | { f: "write"; version: number }
  | { f: "cas"; ok: boolean; version?: number };
export interface RegisterState {
  value: number | null;
  version: number;
}

export const registerModel: Model<RegisterState, RegisterInput, RegisterOutput> = {
  init: () => ({ value: null, version: 0 }),
  hash: (s) => `${s.value}@${s.version}`,
  step(s, input, out) {
    switch (input.f) {
      case "read":
        if (out === undefined) return s;
        if (out.f !== "read" || out.value !== s.value) return undefined;
        // after a write of unknown outcome the version is unknown until a read shows it
        if (Number.isNaN(s.version)) return { value: s.value, version: out.version };
        return out.version === s.version ? s : undefined;
      case "write":
        if (out === undefined) return { value: input.value, version: Number.NaN }; // version unknown
        return out.f === "write" && (Number.isNaN(s.version) || out.version > s.version) ? { value: input.value, version: out.version } : undefined;
      case "cas": {
        if (out === undefined) {
          return s.version === input.ifVersion ? { value: input.value, version: Number.NaN } : s;
        }
        if (out.f !== "cas") return undefined;
        const unknown = Number.isNaN(s.version);
        if (unknown) return out.ok && out.version !== undefined ? { value: input.value, version: out.version } : out.ok ? undefined : s;
        if (out.ok) return s.version === input.ifVersion && out.version !== undefined && out.version > s.version ? { value: input.value, version: out.version } : undefined;
        return s.version !== input.ifVersion ? s : undefined;
      }
      default:
        return input satisfies never;
    }
  },
};

/** A counter: increments return the new value; reads return the value; CAS sets `next` only if the value is `expect`. */
export type CounterInput =
  | { key: string; f: "incr"; by: number }
  | { key: string; f: "read" }
  | { key: string; f: "cas"; expect: number; next: number };
export type CounterOutput = { value: number } | { ok: boolean };

export const counterModel: Model<number, CounterInput, CounterOutput> = {
  init: () => 0,
  hash: (s) => String(s),
  step(s, input, out) {
    if (input.f === "cas") {
      const hit = s === input.expect;
      if (out === undefined) return hit ? input.next : s;
      if (!("ok" in out)) return undefined;
      return out.ok === hit ? (hit ? input.next : s) : undefined;
    }
    const next = input.f === "incr" ? s + input.by : s;
    if (out === undefined) return next;
    return "value" in out && out.value === next ? next : undefined;
  },
};
