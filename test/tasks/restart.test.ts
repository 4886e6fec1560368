/**
 * No submitted task is lost across an engine restart: worker processes run a few hundred tasks on
 * a PRIVATE engine (redis with appendfsync always; a postgres cluster of its own), the engine is
 * killed and started again mid-run, and afterwards every acknowledged task has completed, each id
 * is one task, and no task ran more than its `attempts`.
 */
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { connect } from "../../src/index.js";
import { engineNames } from "../helpers/engines.js";
import { PrivatePostgres, PrivateRedis } from "../helpers/private-engines.js";
import { type Proc, spawnWorker } from "../helpers/procs.js";
import { sleep, until } from "../helpers/wait.js";

const TASKS = 240;
const ATTEMPTS = 3;

interface Private {
  url: string;
  /** A crash and a start on the same port: only what the engine made durable survives. */
  restart(): Promise<void>;
  close(): Promise<void>;
}

const ENGINES: Record<string, () => Promise<Private>> = {
  redis: async () => {
    const r = await PrivateRedis.start({ appendfsync: "always" });
    return { url: `redis://${r.address}?keyspace=restart`, restart: () => r.restart(true), close: () => r.close() };
  },
  postgres: async () => {
    const pg = await PrivatePostgres.start();
    return { url: `${pg.url()}?schema=restart`, restart: () => pg.restart("immediate"), close: () => pg.close() };
  },
};

/** The `start N PID ATTEMPT` / `done N PID` lines the worker processes append. */
function runs(file: string): { starts: Map<number, number[]>; done: Set<number> } {
  const starts = new Map<number, number[]>();
  const done = new Set<number>();
  if (!existsSync(file)) return { starts, done };
  for (const line of readFileSync(file, "utf8").split("\n")) {
    const [what, n, , attempt] = line.split(" ");
    if (what === "start") starts.set(Number(n), [...(starts.get(Number(n)) ?? []), Number(attempt)]);
    else if (what === "done") done.add(Number(n));
  }
  return { starts, done };
}

describe.each(engineNames().filter((e) => e in ENGINES))("tasks across an engine restart: %s", (name) => {
  it(`${TASKS} tasks, the engine killed and started again mid-run: every acknowledged task completes, once per id, within its attempts`, async () => {
    const engine = await ENGINES[name]!();
    const dir = mkdtempSync(join(tmpdir(), "concord-task-restart-"));
    const file = join(dir, "runs");
    const workers: Proc[] = [];
    const c = await connect(engine.url, { ttlMs: 2000 });
    try {
      const q = c.tasks("jobs");
      /** Submits task n until the engine acknowledges it; the id makes a repeat harmless. */
      const submit = async (n: number): Promise<void> => {
        for (;;) {
          try {
            await q.submit("job", { n }, { id: `t${n}`, attempts: ATTEMPTS, backoff: 50 });
            return;
          } catch {
            await sleep(50); // the engine is away: try the same id again
          }
        }
      };
      for (let n = 0; n < TASKS / 2; n++) await submit(n);
      for (let i = 0; i < 2; i++) workers.push(spawnWorker({ mode: "task-worker", url: engine.url, name: "jobs", file, ttlMs: 2000 }));
      await Promise.all(workers.map((w) => w.next("working", 30_000)));
      // The rest are submitted while the engine goes down and comes back.
      const more = (async () => {
        for (let n = TASKS / 2; n < TASKS; n++) await submit(n);
      })();
      await until(() => runs(file).done.size >= TASKS / 6, 30_000, "the first tasks to finish");
      const before = runs(file).done.size;
      await engine.restart();
      await more;
      await until(() => runs(file).done.size === TASKS, 90_000, `all ${TASKS} tasks to finish`);
      expect(before).toBeLessThan(TASKS); // the restart did come mid-run

      for (let n = 0; n < TASKS; n++) {
        const r = await q.result(`t${n}`, { timeoutMs: 30_000 });
        expect(r, `task t${n}`).toEqual({ state: "done", result: null });
        const rec = await q.get(`t${n}`);
        expect(rec!.attempt).toBeLessThanOrEqual(ATTEMPTS);
      }
      const { starts } = runs(file);
      for (let n = 0; n < TASKS; n++) {
        const attempts = starts.get(n) ?? [];
        expect(attempts.length, `runs of task ${n}`).toBeGreaterThanOrEqual(1);
        expect(attempts.length, `runs of task ${n}`).toBeLessThanOrEqual(ATTEMPTS);
        expect(new Set(attempts).size, `attempt numbers of task ${n}: ${attempts.join(",")}`).toBe(attempts.length);
      }
      // One record per id: nothing but the submitted tasks, all done.
      expect(await q.stats()).toEqual({ waiting: 0, delayed: 0, active: 0, done: TASKS, failed: 0 });
    } finally {
      for (const w of workers) w.send("stop");
      await Promise.race([Promise.all(workers.map((w) => w.exited)), sleep(10_000)]);
      for (const w of workers) w.child.kill("SIGKILL");
      await c.close().catch(() => undefined);
      await engine.close();
      rmSync(dir, { recursive: true, force: true });
    }
  }, 180_000);
});
