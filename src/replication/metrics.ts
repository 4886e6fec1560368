import { ConcordError } from "../errors.js";
import type { SyncMetrics } from "./sync-manager.js";

/** The part of a prom-client `Registry` used here (typed structurally: prom-client stays optional). */
export interface PromRegistry {
  registerMetric(metric: unknown): void;
}

/** Anything with `metrics()`: a `SyncManager`. */
export interface MetricsSource {
  metrics(): SyncMetrics;
}

interface PromMetric {
  reset(): void;
  set?(labels: Record<string, string>, v: number): void;
  inc?(labels: Record<string, string>, v: number): void;
}
type PromCtor = new (cfg: { name: string; help: string; labelNames: string[]; registers: PromRegistry[]; collect?: () => void }) => PromMetric;

interface Installed {
  sources: Map<string, MetricsSource>;
}

const installed = new WeakMap<PromRegistry, Installed>();

/**
 * Exposes sync metrics through a prom-client `Registry` (prom-client is an optional peer dependency,
 * loaded here on first use; without it this rejects with `UNSUPPORTED`). Values are read from
 * `source.metrics()` at scrape time, labelled `peer`:
 * `concord_sync_pushed_total`, `concord_sync_pulled_total`, `concord_sync_conflicts_total`,
 * `concord_sync_failures_total`, `concord_sync_rounds_total` (counters), `concord_sync_lag_seconds`
 * and `concord_sync_last_success_timestamp_seconds` (gauges; absent before the first success).
 * Several managers may share one registry under different `peer` labels. Returns a function that
 * removes this source.
 */
export async function registerSyncMetrics(registry: PromRegistry, source: MetricsSource, peer = "peer"): Promise<() => void> {
  let prom: { Counter: PromCtor; Gauge: PromCtor };
  try {
    prom = (await import("prom-client")) as unknown as { Counter: PromCtor; Gauge: PromCtor };
  } catch (e) {
    throw new ConcordError("UNSUPPORTED", "sync metrics need the package prom-client: npm install prom-client", { cause: e });
  }
  let inst = installed.get(registry);
  if (!inst) {
    const sources = new Map<string, MetricsSource>();
    inst = { sources };
    const counter = (name: string, help: string, pick: (m: SyncMetrics) => number): void => {
      new prom.Counter({
        name: `concord_sync_${name}_total`,
        help,
        labelNames: ["peer"],
        registers: [registry],
        collect(this: PromMetric) {
          this.reset();
          for (const [p, s] of sources) this.inc!({ peer: p }, pick(s.metrics()));
        },
      });
    };
    const gauge = (name: string, help: string, pick: (m: SyncMetrics) => number | undefined): void => {
      new prom.Gauge({
        name: `concord_sync_${name}`,
        help,
        labelNames: ["peer"],
        registers: [registry],
        collect(this: PromMetric) {
          this.reset();
          for (const [p, s] of sources) {
            const v = pick(s.metrics());
            if (v !== undefined) this.set!({ peer: p }, v);
          }
        },
      });
    };
    counter("pushed", "Events the peer newly stored from this replica.", (m) => m.pushed);
    counter("pulled", "Events this replica newly stored from the peer.", (m) => m.pulled);
    counter("conflicts", "Concurrent events on one aggregate found during sync.", (m) => m.conflicts);
    counter("failures", "Sync rounds and stream connections that ended in an error.", (m) => m.failures);
    counter("rounds", "Sync rounds run.", (m) => m.rounds);
    gauge("lag_seconds", "Seconds since the last successful sync.", (m) => (m.lagMs === undefined ? undefined : m.lagMs / 1000));
    gauge("last_success_timestamp_seconds", "Clock time of the last successful sync.", (m) => (m.lastSyncAt === undefined ? undefined : m.lastSyncAt / 1000));
    installed.set(registry, inst);
  }
  inst.sources.set(peer, source);
  const sources = inst.sources;
  return () => {
    if (sources.get(peer) === source) sources.delete(peer);
  };
}
