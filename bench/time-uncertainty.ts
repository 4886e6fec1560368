import { connect } from "../src/index.js";
import { fmt, monotonicMs, percentile, type Row } from "./stats.js";

/**
 * How long the readings are spread over: a client's first seconds, not one burst, and long enough
 * that the p50 is the clock a client works with, not its start-up (on etcd the fine calibration
 * lands 1-2 s in, so over 3 s the p50 was a coin toss between the coarse and the fine reading).
 */
const SPREAD_MS = 10_000;

/**
 * `c.time.now()` uncertainty on one engine, over `count` readings spread across the client's first
 * 10 s (half the best round trip of each reading's samples, plus the engine's resolution; on etcd,
 * the driver's calibration: coarse, about ±10 ms, for its first one or two seconds, then about
 * ±0.6 ms). The note gives the first reading and when the readings first fell under 1 ms.
 */
export async function benchTimeUncertainty(url: string, label: string, count: number): Promise<Row> {
  const c = await connect(url);
  const xs: number[] = [];
  const start = monotonicMs();
  let underOneAt: number | undefined;
  try {
    for (let i = 0; i < count; i++) {
      const u = (await c.time.now()).uncertaintyMs;
      xs.push(u);
      if (u < 1 && underOneAt === undefined) underOneAt = monotonicMs() - start;
      const due = start + ((i + 1) * SPREAD_MS) / count;
      if (due > monotonicMs()) await new Promise((r) => setTimeout(r, due - monotonicMs()));
    }
  } finally {
    await c.close();
  }
  const p50 = percentile(xs, 50);
  return {
    benchmark: `c.time.now() uncertainty p50 (${label})`,
    unit: "ms",
    concord: p50,
    peer: undefined,
    peerName: "-",
    ratio: undefined,
    target: "< 1 ms",
    met: p50 < 1,
    note: `first reading ${fmt(xs[0] ?? Number.NaN, 3)} ms, under 1 ms from ${underOneAt === undefined ? "never" : `${fmt(underOneAt)} ms`} on, p99 ${fmt(percentile(xs, 99), 3)} ms over ${count} readings in ${SPREAD_MS / 1000} s`,
  };
}
