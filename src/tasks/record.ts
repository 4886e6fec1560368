import { jsonCodec } from "../codec.js";
import type { Entry } from "../driver/types.js";
import { ConcordError } from "../errors.js";
import type { TaskRecord, TaskState } from "./types.js";

export function decodeRecord(e: Entry): TaskRecord & { version: number } {
  const r = jsonCodec.decode(e.value) as TaskRecord;
  if (typeof r !== "object" || r === null || typeof r.id !== "string") throw new ConcordError("CORRUPT", `task record ${e.key} is malformed`);
  return { ...r, version: e.modRevision };
}

/** Done or failed: nothing more will run it. */
export function isFinished(state: TaskState | undefined): boolean {
  return state === "done" || state === "failed";
}

/** A record as stored: JSON with `state` first, so a watcher can tell the state without parsing (see {@link peekState}). */
export function encodeRecord(r: TaskRecord): Uint8Array {
  const { state, ...rest } = r;
  return jsonCodec.encode({ state, ...rest });
}

const HEAD = new TextEncoder().encode('{"state":"');
const STATES: TaskState[] = ["waiting", "delayed", "active", "done", "failed"];
const NAMES = STATES.map((s) => new TextEncoder().encode(`${s}"`));

/** The state of a stored record read from its first bytes, or undefined if they do not say (then decode it). */
export function peekState(value: Uint8Array): TaskState | undefined {
  for (let i = 0; i < HEAD.length; i++) if (value[i] !== HEAD[i]) return undefined;
  for (let s = 0; s < NAMES.length; s++) {
    const name = NAMES[s]!;
    let j = 0;
    while (j < name.length && value[HEAD.length + j] === name[j]) j++;
    if (j === name.length) return STATES[s];
  }
  return undefined;
}
