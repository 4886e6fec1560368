import { createConnection, createServer, type Server, type Socket } from "node:net";

/**
 * What the proxy does with traffic:
 * - `pass`: forwards both ways;
 * - `drop`: keeps every connection open (and accepts new ones) but swallows the bytes both ways,
 *   like a network that black-holes packets; a connection that lost bytes is reset when the mode
 *   goes back to `pass` (a real TCP stream never resumes with a hole: it retransmits or dies);
 * - `stall`: stops reading both ways (the kernel buffers fill, nothing is lost), like a frozen peer;
 *   switching back to `pass` delivers what was held;
 * - `refuse`: new connections are reset at once (existing ones are left as they are), like a
 *   server that is down.
 */
export type ProxyMode = "pass" | "drop" | "stall" | "refuse";

interface Pair {
  client: Socket;
  upstream: Socket;
  /** Bytes were swallowed: the stream has a hole, so it cannot carry traffic again. */
  lost: boolean;
}

/**
 * A TCP proxy on 127.0.0.1 (an ephemeral port) in front of `targetHost:targetPort`, for fault
 * tests: switch its {@link ProxyMode}, {@link reset} (RST) or {@link cut} (FIN) every live
 * connection, and count them. Only the test process sees it; the engine behind it is untouched.
 *
 * ```ts
 * const proxy = await TcpProxy.start(6379);
 * const url = `redis://127.0.0.1:${proxy.port}`;
 * proxy.stall(); … proxy.pass();
 * await proxy.close();
 * ```
 */
export class TcpProxy {
  readonly #server: Server;
  readonly #targetHost: string;
  readonly #targetPort: number;
  readonly #pairs = new Set<Pair>();
  #mode: ProxyMode = "pass";
  #accepted = 0;
  #closed: Promise<void> | undefined;

  private constructor(server: Server, targetHost: string, targetPort: number) {
    this.#server = server;
    this.#targetHost = targetHost;
    this.#targetPort = targetPort;
  }

  /** Listens on 127.0.0.1 at a free port, forwarding to `targetHost:targetPort` (default host 127.0.0.1). */
  static async start(targetPort: number, targetHost = "127.0.0.1"): Promise<TcpProxy> {
    const server = createServer({ pauseOnConnect: true });
    const proxy = new TcpProxy(server, targetHost, targetPort);
    server.on("connection", (s) => proxy.#accept(s));
    await new Promise<void>((resolve, reject) => {
      server.once("error", reject);
      server.listen(0, "127.0.0.1", () => {
        server.off("error", reject);
        resolve();
      });
    });
    return proxy;
  }

  /** The port the proxy listens on (127.0.0.1). */
  get port(): number {
    const a = this.#server.address();
    if (a === null || typeof a === "string") throw new Error("tcp proxy: not listening");
    return a.port;
  }

  /** `127.0.0.1:PORT`, for connection strings. */
  get address(): string {
    return `127.0.0.1:${this.port}`;
  }

  get mode(): ProxyMode {
    return this.#mode;
  }

  /** Live proxied connections right now. */
  get connections(): number {
    return this.#pairs.size;
  }

  /** Connections accepted since the start (including refused ones). */
  get accepted(): number {
    return this.#accepted;
  }

  /** Forwards traffic again, delivering what a stall held back; connections that lost bytes to a drop are reset. */
  pass(): void {
    for (const p of [...this.#pairs]) if (p.lost) this.#end(p, true);
    this.#setMode("pass");
  }

  /** Swallows every byte both ways; connections stay open and new ones are accepted. */
  drop(): void {
    this.#setMode("drop");
  }

  /** Stops reading both ways on every connection, new ones included, until {@link pass}. */
  stall(): void {
    this.#setMode("stall");
  }

  /** Resets new connections at once; existing ones keep the mode they had before (see {@link reset}). */
  refuse(): void {
    this.#mode = "refuse";
  }

  /** Destroys every live connection with a TCP RST, both sides. The mode is unchanged. */
  reset(): void {
    for (const p of [...this.#pairs]) this.#end(p, true);
  }

  /** Closes every live connection (FIN), both sides. The mode is unchanged. */
  cut(): void {
    for (const p of [...this.#pairs]) this.#end(p, false);
  }

  /** Stops listening and resets every connection; idempotent. Resolves within ~2 s at worst. */
  close(): Promise<void> {
    this.#closed ??= new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, 2000);
      timer.unref();
      this.#server.close(() => {
        clearTimeout(timer);
        resolve();
      });
      this.reset();
    });
    return this.#closed;
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }

  #setMode(mode: ProxyMode): void {
    this.#mode = mode;
    for (const p of this.#pairs) this.#apply(p);
  }

  /** Pauses or resumes both sockets of a pair as the mode asks. */
  #apply(p: Pair): void {
    if (this.#mode === "stall") {
      p.client.pause();
      p.upstream.pause();
    } else {
      if (!p.client.destroyed) p.client.resume();
      if (!p.upstream.destroyed) p.upstream.resume();
    }
  }

  #accept(client: Socket): void {
    this.#accepted++;
    if (this.#mode === "refuse" || this.#closed) {
      client.on("error", () => undefined);
      client.resetAndDestroy();
      return;
    }
    const upstream = createConnection({ host: this.#targetHost, port: this.#targetPort });
    upstream.pause();
    const pair: Pair = { client, upstream, lost: false };
    this.#pairs.add(pair);
    this.#pipe(pair, client, upstream);
    this.#pipe(pair, upstream, client);
    const onGone = (): void => this.#end(pair, false);
    client.on("error", onGone);
    upstream.on("error", onGone);
    client.on("close", onGone);
    upstream.on("close", onGone);
    upstream.once("connect", () => this.#apply(pair));
  }

  /** Forwards `from` to `to` in `pass` mode, discards in `drop`, with backpressure. */
  #pipe(pair: Pair, from: Socket, to: Socket): void {
    from.on("data", (chunk: Buffer) => {
      if (this.#mode === "drop") {
        pair.lost = true;
        return;
      }
      if (to.destroyed) return;
      if (!to.write(chunk) && this.#mode !== "stall") {
        from.pause();
        to.once("drain", () => {
          if (this.#mode !== "stall") from.resume();
        });
      }
    });
    from.on("end", () => {
      if (this.#mode !== "drop" && !to.destroyed) to.end();
    });
  }

  #end(p: Pair, rst: boolean): void {
    if (!this.#pairs.delete(p)) return;
    for (const s of [p.client, p.upstream]) {
      if (s.destroyed) continue;
      // resetAndDestroy needs a connected socket; one still connecting is simply destroyed.
      if (rst && !s.connecting) s.resetAndDestroy();
      else s.destroy();
    }
  }
}
