import { checkTtl } from "../driver/validate.js";
import { invalid } from "../errors.js";
import { checkName } from "../internal/names.js";
import type { OptionSpec, ParsedArgv } from "./args.js";

/** The store used when neither `--store` nor `CONCORD_STORE` names one. */
export const DEFAULT_STORE = "sqlite:./.concord/state.db";

/** Every long option any command knows, with its arity; the parser needs the arity up front. */
export const OPTION_SPECS: ReadonlyMap<string, OptionSpec> = new Map(
  Object.entries({
    help: false,
    store: true,
    namespace: true,
    ttl: true,
    timeout: true,
    grace: true,
    id: true,
    "if-version": true,
    "from-version": true,
    workers: true,
    duration: true,
    db: true,
    port: true,
    host: true,
    token: true,
    peer: true,
    append: true,
    watch: false,
    node: true,
    interval: true,
    show: true,
  }).map(([name, takesValue]) => [name, { takesValue }]),
);

/** Options every command accepts. */
export const GLOBAL_OPTIONS = ["help", "store", "namespace", "ttl"] as const;

/** The global options, checked. */
export interface GlobalOptions {
  /** The store URL: `--store`, else `$CONCORD_STORE`, else {@link DEFAULT_STORE}. May hold credentials: never print it unmasked. */
  readonly store: string;
  /** True if `--store` was given on the command line. */
  readonly storeGiven: boolean;
  readonly namespace: string | undefined;
  /** `--ttl`: the session lease TTL in ms (minimum 1,000). */
  readonly ttlMs: number | undefined;
}

/** Reads and checks the global options; a bad one is `INVALID_ARGUMENT` naming it. */
export function readGlobals(p: ParsedArgv, env: NodeJS.ProcessEnv = process.env): GlobalOptions {
  const given = stringOption(p, "store");
  // An empty CONCORD_STORE counts as unset, as shells make it easy to export one by accident.
  const store = given ?? (env["CONCORD_STORE"] || DEFAULT_STORE);
  if (store.length === 0) throw invalid("--store", "must not be empty; e.g. sqlite:./.concord/state.db");
  const ns = stringOption(p, "namespace");
  const ttlMs = intOption(p, "ttl", "milliseconds");
  if (ttlMs !== undefined) checkTtl("--ttl", ttlMs);
  return {
    store,
    storeGiven: given !== undefined,
    namespace: ns === undefined ? undefined : checkName("--namespace", ns),
    ttlMs,
  };
}

/** The value of `--name`, or undefined if absent. */
export function stringOption(p: ParsedArgv, name: string): string | undefined {
  const v = p.options.get(name);
  return v === true ? undefined : v;
}

/**
 * The value of `--name` as an integer in `[min, max]`, or undefined if absent. `unit` says what
 * the number counts (or is empty), for the error message (`--ttl: expected an integer number of milliseconds, got "abc"`).
 */
export function intOption(p: ParsedArgv, name: string, unit: string, min = Number.MIN_SAFE_INTEGER, max = Number.MAX_SAFE_INTEGER): number | undefined {
  const raw = stringOption(p, name);
  return raw === undefined ? undefined : parseInteger(`--${name}`, raw, unit, min, max);
}

/** Parses a decimal integer argument strictly (no `1e3`, no `12abc`), naming `arg` when it is not one. */
export function parseInteger(arg: string, raw: string, unit: string, min = Number.MIN_SAFE_INTEGER, max = Number.MAX_SAFE_INTEGER): number {
  const n = /^-?\d+$/.test(raw.trim()) ? Number(raw) : Number.NaN;
  if (!Number.isSafeInteger(n)) throw invalid(arg, `expected ${unit ? `an integer number of ${unit}` : "an integer"}, got ${JSON.stringify(raw)}`);
  if (n < min) throw invalid(arg, `${n} is below the minimum of ${min}`);
  if (n > max) throw invalid(arg, `${n} is above the maximum of ${max}`);
  return n;
}
