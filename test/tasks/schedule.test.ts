/**
 * `schedule()` enqueues exactly one task per tick across the cluster, however many processes run
 * the scheduler: three processes schedule the same `everyMs` schedule; every tick between the
 * first and the last has exactly one task, and a worker runs each once.
 */
import { spawn } from "node:child_process";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { connect } from "../../src/index.js";
import { engine, engineNames } from "../helpers/engines.js";
import { sleep, until } from "../helpers/wait.js";

const CHILD = fileURLToPath(new URL("./schedule-child.ts", import.meta.url));
const EVERY_MS = 250;

function scheduler(config: object): { stop(): Promise<void>; ready: Promise<void>; kill(): void } {
  const child = spawn(process.execPath, ["--import", "tsx", CHILD, JSON.stringify(config)], { stdio: ["pipe", "pipe", "inherit"] });
  const events: string[] = [];
  const seen = new Set<() => void>();
  createInterface({ input: child.stdout }).on("line", (l) => {
    events.push(l);
    for (const f of seen) f();
  });
  const waitFor = (event: string, ms: number): Promise<void> =>
    new Promise((resolve, reject) => {
      const look = (): void => {
        if (events.some((e) => e.includes(`"${event}"`))) {
          clearTimeout(timer);
          seen.delete(look);
          resolve();
        }
      };
      const timer = setTimeout(() => reject(new Error(`scheduler ${child.pid}: no ${event} in ${ms} ms; saw ${events.join(" ")}`)), ms);
      seen.add(look);
      look();
      child.once("exit", () => (events.some((e) => e.includes(`"${event}"`)) ? undefined : reject(new Error(`scheduler ${child.pid} exited without ${event}`))));
    });
  return {
    ready: waitFor("scheduling", 30_000),
    stop: async () => {
      child.stdin.write("stop\n");
      await waitFor("stopped", 15_000);
    },
    kill: () => void child.kill("SIGKILL"),
  };
}

for (const name of engineNames().filter((e) => e !== "memory")) {
  describe(`schedule across processes: ${name}`, () => {
    it("three processes scheduling one everyMs schedule enqueue exactly one task per tick, none missed", async () => {
      const eng = engine(name);
      const procs = Array.from({ length: 3 }, () => scheduler({ url: eng.url, queue: "cron", everyMs: EVERY_MS }));
      const c = await connect(eng.url, { ttlMs: 2000 });
      try {
        await Promise.all(procs.map((p) => p.ready));
        const q = c.tasks("cron");
        const runs = new Map<string, number>();
        const w = q.work({ tick: (_p, ctx) => void runs.set(ctx.id, (runs.get(ctx.id) ?? 0) + 1) }, { concurrency: 4 });
        await sleep(10 * EVERY_MS);
        await Promise.all(procs.map((p) => p.stop()));
        // Every tick from the first to the last, once.
        const stats = await q.stats();
        const total = stats.waiting + stats.delayed + stats.active + stats.done + stats.failed;
        await until(async () => (await q.stats()).done === total, 10_000, "every tick's task to run");
        await w.close();
        expect(await q.failed()).toEqual([]);
        const slots = [...runs.keys()].map((id) => {
          const m = /^tick@(\d+)$/.exec(id);
          expect(m, `task id ${id}`).not.toBeNull();
          return Number(m![1]);
        });
        slots.sort((a, b) => a - b);
        expect(slots.length).toBe(total);
        expect(slots.length).toBeGreaterThanOrEqual(7); // 10 periods, less start-up and shut-down
        for (const s of slots) expect(s % EVERY_MS).toBe(0);
        for (let i = 1; i < slots.length; i++) expect(slots[i]! - slots[i - 1]!, `ticks ${slots[i - 1]} and ${slots[i]}`).toBe(EVERY_MS);
        for (const [id, n] of runs) expect(n, `runs of ${id}`).toBe(1);
      } finally {
        for (const p of procs) p.kill();
        await c.close();
        eng.cleanup();
      }
    }, 90_000);
  });
}
