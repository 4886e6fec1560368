/** The dashboard page: one file, no build step, live over Server-Sent Events from `events`. */
export const PAGE_HTML = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Concord</title>
<style>
  :root { font: 14px/1.4 system-ui, sans-serif; color: #1d232a; background: #f6f7f9; }
  header { display: flex; gap: 1.5rem; align-items: baseline; padding: .8rem 1.2rem; background: #1d232a; color: #fff; }
  header h1 { font-size: 1.1rem; margin: 0; }
  header span { opacity: .8; }
  #status.down { color: #ff8a80; }
  main { padding: 1rem 1.2rem; display: grid; gap: 1rem; grid-template-columns: repeat(auto-fill, minmax(330px, 1fr)); }
  section { background: #fff; border: 1px solid #dde1e6; border-radius: 6px; padding: .6rem .8rem; }
  section h2 { font-size: .95rem; margin: 0 0 .4rem; text-transform: capitalize; }
  table { width: 100%; border-collapse: collapse; }
  td { padding: .2rem .3rem; border-top: 1px solid #eef0f2; vertical-align: top; word-break: break-all; }
  td:first-child { font-weight: 600; width: 40%; }
  .muted { color: #6b7580; }
  .free { color: #2e7d32; } .held { color: #b26a00; }
</style>
</head>
<body>
<header><h1>Concord</h1><span id="ns"></span><span id="rev"></span><span id="time"></span><span id="status">connecting…</span></header>
<main id="grid"><p class="muted">Waiting for the first snapshot…</p></main>
<script>
"use strict";
const grid = document.getElementById("grid");
const el = (tag, text, cls) => { const e = document.createElement(tag); if (text !== undefined) e.textContent = text; if (cls) e.className = cls; return e; };
const show = (v) => v === null || v === undefined ? "—" : typeof v === "object" ? JSON.stringify(v) : String(v);
function describe(p) {
  const d = p.detail;
  if (d.error) return [["error", d.error]];
  switch (p.kind) {
    case "lock": return d.holder ? [["holder", d.holder], ["token", d.token]] : [["state", "free"]];
    case "election": return d.leader ? [["leader", d.leader.id], ["term", d.leader.term], ["value", show(d.leader.value)], ["candidates", d.candidates]] : [["leader", "none"], ["candidates", d.candidates]];
    case "value": return [["value", show(d.value)], ["version", show(d.version)]];
    case "counter": return [["value", d.value]];
    case "tasks": return Object.entries(d).map(([k, v]) => [k, show(v)]);
    default: return Object.entries(d).map(([k, v]) => [k, show(v)]).concat([["keys", p.keys]]);
  }
}
function render(s) {
  if (s.error) { document.getElementById("status").textContent = s.error; document.getElementById("status").className = "down"; return; }
  document.getElementById("ns").textContent = "namespace " + s.namespace;
  document.getElementById("rev").textContent = "revision " + s.revision;
  document.getElementById("time").textContent = s.time.error ? "time: " + s.time.error : new Date(s.time.ms).toISOString() + " ±" + s.time.uncertaintyMs.toFixed(1) + " ms";
  document.getElementById("status").textContent = s.truncated ? "live (truncated)" : "live";
  document.getElementById("status").className = "";
  const byKind = new Map();
  for (const p of s.primitives) { if (!byKind.has(p.kind)) byKind.set(p.kind, []); byKind.get(p.kind).push(p); }
  grid.replaceChildren();
  if (byKind.size === 0) grid.append(el("p", "Nothing in this namespace yet.", "muted"));
  for (const [kind, list] of byKind) {
    const sec = el("section"); sec.append(el("h2", kind + " (" + list.length + ")"));
    const table = el("table");
    for (const p of list) {
      const rows = describe(p);
      rows.forEach(([k, v], i) => {
        const tr = el("tr");
        tr.append(el("td", i === 0 ? p.name : ""));
        const td = el("td"); td.append(el("span", k + ": ", "muted"), el("span", show(v), k === "state" ? "free" : k === "holder" ? "held" : undefined));
        tr.append(td); table.append(tr);
      });
    }
    sec.append(table); grid.append(sec);
  }
}
const es = new EventSource("events");
es.onmessage = (m) => render(JSON.parse(m.data));
es.onerror = () => { const s = document.getElementById("status"); s.textContent = "reconnecting…"; s.className = "down"; };
</script>
</body>
</html>
`;
