import { describe, expect, it } from "vitest";
import { jsonCodec } from "../../src/codec.js";
import { decodeRecord, encodeRecord, peekState } from "../../src/tasks/record.js";
import type { TaskRecord, TaskState } from "../../src/tasks/types.js";

const record = (state: TaskState, payload: unknown): TaskRecord => ({
  id: "t1",
  kind: "k",
  payload,
  state,
  attempt: 1,
  attempts: 3,
  priority: 0,
  runAt: 5,
  backoff: {},
  createdAt: 5,
});

describe("task records", () => {
  it("are stored state first, so a watcher reads the state without parsing, whatever the payload says", () => {
    for (const state of ["waiting", "delayed", "active", "done", "failed"] as const) {
      const bytes = encodeRecord(record(state, { state: "done", note: '{"state":"failed"' }));
      expect(peekState(bytes)).toBe(state);
      expect(decodeRecord({ key: "t/t1", value: bytes, createRevision: 1, modRevision: 2 })).toMatchObject({ state, version: 2, payload: { state: "done" } });
    }
  });

  it("a record in another field order is not guessed at: it is decoded", () => {
    expect(peekState(jsonCodec.encode({ id: "t1", state: "done" }))).toBeUndefined();
    expect(peekState(jsonCodec.encode({ state: "doneish" }))).toBeUndefined();
    expect(peekState(new Uint8Array())).toBeUndefined();
  });
});
