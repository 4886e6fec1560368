import { Agent as HttpAgent, type Agent, request as httpRequest, type IncomingMessage } from "node:http";
import { Agent as HttpsAgent, request as httpsRequest } from "node:https";
import { setTimeout as sleep } from "node:timers/promises";
import { performance } from "node:perf_hooks";
import { abortedError, ConcordError } from "../../errors.js";
import { untilAborted } from "../../internal/abort.js";
import { toConcordError } from "./errors.js";

/** TLS material for members served over https (the same the gRPC client uses). */
export interface TimeTls {
  ca?: Buffer | undefined;
  cert?: Buffer | undefined;
  key?: Buffer | undefined;
}

function get(endpoint: string, tls: TimeTls | undefined, timeoutMs: number, signal: AbortSignal | undefined, agent?: Agent): Promise<IncomingMessage> {
  const url = new URL("/version", endpoint);
  const secure = url.protocol === "https:";
  return new Promise((resolve, reject) => {
    const opts = {
      method: "GET",
      timeout: timeoutMs,
      // By default a fresh connection each time: no pooled socket keeps the process alive between readings.
      agent: agent ?? (false as const),
      ...(signal ? { signal } : {}),
      ...(secure && tls ? { ca: tls.ca, cert: tls.cert, key: tls.key } : {}),
    };
    const req = (secure ? httpsRequest : httpRequest)(url, opts, (res) => {
      res.resume();
      resolve(res);
    });
    req.on("timeout", () => req.destroy(new ConcordError("UNAVAILABLE", `etcd at ${url.host} did not answer GET /version within ${timeoutMs} ms`, { engine: "etcd" })));
    req.on("error", reject);
    req.end();
  });
}

/** One `GET /version`: when it was sent and answered (local monotonic ms) and the server's whole second. */
interface Reading {
  sent: number;
  received: number;
  /** The `Date` header: the server's clock truncated to the second, in ms since the epoch. */
  second: number;
}

async function read(endpoint: string, tls: TimeTls | undefined, timeoutMs: number, signal: AbortSignal | undefined, agent?: Agent): Promise<Reading> {
  const sent = performance.now();
  const res = await get(endpoint, tls, timeoutMs, signal, agent);
  const received = performance.now();
  const second = Date.parse(res.headers.date ?? "");
  if (!Number.isFinite(second)) {
    throw new ConcordError("UNAVAILABLE", `etcd at ${new URL(endpoint).host} answered GET /version without a Date header`, { engine: "etcd" });
  }
  return { sent, received, second };
}

/**
 * Where the member's clock stands against this process's monotonic clock: server ms = local + offset,
 * to within ±halfWidth as of `at` (local ms).
 */
interface Calibration {
  offset: number;
  halfWidth: number;
  at: number;
}

/** How fast two clocks may drift apart, each kept by NTP: 50 ppm. Added to a calibration's error as it ages. */
const DRIFT = 50e-6;
/**
 * A calibration older than this is renewed in the background (one turn of the member's second, a
 * few readings): its drift bound is then 0.25 ms, so a client's readings stay under 1 ms (at 30 s
 * the bound alone was 1.5 ms).
 */
const RECALIBRATE_AFTER_MS = 5_000;
/** Fine search: at most this many turns, until the bracket is at most FINE_ENOUGH_MS wide (±0.5 ms). */
const FINE_ATTEMPTS = 5;
const FINE_ENOUGH_MS = 1;
/** Coarse search: one reading every this many ms until the server's second changes. */
const COARSE_STEP_MS = 20;

/** The calibration a bracketing pair gives: the turn to `after.second` lies between `before` being sent and `after` answered. */
function fromPair([before, after]: [Reading, Reading]): Calibration {
  const mid = (before.sent + after.received) / 2;
  return { offset: after.second - mid, halfWidth: (after.received - before.sent) / 2, at: after.received };
}

/**
 * Finds when the member's clock turns a second, from its `Date` headers: read every 20 ms until the
 * second changes (the turn then lies between those two readings), then, a second later, read back
 * to back from just before the predicted turn until it comes. The turn of second S lies after the
 * first request of the last pair was sent and before its second was answered: that bracket (two
 * round trips wide, on a kept-alive connection) is the error of the calibration.
 */
export async function calibrate(
  endpoint: string,
  tls: TimeTls | undefined,
  timeoutMs: number,
  signal?: AbortSignal,
  onProgress?: (cal: Calibration) => void,
  prior?: Calibration,
): Promise<Calibration> {
  const secure = new URL(endpoint).protocol === "https:";
  const agent = secure ? new HttpsAgent({ keepAlive: true, maxSockets: 1 }) : new HttpAgent({ keepAlive: true, maxSockets: 1 });
  const once = (): Promise<Reading> => read(endpoint, tls, timeoutMs, signal, agent);
  try {
    let pair: [Reading, Reading];
    if (prior) {
      // A renewal knows when the next turn comes, to within the prior calibration's error as aged:
      // that bracket stands in for the coarse search, and only the fine one runs (one turn, not two).
      const now = performance.now();
      const second = 1000 * Math.ceil((now + prior.offset + 60) / 1000);
      const turn = second - prior.offset;
      const w = prior.halfWidth + (now - prior.at) * DRIFT + 2;
      pair = [
        { sent: turn - w, received: turn - w, second: second - 1000 },
        { sent: turn + w, received: turn + w, second },
      ];
    } else {
      // Coarse: the turn of some second, to within about 20 ms.
      let prev = await once();
      let found: [Reading, Reading] | undefined;
      const giveUp = prev.sent + 3_000;
      while (!found) {
        await sleep(COARSE_STEP_MS, undefined, signal ? { signal } : {});
        const cur = await once();
        if (cur.second > prev.second) found = [prev, cur];
        else prev = cur;
        if (!found && cur.received > giveUp) throw new ConcordError("UNAVAILABLE", `etcd at ${new URL(endpoint).host}: its Date header did not change in 3 s`, { engine: "etcd" });
      }
      pair = found;
      onProgress?.(fromPair(pair));
    }
    // Fine: a later turn, read back to back from just before it; up to five turns until the
    // bracket is within 1 ms (a reading delayed by other work on either side widens it).
    for (let attempt = 0; attempt < FINE_ATTEMPTS && pair[1].received - pair[0].sent > FINE_ENOUGH_MS; attempt++) {
      const ahead = 1000 * Math.ceil((performance.now() + 5 - pair[0].sent) / 1000);
      const nextTurn = pair[1].second + ahead;
      const earliest = pair[0].sent + ahead;
      const latest = pair[1].received + ahead;
      await sleep(Math.max(0, earliest - performance.now() - 2), undefined, signal ? { signal } : {});
      let prev = await once();
      while (prev.second < nextTurn && prev.received < latest + 50) {
        const cur = await once();
        if (cur.second > prev.second) {
          if (cur.received - prev.sent < pair[1].received - pair[0].sent) {
            pair = [prev, cur];
            onProgress?.(fromPair(pair)); // usable now, while later turns may tighten it
          }
          break;
        }
        prev = cur;
      }
    }
    return fromPair(pair);
  } catch (e) {
    if (signal?.aborted) throw abortedError(signal);
    throw e;
  } finally {
    agent.destroy();
  }
}

/**
 * The cluster's clock as `time()` reads it: calibrated against one member at a time (the last that
 * answered first, the next on failure), then read from the local monotonic clock, with the
 * calibration's error plus the drift since as its uncertainty, and renewed in the background as it
 * ages. Members are the configured endpoints, or else those the cluster lists.
 */
export class MemberClocks {
  readonly #discover: () => Promise<string[]>;
  readonly #tls: TimeTls | undefined;
  readonly #timeoutMs: number;
  readonly #label: string;
  readonly #closed: AbortSignal;
  #endpoints: string[] | undefined;
  #turn = 0;
  #cal: Calibration | undefined;
  #calibrating: Promise<Calibration> | undefined;

  constructor(endpoints: string[] | undefined, discover: () => Promise<string[]>, tls: TimeTls | undefined, timeoutMs: number, label: string, closed: AbortSignal) {
    this.#endpoints = endpoints;
    this.#discover = discover;
    this.#tls = tls;
    this.#timeoutMs = timeoutMs;
    this.#label = label;
    this.#closed = closed;
  }

  /** The member's clock now, and how far from it this reading may be. */
  async sample(signal?: AbortSignal): Promise<{ ms: number; uncertaintyMs: number }> {
    let cal = this.#cal;
    if (!cal) cal = await this.#calibration(signal);
    else if (performance.now() - cal.at > RECALIBRATE_AFTER_MS) this.#calibration().catch(() => undefined);
    const now = performance.now();
    return { ms: now + cal.offset, uncertaintyMs: cal.halfWidth + (now - cal.at) * DRIFT };
  }

  async now(signal?: AbortSignal): Promise<number> {
    return Math.round((await this.sample(signal)).ms);
  }

  /**
   * One calibration at a time, shared by every caller, who gets the first usable one: the coarse
   * bracket (within about 20 ms, after at most a second) while the fine one goes on in the
   * background. A caller's signal stops only its own wait.
   */
  async #calibration(signal?: AbortSignal): Promise<Calibration> {
    if (!this.#calibrating) {
      let first!: (cal: Calibration) => void;
      let failed!: (e: unknown) => void;
      const usable = new Promise<Calibration>((resolve, reject) => {
        first = resolve;
        failed = reject;
      });
      usable.catch(() => undefined); // a background renewal has no one waiting
      this.#calibrating = usable;
      // Every bracket found is kept if it is tighter than the calibration in use, as aged: the coarse
      // one serves at once, each fine one as it comes; a renewal that finds nothing better changes nothing.
      const keep = (cal: Calibration): Calibration => {
        const old = this.#cal;
        if (!old || cal.halfWidth < old.halfWidth + (cal.at - old.at) * DRIFT) this.#cal = cal;
        return this.#cal!;
      };
      this.#calibrate((cal) => first(keep(cal))).then(
        (cal) => {
          this.#calibrating = undefined;
          first(keep(cal));
        },
        (e: unknown) => {
          this.#calibrating = undefined;
          failed(e);
        },
      );
    }
    return untilAborted(this.#calibrating, signal).catch((e: unknown) => {
      throw signal?.aborted ? abortedError(signal) : e;
    });
  }

  async #calibrate(onProgress: (cal: Calibration) => void): Promise<Calibration> {
    if (!this.#endpoints?.length) this.#endpoints = await this.#discover();
    const endpoints = this.#endpoints;
    if (endpoints.length === 0) throw new ConcordError("UNAVAILABLE", "etcd lists no client URL for any member", { engine: "etcd" });
    let first: unknown;
    for (let i = 0; i < endpoints.length; i++) {
      const at = (this.#turn + i) % endpoints.length;
      try {
        const cal = await calibrate(endpoints[at]!, this.#tls, this.#timeoutMs, this.#closed, onProgress, this.#cal);
        this.#turn = at;
        return cal;
      } catch (e) {
        if (this.#closed.aborted) throw e;
        first ??= e;
      }
    }
    throw toConcordError(first, this.#label);
  }
}
