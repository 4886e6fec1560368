import { createSocket } from "node:dgram";
import { ConcordError, invalid } from "../errors.js";

/** One SNTP reading: the server's time now, our clock's offset from it, and the round-trip delay. */
export interface SntpTime {
  ms: number;
  offsetMs: number;
  delayMs: number;
}

export interface SntpOptions {
  host: string;
  port?: number;
  timeoutMs?: number;
}

/** Wall time with sub-millisecond resolution: Date.now() alone would make short delays come out negative. */
const preciseNow = (): number => performance.timeOrigin + performance.now();

const NTP_EPOCH_OFFSET_S = 2_208_988_800; // 1900-01-01 to 1970-01-01

function readTimestamp(buf: Buffer, at: number): number {
  const seconds = buf.readUInt32BE(at);
  const fraction = buf.readUInt32BE(at + 4);
  return (seconds - NTP_EPOCH_OFFSET_S) * 1000 + (fraction / 2 ** 32) * 1000;
}

function writeTimestamp(buf: Buffer, at: number, ms: number): void {
  const seconds = Math.floor(ms / 1000) + NTP_EPOCH_OFFSET_S;
  buf.writeUInt32BE(seconds >>> 0, at);
  buf.writeUInt32BE(Math.floor(((ms % 1000) / 1000) * 2 ** 32) >>> 0, at + 4);
}

/**
 * An SNTP client (RFC 4330) over UDP: one request, the standard offset and delay from the four
 * timestamps. A kiss-of-death reply (stratum 0) rejects with `UNAVAILABLE` naming the kiss code.
 */
export class SntpClock {
  readonly #host: string;
  readonly #port: number;
  readonly #timeoutMs: number;

  constructor(opts: SntpOptions) {
    if (typeof opts !== "object" || opts === null || typeof opts.host !== "string" || opts.host.length === 0) throw invalid("host", "expected a host name or address");
    const port = opts.port ?? 123;
    if (!Number.isInteger(port) || port < 1 || port > 65535) throw invalid("port", `expected 1-65535, got ${String(port)}`);
    const timeoutMs = opts.timeoutMs ?? 2000;
    if (!(timeoutMs > 0) || !Number.isFinite(timeoutMs)) throw invalid("timeoutMs", "expected a positive number of milliseconds");
    this.#host = opts.host;
    this.#port = port;
    this.#timeoutMs = timeoutMs;
  }

  now(): Promise<SntpTime> {
    return new Promise((resolve, reject) => {
      const socket = createSocket(this.#host.includes(":") ? "udp6" : "udp4");
      const req = Buffer.alloc(48);
      req[0] = (0 << 6) | (4 << 3) | 3; // LI 0, version 4, mode 3 (client)
      const finish = (err: Error | undefined, value?: SntpTime): void => {
        clearTimeout(timer);
        socket.close();
        if (err) reject(err);
        else resolve(value!);
      };
      const timer = setTimeout(
        () => finish(new ConcordError("UNAVAILABLE", `sntp: no answer from ${this.#host}:${this.#port} in ${this.#timeoutMs} ms`)),
        this.#timeoutMs,
      );
      let t1 = 0;
      socket.on("error", (e) => finish(new ConcordError("UNAVAILABLE", `sntp: ${this.#host}:${this.#port}: ${e.message}`, { cause: e })));
      socket.on("message", (msg) => {
        const t4 = preciseNow();
        if (msg.length < 48) return finish(new ConcordError("UNAVAILABLE", "sntp: short reply"));
        const mode = msg[0]! & 0x7;
        const stratum = msg[1]!;
        if (mode !== 4 && mode !== 5) return finish(new ConcordError("UNAVAILABLE", `sntp: unexpected mode ${mode}`));
        if (stratum === 0) {
          const code = msg.subarray(12, 16).toString("ascii").replace(/\0/g, "");
          return finish(new ConcordError("UNAVAILABLE", `sntp: kiss-of-death from ${this.#host}: ${code}`));
        }
        // The server echoes our transmit time as its originate time: anything else is not our answer.
        if (Math.abs(readTimestamp(msg, 24) - t1) > 0.01) return;
        const t2 = readTimestamp(msg, 32);
        const t3 = readTimestamp(msg, 40);
        const offsetMs = (t2 - t1 + (t3 - t4)) / 2;
        const delayMs = t4 - t1 - (t3 - t2);
        finish(undefined, { ms: preciseNow() + offsetMs, offsetMs, delayMs });
      });
      t1 = preciseNow();
      writeTimestamp(req, 40, t1);
      socket.send(req, this.#port, this.#host);
    });
  }
}
