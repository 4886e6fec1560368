/** A run's report: report.md (counts, faults, anomalies, verdict) and timeline.svg (one lane per client). */
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { holdsOf } from "./checkers.js";
import type { RunResult } from "./harness.js";

const esc = (s: string): string => s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");

export function reportMarkdown(r: RunResult, command: string): string {
  const h = r.history;
  const lines = [
    `# Jepsen run: ${r.engine} / ${r.primitive}`,
    "",
    `Replay: \`${command}\``,
    "",
    `- seed ${r.seed}, ${(r.durationMs / 1000).toFixed(1)} s, ${new Set(h.ops.map((o) => o.client)).size} client incarnations`,
    `- operations: ${h.ops.length} (ok ${r.counts.ok}, fail ${r.counts.fail}, info ${r.counts.info}); checked ${r.verdict.checked}`,
    `- faults injected: ${h.faults.length}`,
    `- verdict: **${r.verdict.anomalies.length === 0 ? "valid" : `${r.verdict.anomalies.length} anomalies`}**`,
    "",
    "## Faults",
    "",
    "| kind | target | from (ms) | to (ms) |",
    "| --- | --- | ---: | ---: |",
    ...h.faults.map((f) => `| ${f.kind} | ${f.target} | ${f.start.toFixed(0)} | ${f.end.toFixed(0)} |`),
    "",
    "## Anomalies",
    "",
    ...(r.verdict.anomalies.length ? r.verdict.anomalies.map((a) => `- ${a}`) : ["None."]),
    "",
    "![timeline](timeline.svg)",
    "",
  ];
  return lines.join("\n");
}

export function timelineSvg(r: RunResult): string {
  const h = r.history;
  const clients = [...new Set([...h.ops.map((o) => o.client), ...h.notes.map((n) => n.client)])].sort((a, b) => a - b);
  const lane = 26;
  const left = 70;
  const width = 1400;
  const top = 30;
  const height = top + clients.length * lane + 40;
  const end = Math.max(r.durationMs, ...h.ops.filter((o) => Number.isFinite(o.ret)).map((o) => o.ret));
  // From the first client ready (process start-up is not interesting) to the end.
  const begin = Math.max(0, Math.min(end - 1, ...h.notes.filter((n) => n.kind === "ready").map((n) => n.at)) - 100);
  const x = (t: number): number => left + ((Math.min(Math.max(t, begin), end) - begin) / (end - begin)) * (width - left - 10);
  const y = (c: number): number => top + clients.indexOf(c) * lane;
  const out: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" font-family="sans-serif" font-size="11">`,
    `<text x="4" y="16" font-weight="bold">${esc(`${r.engine} / ${r.primitive}, seed ${r.seed}: ${r.verdict.anomalies.length === 0 ? "valid" : "ANOMALIES"}`)}</text>`,
  ];
  for (const f of h.faults) {
    out.push(`<rect x="${x(f.start)}" y="${top - 6}" width="${Math.max(2, x(f.end) - x(f.start))}" height="${clients.length * lane + 6}" fill="#f4a3a3" fill-opacity="0.35"><title>${esc(`${f.kind} ${f.target}`)}</title></rect>`);
    out.push(`<text x="${x(f.start) + 2}" y="${top + clients.length * lane + 14}" fill="#a33">${esc(`${f.kind}: ${f.target}`)}</text>`);
  }
  for (const c of clients) out.push(`<text x="4" y="${y(c) + 15}">client ${c}</text><line x1="${left}" x2="${width - 10}" y1="${y(c) + 20}" y2="${y(c) + 20}" stroke="#ddd"/>`);
  const colour = { ok: "#5a5", fail: "#999", info: "#e90" } as const;
  for (const o of h.ops) {
    const ret = Number.isFinite(o.ret) ? o.ret : end;
    out.push(`<rect x="${x(o.call)}" y="${y(o.client) + 16}" width="${Math.max(1, x(ret) - x(o.call))}" height="4" fill="${colour[o.outcome]}"><title>${esc(`${o.f} ${JSON.stringify(o.input)} -> ${o.outcome} ${JSON.stringify(o.output ?? o.error ?? "")}`)}</title></rect>`);
  }
  if (r.primitive === "lock" || r.primitive === "election") {
    const field = r.primitive === "lock" ? "token" : "term";
    for (const hold of holdsOf(h, r.primitive === "lock" ? "acquire" : "campaign", field)) {
      if (hold.from === undefined) continue;
      const w = Math.max(2, x(hold.to!) - x(hold.from));
      out.push(`<rect x="${x(hold.from)}" y="${y(hold.client) + 3}" width="${w}" height="11" fill="${r.primitive === "lock" ? "#47c" : "#a5c"}"><title>${field} ${hold.token}: ${hold.from.toFixed(1)}-${hold.to!.toFixed(1)} ms</title></rect>`);
      if (w > 14) out.push(`<text x="${x(hold.from) + 1}" y="${y(hold.client) + 12}" fill="#fff" font-size="9">${hold.token}</text>`);
    }
  }
  out.push(`<text x="${left}" y="${height - 4}" fill="#666">${begin.toFixed(0)} ms</text><text x="${width - 60}" y="${height - 4}" fill="#666">${end.toFixed(0)} ms</text></svg>`);
  return out.join("\n");
}

/** Writes report.md, timeline.svg and history.json into `dir`. */
export function writeReport(dir: string, r: RunResult, command: string): void {
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, "report.md"), reportMarkdown(r, command));
  writeFileSync(join(dir, "timeline.svg"), timelineSvg(r));
  writeFileSync(join(dir, "history.json"), JSON.stringify(r.history, (_k, v: unknown) => (v === Infinity ? "Infinity" : v)));
}
