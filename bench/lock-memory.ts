import { Mutex } from "async-mutex";
import { connect } from "../src/index.js";
import { fmt, monotonicMs, type Row } from "./stats.js";

/** In-process lock acquire+release: Concord's memory engine (fenced, leased) beside async-mutex (neither). */
export async function benchMemoryLock(durationMs: number): Promise<Row> {
  const c = await connect("memory:bench-lock");
  const lock = c.lock("bench");
  for (let i = 0; i < 200; i++) await (await lock.acquire()).release(); // warm-up, and the session lease
  let n = 0;
  let start = monotonicMs();
  while (monotonicMs() - start < durationMs) {
    for (let i = 0; i < 100; i++) {
      const h = await lock.acquire();
      await h.release();
    }
    n += 100;
  }
  const concord = n / ((monotonicMs() - start) / 1000);
  await c.close();

  const m = new Mutex();
  n = 0;
  start = monotonicMs();
  while (monotonicMs() - start < durationMs) {
    for (let i = 0; i < 1000; i++) {
      const release = await m.acquire();
      release();
    }
    n += 1000;
  }
  const peer = n / ((monotonicMs() - start) / 1000);
  const ratio = concord / peer;
  return {
    benchmark: "memory lock acquire+release, 1 client",
    unit: "ops/s",
    concord,
    peer,
    peerName: "async-mutex",
    ratio,
    target: ">= 0.25x",
    met: ratio >= 0.25,
    note: `${fmt(concord)} vs ${fmt(peer)} ops/s`,
  };
}
