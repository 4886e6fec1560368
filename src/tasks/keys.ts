import { segment } from "../internal/names.js";

const PRIORITY_BIAS = 1_000_000_000;

/**
 * The key layout of one queue: records, and the run index (priority, then due time), whose entry
 * for a task carries the claim of the worker running it (the entry put again under its lease).
 */
export class TaskKeys {
  readonly root: string;
  readonly records: string;
  readonly index: string;

  constructor(ns: string, queue: string) {
    this.root = `${ns}tasks/${segment(queue)}/`;
    this.records = `${this.root}t/`;
    this.index = `${this.root}q/`;
  }

  record(id: string): string {
    return this.records + id;
  }
  /** Sorts by priority (lower first), then due time, then id. */
  indexEntry(priority: number, runAt: number, id: string): string {
    return `${this.index}${String(priority + PRIORITY_BIAS).padStart(10, "0")}/${String(Math.max(0, Math.round(runAt))).padStart(15, "0")}/${id}`;
  }
  parseIndex(key: string): { runAt: number; id: string } {
    const [, runAt, ...id] = key.slice(this.index.length).split("/");
    return { runAt: Number(runAt), id: id.join("/") };
  }
}
