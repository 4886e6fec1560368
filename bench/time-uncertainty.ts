import { connect } from "../src/index.js";
import { fmt, percentile, type Row } from "./stats.js";

/** `c.time.now()` uncertainty on one engine: half the best round trip of its samples, plus the engine's resolution. */
export async function benchTimeUncertainty(url: string, label: string, count: number): Promise<Row> {
  const c = await connect(url);
  const xs: number[] = [];
  try {
    for (let i = 0; i < count; i++) xs.push((await c.time.now()).uncertaintyMs);
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
    note: `p99 ${fmt(percentile(xs, 99), 3)} ms over ${count} readings of 5 samples`,
  };
}
