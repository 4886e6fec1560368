/**
 * Child of sqlite-crash.test.ts: appends batches to a SqliteEventStore as fast as it can and prints
 * `ack <id>` for every event of a batch once its append has resolved, until it is killed.
 * Usage: sqlite-crash-child.ts <path> <origin>
 */
import { SqliteEventStore } from "../../src/replication/index.js";
import { HybridLogicalClock } from "../../src/time/hlc.js";

const [path, origin] = process.argv.slice(2);
if (!path || !origin) throw new Error("usage: sqlite-crash-child.ts <path> <origin>");
const store = new SqliteEventStore(path);
const hlc = new HybridLogicalClock(origin);
let seq = 0;
process.stdout.write("ready\n");
for (;;) {
  const size = 1 + (seq % 17);
  const batch = Array.from({ length: size }, () => {
    seq++;
    return {
      id: `${origin}-${seq}`,
      type: "Tick",
      aggregateId: `agg-${seq % 5}`,
      data: { seq, pad: "x".repeat(seq % 300) },
      metadata: {},
      origin,
      clock: { [origin]: seq },
      hlc: HybridLogicalClock.encode(hlc.now()),
    };
  });
  await store.append(batch);
  process.stdout.write(batch.map((e) => `ack ${e.id}\n`).join(""));
}
