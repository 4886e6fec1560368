/** Percentile of a sample (nearest rank). */
export function percentile(xs: number[], p: number): number {
  if (xs.length === 0) return Number.NaN;
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil((p / 100) * s.length) - 1))]!;
}

export const monotonicMs = (): number => Number(process.hrtime.bigint()) / 1e6;

export const fmt = (n: number, digits = 0): string =>
  Number.isFinite(n) ? n.toLocaleString("en-US", { maximumFractionDigits: digits, minimumFractionDigits: digits }) : String(n);

/** One row of the report: Concord's figure beside the peer's, and the ratio. */
export interface Row {
  benchmark: string;
  unit: string;
  concord: number;
  peer: number | undefined;
  peerName: string;
  /** concord / peer, where higher is better for Concord. */
  ratio: number | undefined;
  target: string;
  met: boolean;
  note?: string;
}
