import { invalid } from "../errors.js";

/** A parsed five-field cron expression (minute hour day-of-month month day-of-week), in UTC. */
export interface Cron {
  minutes: Set<number>;
  hours: Set<number>;
  days: Set<number>;
  months: Set<number>;
  weekdays: Set<number>;
  /** True when day-of-month or day-of-week was restricted (cron ORs the two when both are). */
  dayRestricted: boolean;
  weekdayRestricted: boolean;
}

const FIELDS: Array<[name: string, min: number, max: number]> = [
  ["minute", 0, 59],
  ["hour", 0, 23],
  ["day of month", 1, 31],
  ["month", 1, 12],
  ["day of week", 0, 7],
];

function field(text: string, [name, min, max]: [string, number, number]): Set<number> {
  const out = new Set<number>();
  for (const part of text.split(",")) {
    const m = /^(\*|(\d+)(?:-(\d+))?)(?:\/(\d+))?$/.exec(part);
    if (!m) throw invalid("cron", `cannot read ${JSON.stringify(part)} in the ${name} field`);
    const lo = m[1] === "*" ? min : Number(m[2]);
    const hi = m[1] === "*" ? max : m[3] !== undefined ? Number(m[3]) : m[4] !== undefined ? max : lo;
    const step = m[4] !== undefined ? Number(m[4]) : 1;
    if (lo < min || hi > max || lo > hi || step < 1) throw invalid("cron", `${JSON.stringify(part)} is outside ${min}-${max} in the ${name} field`);
    for (let v = lo; v <= hi; v += step) out.add(name === "day of week" && v === 7 ? 0 : v);
  }
  return out;
}

/** Parses `"0 9 * * 1-5"` and the like: numbers, ranges, lists and steps (`*\/15`). */
export function parseCron(expr: unknown): Cron {
  if (typeof expr !== "string") throw invalid("cron", "expected a string of five fields");
  const parts = expr.trim().split(/\s+/);
  if (parts.length !== 5) throw invalid("cron", `expected five fields (minute hour day month weekday), got ${parts.length}`);
  const [mi, h, d, mo, w] = parts.map((p, i) => field(p, FIELDS[i]!));
  return { minutes: mi!, hours: h!, days: d!, months: mo!, weekdays: w!, dayRestricted: parts[2] !== "*", weekdayRestricted: parts[4] !== "*" };
}

function matches(c: Cron, t: Date): boolean {
  if (!c.minutes.has(t.getUTCMinutes()) || !c.hours.has(t.getUTCHours()) || !c.months.has(t.getUTCMonth() + 1)) return false;
  const day = c.days.has(t.getUTCDate());
  const weekday = c.weekdays.has(t.getUTCDay());
  if (c.dayRestricted && c.weekdayRestricted) return day || weekday;
  return day && weekday;
}

/** The first minute strictly after `afterMs` that the expression matches (searching up to 5 years). */
export function nextCron(c: Cron, afterMs: number): number {
  let t = Math.floor(afterMs / 60_000) * 60_000 + 60_000;
  const limit = afterMs + 5 * 366 * 24 * 3600_000;
  for (; t < limit; t += 60_000) if (matches(c, new Date(t))) return t;
  throw invalid("cron", "never matches within five years");
}
