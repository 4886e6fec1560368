/**
 * Runs every benchmark in one process, side by side with the peer a user would pick instead, and
 * prints a table of figures and ratios (and writes bench/results/latest.json).
 * Usage: npm run bench [-- --quick]
 */
import { mkdirSync, writeFileSync } from "node:fs";
import { cpus } from "node:os";
import { benchHandoff } from "./handoff.js";
import { benchMemoryLock } from "./lock-memory.js";
import { fmt, type Row } from "./stats.js";
import { benchWatchLatency } from "./watch-latency.js";

const quick = process.argv.includes("--quick");
const rows: Row[] = [];
rows.push(await benchMemoryLock(quick ? 500 : 3000));
rows.push(...(await benchHandoff(quick ? 1000 : 5000)));
rows.push(await benchWatchLatency(quick ? 100 : 1000));

const table = [
  "| benchmark | concord | peer | ratio | target | met |",
  "| --- | --- | --- | --- | --- | --- |",
  ...rows.map((r) => {
    const d = r.unit === "ms" ? 2 : 0;
    return `| ${r.benchmark} | ${fmt(r.concord, d)} ${r.unit} | ${r.peer === undefined ? "-" : `${fmt(r.peer, d)} ${r.unit} (${r.peerName})`} | ${r.ratio === undefined ? "-" : `${fmt(r.ratio, 2)}x`} | ${r.target} | ${r.met ? "yes" : "NO"} |`;
  }),
];
console.log(`Node ${process.version}, ${cpus().length} cores (${cpus()[0]?.model ?? "?"})\n`);
console.log(table.join("\n"));
for (const r of rows) if (r.note) console.log(`- ${r.benchmark}: ${r.note}`);
mkdirSync(new URL("./results/", import.meta.url), { recursive: true });
writeFileSync(new URL("./results/latest.json", import.meta.url), `${JSON.stringify({ node: process.version, quick, rows }, null, 2)}\n`);
