import type { Pool, PoolClient } from "pg";
import type { Notifier } from "../../internal/deferred.js";
import { quoteIdent } from "./schema.js";

const FIRST_RETRY_MS = 100;
const MAX_RETRY_MS = 2000;

/**
 * The driver's one LISTEN connection: every NOTIFY on the keyspace's channel wakes `changed`, and
 * so every watch of the driver. When the connection is lost (a server restart) it reconnects with
 * back-off and, once listening again, wakes `changed` once more: watches then re-read from their
 * own cursors, so what was written while nobody listened is delivered too, with no gap.
 */
export class ChangeListener {
  readonly #pool: Pool;
  readonly #channel: string;
  readonly #changed: Notifier;
  #client: PoolClient | undefined;
  #retryMs = FIRST_RETRY_MS;
  #timer: NodeJS.Timeout | undefined;
  #stopped = false;

  constructor(pool: Pool, channel: string, changed: Notifier) {
    this.#pool = pool;
    this.#channel = channel;
    this.#changed = changed;
  }

  /** Connects and listens; rejects if the server cannot be reached now. */
  async start(): Promise<void> {
    await this.#open();
  }

  async #open(): Promise<void> {
    const client = await this.#pool.connect();
    // Listeners first: an 'error' event with none would take the process down.
    client.on("error", () => this.#lost(client));
    client.on("end", () => this.#lost(client));
    client.on("notification", (msg) => {
      if (msg.channel === this.#channel) this.#changed.notify();
    });
    try {
      await client.query(`LISTEN ${quoteIdent(this.#channel)}`);
    } catch (e) {
      client.release(true);
      throw e;
    }
    if (this.#stopped) {
      client.release(true);
      return;
    }
    this.#client = client;
    // Listening alone does not keep the process alive (a waiting watch does, through `changed`).
    (client as unknown as { unref?: () => void }).unref?.();
    this.#retryMs = FIRST_RETRY_MS;
    this.#changed.notify();
  }

  #lost(client: PoolClient): void {
    if (this.#client !== client) return;
    this.#client = undefined;
    // Destroy rather than return it: the pool must not hand out a dead or still-listening connection.
    client.release(true);
    this.#retry();
  }

  #retry(): void {
    if (this.#stopped) return;
    this.#timer = setTimeout(() => {
      this.#open().catch(() => {
        this.#retryMs = Math.min(MAX_RETRY_MS, this.#retryMs * 2);
        this.#retry();
      });
    }, this.#retryMs);
    this.#timer.unref();
  }

  /** Stops listening and gives the connection back to the server. Idempotent. */
  close(): void {
    this.#stopped = true;
    clearTimeout(this.#timer);
    const client = this.#client;
    this.#client = undefined;
    client?.release(true);
  }
}
