/** Watches a value in its own process and reports, per change, how long after the write it arrived. */
import { connect } from "../src/index.js";
import { monotonicMs } from "./stats.js";

const [path, countArg] = process.argv.slice(2);
const count = Number(countArg);
const c = await connect(`sqlite:${path}`);
const lat: number[] = [];
const it = c.value<{ t: number }>("watched").watch();
process.stdout.write("ready\n");
for await (const ev of it) {
  if (ev.value) lat.push(monotonicMs() - ev.value.t);
  if (lat.length === count) break;
}
process.stdout.write(`${JSON.stringify(lat)}\n`);
await c.close();
