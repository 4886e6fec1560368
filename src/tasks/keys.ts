import { segment } from "../internal/names.js";

const PRIORITY_BIAS = 1_000_000_000;

/** The key layout of one queue: records, the run index (priority, then due time), and claims. */
export class TaskKeys {
  readonly root: string;
  readonly records: string;
  readonly index: string;
  readonly claims: string;

  constructor(ns: string, queue: string) {
    this.root = `${ns}tasks/${segment(queue)}/`;
    this.records = `${this.root}t/`;
    this.index = `${this.root}q/`;
    this.claims = `${this.root}c/`;
  }

  record(id: string): string {
    return this.records + id;
  }
  claim(id: string): string {
    return this.claims + id;
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
