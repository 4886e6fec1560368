import { describe, expect, it } from "vitest";
import { check, checkElection, checkLock, checkTasks } from "./checkers.js";
import type { History, Note, Op } from "./history.js";

const op = (client: number, f: string, call: number, ret: number, input: Record<string, unknown>, output?: Record<string, unknown>, outcome: Op["outcome"] = "ok"): Op => ({
  client,
  f,
  call,
  ret: outcome === "info" ? Infinity : ret,
  input,
  output: outcome === "ok" ? output : undefined,
  outcome,
});
const note = (client: number, kind: string, at: number, fields: Record<string, unknown> = {}): Note => ({ client, kind, at, ...fields });
const hist = (ops: Op[], notes: Note[] = [], final?: Record<string, unknown>): History => ({ ops, notes, faults: [], ...(final ? { final } : {}) });

/** Two clients taking a lock in turn: client 0 holds token 5, then client 1 holds token 9. */
const goodLock = (): History =>
  hist(
    [
      op(0, "acquire", 0, 1, {}, { token: 5 }),
      op(1, "acquire", 0.5, 20, {}, { token: 9 }),
      op(0, "fenced-write", 5, 6, { token: 5 }, { version: 6 }),
      op(0, "release", 10, 11, { token: 5 }, {}),
      op(1, "fenced-write", 22, 23, { token: 9 }, { version: 11 }),
      op(0, "fenced-write", 24, 25, { token: 5 }, undefined, "fail"),
    ],
    [note(0, "belief", 2, { token: 5 }), note(0, "belief", 8, { token: 5 }), note(1, "belief", 21, { token: 9 }), note(1, "belief", 26, { token: 9 })],
  );

describe("lock checker", () => {
  it("accepts holds one after another, tokens increasing, the stale write refused", () => {
    expect(checkLock(goodLock()).anomalies).toEqual([]);
  });

  it("finds two holders believing at once", () => {
    const h = goodLock();
    h.notes.push(note(0, "belief", 21.5, { token: 5 })); // client 0 still believes after client 1 began
    expect(checkLock(h).anomalies.join()).toMatch(/two locks at once/);
  });

  it("finds a smaller token granted after a larger one returned", () => {
    const h = goodLock();
    h.ops.push(op(2, "acquire", 30, 31, {}, { token: 7 }));
    expect(checkLock(h).anomalies.join()).toMatch(/yet got 7/);
  });

  it("finds an accepted fenced write by a stale holder", () => {
    const h = goodLock();
    h.ops[5] = op(0, "fenced-write", 24, 25, { token: 5 }, { version: 12 });
    const found = checkLock(h).anomalies.join("\n");
    expect(found).toMatch(/stale fenced write accepted: token 5/);
    expect(found).toMatch(/applied \(version 12\) after one of token 9/);
  });

  it("finds one token granted to two clients", () => {
    const h = goodLock();
    h.ops.push(op(2, "acquire", 40, 41, {}, { token: 9 }));
    expect(checkLock(h).anomalies.join()).toMatch(/granted to clients 1 and 2/);
  });
});

describe("election checker", () => {
  const good = (): History =>
    hist(
      [op(0, "campaign", 0, 1, {}, { term: 3 }), op(0, "resign", 10, 11, { term: 3 }, {}), op(1, "campaign", 0, 12, {}, { term: 4 })],
      [
        note(0, "belief", 2, { term: 3 }),
        note(0, "belief", 9, { term: 3 }),
        note(1, "belief", 13, { term: 4 }),
        note(2, "observe", 1, { term: 3, id: "c0" }),
        note(2, "observe", 11, { term: null, id: null }),
        note(2, "observe", 12.5, { term: 4, id: "c1" }),
      ],
    );

  it("accepts leaders in turn with increasing terms, observed in order", () => {
    expect(checkElection(good()).anomalies).toEqual([]);
  });

  it("finds two leaders at once", () => {
    const h = good();
    h.notes.push(note(0, "belief", 14, { term: 3 }));
    expect(checkElection(h).anomalies.join()).toMatch(/two leaders at once/);
  });

  it("finds an observer going back to an older term", () => {
    const h = good();
    h.notes.push(note(2, "observe", 20, { term: 3, id: "c0" }));
    expect(checkElection(h).anomalies.join()).toMatch(/observed term 3 .* after term 4/);
  });

  it("finds an observer reporting the wrong winner of a term", () => {
    const h = good();
    h.notes.push(note(3, "observe", 13, { term: 4, id: "c0" }));
    expect(checkElection(h).anomalies.join()).toMatch(/observed c0 leading term 4, which c1 won/);
  });
});

describe("task checker", () => {
  const good = (): History =>
    hist(
      [
        op(0, "submit", 0, 1, { id: "a" }, { createdAt: 100 }),
        op(1, "submit", 2, 3, { id: "a" }, { createdAt: 100 }),
        op(1, "submit", 4, 5, { id: "b" }, { createdAt: 105 }),
        op(0, "submit", 6, 0, { id: "c" }, undefined, "info"),
      ],
      [note(2, "run", 7, { id: "a", attempt: 1 }), note(3, "run", 9, { id: "a", attempt: 2 }), note(3, "run", 10, { id: "b", attempt: 1 })],
      { tasks: { a: { state: "done", createdAt: 100 }, b: { state: "done", createdAt: 105 } }, total: 2 },
    );

  it("accepts every acknowledged task done once per attempt", () => {
    expect(checkTasks(good()).anomalies).toEqual([]);
  });

  it("finds an acknowledged task that is gone", () => {
    const h = good();
    (h.final!["tasks"] as Record<string, unknown>)["b"] = null;
    expect(checkTasks(h).anomalies.join()).toMatch(/task b lost/);
  });

  it("finds an id enqueued twice", () => {
    const h = good();
    h.ops[1] = op(1, "submit", 2, 3, { id: "a" }, { createdAt: 101 });
    expect(checkTasks(h).anomalies.join()).toMatch(/task a enqueued 2 times/);
  });

  it("finds two runs under one attempt and a queue holding more tasks than were submitted", () => {
    const h = good();
    h.notes.push(note(4, "run", 8, { id: "a", attempt: 1 }));
    h.final!["total"] = 4;
    const found = checkTasks(h).anomalies.join("\n");
    expect(found).toMatch(/ran twice under one attempt number/);
    expect(found).toMatch(/holds 4 tasks/);
  });
});

describe("linearizability through check()", () => {
  it("map and value: registers with CAS per key, a lost CAS caught", () => {
    const good = hist([
      op(0, "write", 0, 1, { key: "k0", f: "write", value: 1 }, { f: "write", version: 4 }),
      op(1, "cas", 2, 3, { key: "k0", f: "cas", ifVersion: 4, value: 2 }, { f: "cas", ok: true, version: 6 }),
      op(0, "write", 2, 3, { key: "k1", f: "write", value: 7 }, { f: "write", version: 5 }),
      op(0, "read", 4, 5, { key: "k0", f: "read" }, { f: "read", value: 2, version: 6 }),
      op(1, "read", 4, 5, { key: "k1", f: "read" }, { f: "read", value: 7, version: 5 }),
    ]);
    expect(check("map", good).anomalies).toEqual([]);
    const bad = structuredClone(good);
    bad.ops[3] = op(0, "read", 4, 5, { key: "k0", f: "read" }, { f: "read", value: 1, version: 4 });
    expect(check("map", bad).anomalies.join()).toMatch(/not linearizable: key k0/);
  });

  it("counter: CAS succeeds only on the expected value; an indeterminate increment may or may not count", () => {
    const good = hist([
      op(0, "incr", 0, 1, { key: "k0", f: "incr", by: 2 }, { value: 2 }),
      op(1, "cas", 2, 3, { key: "k0", f: "cas", expect: 2, next: 12 }, { ok: true }),
      op(0, "cas", 4, 5, { key: "k0", f: "cas", expect: 2, next: 20 }, { ok: false }),
      op(1, "incr", 6, 7, { key: "k0", f: "incr", by: 1 }, undefined, "info"),
      op(0, "read", 8, 9, { key: "k0", f: "read" }, { value: 12 }),
    ]);
    expect(check("counter", good).anomalies).toEqual([]);
    const bad = structuredClone(good);
    bad.ops[2] = op(0, "cas", 4, 5, { key: "k0", f: "cas", expect: 2, next: 20 }, { ok: true });
    expect(check("counter", bad).anomalies.join()).toMatch(/not linearizable: key k0/);
  });
});

describe("history recorder", () => {
  it("merges invocations with completions; one cut off (client killed) stays open as info", async () => {
    const { Recorder } = await import("./history.js");
    const r = new Recorder();
    r.add({ t: "invoke", client: 0, seq: 0, f: "write", input: { key: "k", f: "write", value: 1 }, at: 1 });
    r.add({ t: "invoke", client: 1, seq: 0, f: "read", input: { key: "k", f: "read" }, at: 2 });
    r.add({ t: "complete", client: 1, seq: 0, outcome: "ok", output: { f: "read", value: null, version: 0 }, at: 3 });
    r.add({ t: "invoke", client: 1, seq: 1, f: "write", input: { key: "k", f: "write", value: 2 }, at: 4 });
    r.add({ t: "complete", client: 1, seq: 1, outcome: "info", error: "UNAVAILABLE", at: 5 });
    r.add({ t: "note", client: 1, kind: "ready", at: 0 });
    expect(r.ops.map((o) => [o.client, o.outcome, o.ret])).toEqual([
      [0, "info", Infinity],
      [1, "ok", 3],
      [1, "info", Infinity],
    ]);
    expect(r.notes).toEqual([{ client: 1, kind: "ready", at: 0 }]);
  });
});
