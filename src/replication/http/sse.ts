/**
 * Server-Sent Events, both ends (https://html.spec.whatwg.org/multipage/server-sent-events.html):
 * the frame the sync handler writes and an incremental parser for the client, which reads the body
 * of a `fetch` (no `EventSource` in Node 20, and it could not send an `Authorization` header).
 */

/** One dispatched SSE message. */
export interface SseMessage {
  /** `event:` field; `"message"` when absent. */
  event: string;
  data: string;
  /** `id:` field of this message, if it had one. */
  id: string | undefined;
}

/** One SSE frame. `data` must not contain a newline (JSON.stringify output never does). */
export function sseFrame(event: string, data: string, id?: string): string {
  return `${id === undefined ? "" : `id: ${id}\n`}event: ${event}\ndata: ${data}\n\n`;
}

/** A comment line: ignored by clients, keeps proxies and idle timers from closing the connection. */
export function sseComment(text: string): string {
  return `: ${text}\n\n`;
}

/**
 * Incremental SSE parser: feed it decoded text in any chunking, it calls `onMessage` per complete
 * message. Lines may end in `\n`, `\r\n` or `\r`. A line longer than `maxLineChars` (a runaway
 * server) throws, so memory stays bounded.
 */
export class SseParser {
  #buf = "";
  #event = "";
  #data: string[] = [];
  #id: string | undefined;
  #hasData = false;
  readonly #onMessage: (m: SseMessage) => void;
  readonly #maxLineChars: number;

  constructor(onMessage: (m: SseMessage) => void, maxLineChars = 64 * 1024 * 1024) {
    this.#onMessage = onMessage;
    this.#maxLineChars = maxLineChars;
  }

  push(text: string): void {
    this.#buf += text;
    let start = 0;
    for (;;) {
      const nl = this.#nextBreak(start);
      if (nl < 0) break;
      const line = this.#buf.slice(start, nl);
      // A "\r" at the very end may be the first half of "\r\n": wait for the next chunk.
      if (this.#buf[nl] === "\r" && nl + 1 === this.#buf.length) break;
      start = nl + (this.#buf[nl] === "\r" && this.#buf[nl + 1] === "\n" ? 2 : 1);
      this.#line(line);
    }
    this.#buf = this.#buf.slice(start);
    if (this.#buf.length > this.#maxLineChars) throw new Error(`sse: a line longer than ${this.#maxLineChars} characters`);
  }

  #nextBreak(from: number): number {
    const n = this.#buf.indexOf("\n", from);
    const r = this.#buf.indexOf("\r", from);
    if (n < 0) return r;
    if (r < 0) return n;
    return Math.min(n, r);
  }

  #line(line: string): void {
    if (line === "") {
      if (this.#hasData) this.#onMessage({ event: this.#event || "message", data: this.#data.join("\n"), id: this.#id });
      this.#event = "";
      this.#data = [];
      this.#hasData = false;
      this.#id = undefined;
      return;
    }
    if (line.startsWith(":")) return;
    const colon = line.indexOf(":");
    const field = colon < 0 ? line : line.slice(0, colon);
    let value = colon < 0 ? "" : line.slice(colon + 1);
    if (value.startsWith(" ")) value = value.slice(1);
    switch (field) {
      case "event":
        this.#event = value;
        break;
      case "data":
        this.#data.push(value);
        this.#hasData = true;
        break;
      case "id":
        if (!value.includes("\0")) this.#id = value;
        break;
      default:
        // "retry" and unknown fields: the SyncManager owns reconnection timing.
        break;
    }
  }
}
