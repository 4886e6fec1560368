import { connect } from "../src/index.js";
import { fmt, monotonicMs, percentile, type Row } from "./stats.js";

/** How long the readings are spread over: a client's first seconds, not one burst. */
const SPREAD_MS = 3_000;

/**
 * `c.time.now()` uncertainty on one engine, over `count` readings spread across the client's first
 * 3 s (half the best round trip of each reading's samples, plus the engine's resolution; on etcd,
 * the driver's calibration: coarse, about ±10 ms, for its first second, then about ±0.6 ms).
 */
export async function benchTimeUncertainty(url: string, label: string, count: number): Promise<Row> {
  const c = await connect(url);
  const xs: number[] = [];
  const start = monotonicMs();
  try {
    for (let i = 0; i < count; i++) {
      xs.push((await c.time.now()).uncertaintyMs);
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
    note: `first reading ${fmt(xs[0] ?? Number.NaN, 3)} ms, p99 ${fmt(percentile(xs, 99), 3)} ms over ${count} readings in ${SPREAD_MS / 1000} s`,
  };
}
