import { request as httpRequest, type IncomingMessage } from "node:http";
import { request as httpsRequest } from "node:https";
import { performance } from "node:perf_hooks";
import { abortedError, ConcordError } from "../../errors.js";
import { toConcordError } from "./errors.js";

/** TLS material for members served over https (the same the gRPC client uses). */
export interface TimeTls {
  ca?: Buffer | undefined;
  cert?: Buffer | undefined;
  key?: Buffer | undefined;
}

function get(endpoint: string, tls: TimeTls | undefined, timeoutMs: number, signal: AbortSignal | undefined): Promise<IncomingMessage> {
  const url = new URL("/version", endpoint);
  const secure = url.protocol === "https:";
  return new Promise((resolve, reject) => {
    const opts = {
      method: "GET",
      timeout: timeoutMs,
      // A fresh connection each time: no pooled socket keeps the process alive between readings.
      agent: false as const,
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

/**
 * The clock of the etcd member at `endpoint`, in ms since the epoch. etcd has no clock API, so this
 * reads the `Date` header of `GET /version`: that header has a resolution of one second (RFC 9110
 * truncates to whole seconds), so the reading is taken as the middle of that second, at the middle
 * of the round trip, and carries an error of up to ±500 ms plus half the round trip.
 */
export async function memberTime(endpoint: string, tls: TimeTls | undefined, timeoutMs: number, signal?: AbortSignal): Promise<number> {
  const sent = performance.now();
  const res = await get(endpoint, tls, timeoutMs, signal);
  const received = performance.now();
  const date = Date.parse(res.headers.date ?? "");
  if (!Number.isFinite(date)) {
    throw new ConcordError("UNAVAILABLE", `etcd at ${new URL(endpoint).host} answered GET /version without a Date header`, { engine: "etcd" });
  }
  // Server second + half a second = the middle of it, at the middle of the round trip; then add the
  // half round trip since, to say what the server clock reads now.
  return Math.round(date + 500 + (received - sent) / 2);
}

/**
 * The cluster's clock as `time()` reads it: one member at a time, the last that answered first,
 * the next on failure. Members are the configured endpoints, or else those the cluster lists.
 */
export class MemberClocks {
  readonly #discover: () => Promise<string[]>;
  readonly #tls: TimeTls | undefined;
  readonly #timeoutMs: number;
  readonly #label: string;
  #endpoints: string[] | undefined;
  #turn = 0;

  constructor(endpoints: string[] | undefined, discover: () => Promise<string[]>, tls: TimeTls | undefined, timeoutMs: number, label: string) {
    this.#endpoints = endpoints;
    this.#discover = discover;
    this.#tls = tls;
    this.#timeoutMs = timeoutMs;
    this.#label = label;
  }

  async now(signal?: AbortSignal): Promise<number> {
    if (!this.#endpoints?.length) this.#endpoints = await this.#discover();
    const endpoints = this.#endpoints;
    if (endpoints.length === 0) throw new ConcordError("UNAVAILABLE", "etcd lists no client URL for any member", { engine: "etcd" });
    let first: unknown;
    for (let i = 0; i < endpoints.length; i++) {
      const at = (this.#turn + i) % endpoints.length;
      try {
        const t = await memberTime(endpoints[at]!, this.#tls, this.#timeoutMs, signal);
        this.#turn = at;
        return t;
      } catch (e) {
        if (signal?.aborted) throw abortedError(signal);
        first ??= e;
      }
    }
    throw toConcordError(first, this.#label);
  }
}
