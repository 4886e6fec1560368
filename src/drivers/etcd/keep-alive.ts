import type { Etcd3, IDuplexStream, ILeaseKeepAliveRequest, ILeaseKeepAliveResponse } from "etcd3";
import { closedError, ConcordError } from "../../errors.js";
import { type Deferred, deferred } from "../../internal/deferred.js";

type Stream = IDuplexStream<ILeaseKeepAliveRequest, ILeaseKeepAliveResponse>;

interface Open {
  stream: Stream;
  dropped: boolean;
  /** Renewals sent and not yet answered, per lease, oldest first: etcd answers a stream in order. */
  waiting: Map<string, Array<Deferred<number>>>;
}

/**
 * Closes a stream without it counting as a failed member: etcd3 marks a member failed when a stream
 * errors while still writable, and our own cancel would otherwise do exactly that.
 */
export function endStream(stream: { end(): void; cancel(): void }): void {
  try {
    stream.end();
    stream.cancel();
  } catch {
    // already closed
  }
}

/**
 * One LeaseKeepAlive stream per driver, shared by every renewal: a renewal is one request and its
 * response on it, so it costs one round trip and no new call. A stream that errors, ends or
 * leaves a renewal unanswered past its timeout is dropped (failing its waiters) and the next
 * renewal opens another; a timed-out one is cancelled as a failure, so that etcd3 marks the
 * member failed and the next stream goes to another (a hung member answers nothing, not even an error).
 */
export class KeepAliveStream {
  readonly #client: Etcd3;
  #open: Promise<Open> | undefined;
  #current: Open | undefined;
  #closed = false;

  constructor(client: Etcd3) {
    this.#client = client;
  }

  /** Renews lease `id` once; resolves to the TTL in seconds it now has, 0 or less if it is gone. */
  async renew(id: string, timeoutMs: number): Promise<number> {
    let open = await this.#connect();
    // Dropped between being opened and this renewal's turn: take the next one.
    if (open.dropped) open = await this.#connect();
    const d = deferred<number>();
    const queue = open.waiting.get(id) ?? [];
    queue.push(d);
    open.waiting.set(id, queue);
    // An unanswered renewal poisons the stream: a late answer would be credited to a later
    // renewal, whose send time the session would then trust. So drop the stream with it.
    const timer = setTimeout(() => {
      const e = new ConcordError("UNAVAILABLE", `etcd did not answer a keep-alive of lease ${id} within ${timeoutMs} ms`, { engine: "etcd" });
      this.#drop(open, e, true);
    }, timeoutMs);
    timer.unref();
    try {
      open.stream.write({ ID: id });
      return await d.promise;
    } finally {
      clearTimeout(timer);
    }
  }

  #connect(): Promise<Open> {
    if (this.#closed) return Promise.reject(closedError("the etcd driver"));
    if (this.#open) return this.#open;
    const pending = this.#client.leaseClient.leaseKeepAlive().then((stream) => {
      const open: Open = { stream, dropped: false, waiting: new Map() };
      this.#current = open;
      stream.on("data", (res) => {
        const queue = open.waiting.get(res.ID);
        const d = queue?.shift();
        if (queue?.length === 0) open.waiting.delete(res.ID);
        d?.resolve(Number(res.TTL));
      });
      stream.on("error", (e) => this.#drop(open, e));
      stream.on("end", () => this.#drop(open, new ConcordError("UNAVAILABLE", "etcd ended the keep-alive stream", { engine: "etcd" })));
      if (this.#closed) this.#drop(open, closedError("the etcd driver"));
      return open;
    });
    this.#open = pending;
    pending.catch(() => {
      if (this.#open === pending) this.#open = undefined;
    });
    return pending;
  }

  #drop(open: Open, e: unknown, memberFailed = false): void {
    if (!open.dropped) {
      // Cancelled while still writable, the stream errors (a moment later) and etcd3 marks its
      // member failed; ended first, it would not.
      if (memberFailed) open.stream.cancel();
      else endStream(open.stream);
    }
    if (this.#current === open) {
      this.#current = undefined;
      this.#open = undefined;
    }
    open.dropped = true;
    const waiting = [...open.waiting.values()].flat();
    open.waiting.clear();
    for (const d of waiting) d.reject(e);
  }

  /** Ends the stream; renewals in flight reject with `CLOSED`. */
  close(): void {
    this.#closed = true;
    // A stream still opening is dropped by #connect once it arrives.
    if (this.#current) this.#drop(this.#current, closedError("the etcd driver"));
    this.#open = undefined;
  }
}
