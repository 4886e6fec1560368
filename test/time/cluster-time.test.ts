/**
 * Two real processes agree on `c.time.now()` within the uncertainty each reports, even when one's
 * local clock is 7 s off (the skew injected through the Clock option).
 *
 * Each reading says: the engine's time at the moment the call returned was `ms ± uncertaintyMs`.
 * That moment lies between `before` and `after` on CLOCK_MONOTONIC, which every process on the host
 * shares, so each reading bounds D = engine time − monotonic time to
 * [ms − u − after, ms + u − before]. Two processes agree within their uncertainties exactly when
 * their bounds on the one true D overlap.
 */
import { spawn } from "node:child_process";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { engine, engineNames } from "../helpers/engines.js";

const CHILD = fileURLToPath(new URL("./time-child.ts", import.meta.url));
const SKEW_MS = 7_000;

type Msg = Record<string, number | string>;

function child(url: string, skewMs: number): { next(): Promise<Msg>; send(l: string): void; kill(): void } {
  const p = spawn(process.execPath, ["--import", "tsx", CHILD, JSON.stringify({ url, skewMs })], { stdio: ["pipe", "pipe", "inherit"] });
  const queue: Msg[] = [];
  const waiting: Array<(m: Msg) => void> = [];
  createInterface({ input: p.stdout }).on("line", (l) => {
    const m = JSON.parse(l) as Msg;
    const w = waiting.shift();
    if (w) w(m);
    else queue.push(m);
  });
  return {
    next: () =>
      queue.length > 0
        ? Promise.resolve(queue.shift()!)
        : new Promise((resolve, reject) => {
            const timer = setTimeout(() => reject(new Error(`time child ${p.pid} said nothing for 30 s`)), 30_000);
            waiting.push((m) => (clearTimeout(timer), resolve(m)));
          }),
    send: (l) => void p.stdin.write(`${l}\n`),
    kill: () => void p.kill("SIGKILL"),
  };
}

for (const name of engineNames().filter((e) => e !== "memory")) {
  describe(`cluster time across processes: ${name}`, () => {
    it(`two processes agree within their reported uncertainty though one's clock is ${SKEW_MS} ms off`, async () => {
      const eng = engine(name);
      const honest = child(eng.url, 0);
      const skewed = child(eng.url, SKEW_MS);
      try {
        expect((await honest.next())["event"]).toBe("ready");
        const ready = await skewed.next();
        expect(Math.abs((ready["skew"] as number) - SKEW_MS)).toBeLessThan(50); // the skew is really there
        for (let round = 0; round < 5; round++) {
          honest.send("read");
          skewed.send("read");
          const [a, b] = [await honest.next(), await skewed.next()];
          const bounds = (r: Msg): [number, number] => {
            const [ms, u, before, after] = [r["ms"], r["uncertaintyMs"], r["before"], r["after"]] as number[];
            expect(u).toBeGreaterThan(0);
            return [ms! - u! - after!, ms! + u! - before!];
          };
          const [loA, hiA] = bounds(a);
          const [loB, hiB] = bounds(b);
          expect(Math.max(loA, loB), `round ${round}: [${loA}, ${hiA}] and [${loB}, ${hiB}] share no instant`).toBeLessThanOrEqual(Math.min(hiA, hiB));
          // and the skewed process's cluster time has shed its local clock's skew
          expect(Math.abs((b["local"] as number) - (b["ms"] as number) - SKEW_MS)).toBeLessThan(1_000 + (b["uncertaintyMs"] as number));
        }
      } finally {
        honest.kill();
        skewed.kill();
        eng.cleanup();
      }
    }, 60_000);
  });
}
