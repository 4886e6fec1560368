/**
 * The Jepsen soak command.
 *
 *   npm run jepsen -- --engine etcd --primitive lock --minutes 10 [--seed N] [--clients 5]
 *   npm run jepsen -- --all --minutes 0.2 [--engines memory,sqlite] [--seed N]
 *
 * Writes jepsen-reports/<timestamp>/ (report.md, timeline.svg, history.json per run; summary.md for
 * --all) and exits non-zero if any run found an anomaly. The seed is printed; pass it back to replay
 * the same workload and fault schedule.
 */
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { ENGINES, type EngineName, runOnce, type RunResult, Servers } from "./harness.js";
import { type Primitive, PRIMITIVES } from "./history.js";
import { writeReport } from "./report.js";

const { values: a } = parseArgs({
  options: {
    engine: { type: "string" },
    engines: { type: "string" },
    primitive: { type: "string" },
    minutes: { type: "string", default: "1" },
    seed: { type: "string" },
    clients: { type: "string", default: "3" },
    all: { type: "boolean", default: false },
    out: { type: "string", default: "jepsen-reports" },
  },
});

const fail = (msg: string): never => {
  console.error(`jepsen: ${msg}`);
  process.exit(2);
};
const minutes = Number(a.minutes);
if (!(minutes > 0)) fail(`--minutes must be a positive number, got ${a.minutes}`);
const clients = Number(a.clients);
if (!Number.isInteger(clients) || clients < 1 || clients > 20) fail(`--clients must be an integer from 1 to 20, got ${a.clients}`);
const seed = a.seed === undefined ? Math.floor(Math.random() * 2 ** 31) : Number(a.seed);
if (!Number.isInteger(seed)) fail(`--seed must be an integer, got ${a.seed}`);

const pick = <T extends string>(what: string, given: string | undefined, known: readonly T[]): T[] => {
  const list = given === undefined ? [...known] : given.split(",").map((s) => s.trim());
  for (const x of list) if (!known.includes(x as T)) fail(`unknown ${what} ${x} (known: ${known.join(", ")})`);
  return list as T[];
};
if (!a.all && (a.engine === undefined || a.primitive === undefined)) fail("give --engine and --primitive, or --all");
const engines = pick<EngineName>("engine", a.all ? (a.engines ?? process.env["ENGINES"]) : a.engine, ENGINES);
const primitives = pick<Primitive>("primitive", a.all ? a.primitive : a.primitive, PRIMITIVES);

const stamp = new Date().toISOString().replace(/[:.]/g, "-");
const dir = join(a.out, stamp);
mkdirSync(dir, { recursive: true });
const durationMs = minutes * 60_000;
const faults = Math.max(1, Math.round(durationMs / 4000));
console.log(`jepsen: seed ${seed}; ${engines.length * primitives.length} run(s) of ${(durationMs / 1000).toFixed(0)} s, ${faults} fault(s) each; reports in ${dir}`);

const servers = new Servers();
const rows: Array<{ r?: RunResult; engine: string; primitive: string; error?: string }> = [];
let k = 0;
try {
  for (const engine of engines) {
    for (const primitive of primitives) {
      const runSeed = seed + k++;
      const replay = `npm run jepsen -- --engine ${engine} --primitive ${primitive} --minutes ${minutes} --seed ${runSeed} --clients ${clients}`;
      try {
        const r = await runOnce({ engine, primitive, seed: runSeed, clients, durationMs, faults, servers, log: (l) => console.log(l) });
        writeReport(engines.length * primitives.length > 1 ? join(dir, `${engine}-${primitive}`) : dir, r, replay);
        rows.push({ r, engine, primitive });
        console.log(`  ${r.verdict.anomalies.length === 0 ? "valid" : "ANOMALIES"}: ${r.verdict.checked} checked (ok ${r.counts.ok}, fail ${r.counts.fail}, info ${r.counts.info}), ${r.history.faults.length} faults`);
        for (const an of r.verdict.anomalies) console.log(`    ${an}`);
      } catch (e) {
        rows.push({ engine, primitive, error: (e as Error).message });
        console.log(`  ERROR: ${(e as Error).message}`);
      }
    }
    await servers.stop(); // one engine's private servers at a time
  }
} finally {
  await servers.stop();
}

const table = [
  "| engine | primitive | ops checked | faults | result |",
  "| --- | --- | ---: | ---: | --- |",
  ...rows.map(({ r, engine, primitive, error }) =>
    r
      ? `| ${engine} | ${primitive} | ${r.verdict.checked} | ${r.history.faults.length} (${[...new Set(r.history.faults.map((f) => f.kind))].join(", ")}) | ${r.verdict.anomalies.length === 0 ? "valid" : `${r.verdict.anomalies.length} anomalies (seed ${r.seed})`} |`
      : `| ${engine} | ${primitive} | - | - | error: ${error} |`,
  ),
].join("\n");
writeFileSync(join(dir, "summary.md"), `# Jepsen summary\n\nseed ${seed}, ${minutes} min per run, ${clients} clients\n\n${table}\n`);
console.log(`\n${table}\n\nreports: ${dir}`);
process.exit(rows.every((x) => x.r && x.r.verdict.anomalies.length === 0) ? 0 : 1);
