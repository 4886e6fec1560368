import { jsonCodec } from "../codec.js";
import type { Context } from "../context.js";
import type { Entry } from "../driver/types.js";
import { checkTtl } from "../driver/validate.js";
import { ConcordError, invalid, isConcordError } from "../errors.js";
import { Notifier } from "../internal/deferred.js";
import { checkName, segment } from "../internal/names.js";
import { abortableIterable, isAbortOf } from "../internal/stream.js";
import { HeldPlace } from "./held.js";
import { FairQueue, headOnly } from "./queue.js";
import { takePlace } from "./take-place.js";

export interface ElectionOptions {
  /** This candidate's id, as `leader()` reports it; default the client's id. */
  id?: string;
  /** A lease of the election's own with this TTL; by default the client's session lease. */
  ttlMs?: number;
}

/** Who leads: the candidate's id, its term (strictly increasing across leaders) and its proclaimed value. */
export interface LeaderInfo {
  id: string;
  term: number;
  value: unknown;
}

interface Candidacy {
  id: string;
  value: unknown;
}

function decodeCandidate(e: Entry): LeaderInfo {
  const c = jsonCodec.decode(e.value) as Candidacy;
  return { id: c.id, term: e.createRevision, value: c.value ?? null };
}

/** Leadership won by `campaign()`. `signal` aborts on loss (lease expiry, resign, close) before anyone else can lead. */
export class Leadership extends HeldPlace {
  readonly #ctx: Context;
  readonly #id: string;

  constructor(queue: FairQueue, ticket: ConstructorParameters<typeof HeldPlace>[1], ctx: Context, id: string) {
    super(queue, ticket, ctx.closed);
    this.#ctx = ctx;
    this.#id = id;
  }

  get term(): number {
    return this.ticket.createRevision;
  }

  /** Publishes a new value while still leader; rejects with `LOCK_LOST` if leadership is gone. */
  async proclaim(value: unknown): Promise<void> {
    this.assertHeld();
    const bytes = jsonCodec.encode({ id: this.#id, value } satisfies Candidacy);
    const r = await this.#ctx.driver.put(this.ticket.key, bytes, {
      ifVersion: this.ticket.modRevision,
      lease: this.ticket.lease.id,
    });
    if (!r.ok) throw new ConcordError("LOCK_LOST", "leadership was lost before the proclamation");
    this.ticket.modRevision = r.entry.modRevision;
  }

  /** Steps down; the next candidate in line becomes leader. */
  resign(): Promise<void> {
    return this.release();
  }
}

/**
 * Leader election: candidates queue first come, first served; the head leads. Terms strictly
 * increase from one leader to the next, and `observe()` never goes back to an older term.
 */
export class Election {
  readonly name: string;
  readonly #ctx: Context;
  readonly #queue: FairQueue;
  readonly #id: string;
  readonly #ttlMs: number | undefined;

  constructor(ctx: Context, name: string, opts: ElectionOptions = {}) {
    this.name = checkName("name", name);
    if (typeof opts !== "object" || opts === null) throw invalid("options", "expected an object");
    if (opts.ttlMs !== undefined) checkTtl("ttlMs", opts.ttlMs);
    this.#id = opts.id === undefined ? ctx.clientId : checkName("id", opts.id);
    this.#ttlMs = opts.ttlMs;
    this.#ctx = ctx;
    this.#queue = new FairQueue(ctx.driver, ctx.hub, `${ctx.ns}election/${segment(name)}/`);
  }

  /** Joins the candidates and resolves when this one leads. */
  async campaign(opts: { value?: unknown; signal?: AbortSignal; timeoutMs?: number } = {}): Promise<Leadership> {
    const bytes = jsonCodec.encode({ id: this.#id, value: opts.value ?? null } satisfies Candidacy);
    const ticket = await takePlace(this.#ctx, this.#queue, this.#ttlMs, bytes, headOnly, opts);
    return new Leadership(this.#queue, ticket, this.#ctx, this.#id);
  }

  async leader(opts: { signal?: AbortSignal } = {}): Promise<LeaderInfo | undefined> {
    const head = (await this.#queue.entries(opts.signal))[0];
    return head && decodeCandidate(head);
  }

  /** Every candidate, first in line (the leader) first. */
  async candidates(opts: { signal?: AbortSignal } = {}): Promise<LeaderInfo[]> {
    return (await this.#queue.entries(opts.signal)).map(decodeCandidate);
  }

  /** Yields the current leader (or undefined), then every change of leader, term or proclaimed value. */
  observe(opts: { signal?: AbortSignal } = {}): AsyncIterable<LeaderInfo | undefined> {
    const ctx = this.#ctx;
    return abortableIterable([opts.signal, ctx.closed], (signal) => {
      const self = this;
      return (async function* () {
        const wake = new Notifier();
        const unsubscribe = await ctx.hub.subscribe(self.#queue.prefix, () => wake.notify());
        let last: LeaderInfo | undefined | null = null;
        try {
          for (;;) {
            const seen = wake.seq;
            const now = await self.leader({ signal });
            const changed =
              last === null ||
              now?.id !== last?.id ||
              now?.term !== last?.term ||
              JSON.stringify(now?.value) !== JSON.stringify(last?.value);
            // Never report an older term after a newer one (a stale read after a newer event).
            if (changed && !(now && last && now.term < last.term)) {
              last = now;
              yield now;
            }
            await wake.wait(seen, signal);
          }
        } catch (e) {
          if (isAbortOf(signal, e) || signal.aborted) return;
          throw e;
        } finally {
          unsubscribe();
        }
      })();
    });
  }

  /**
   * Runs `fn` each time this candidate becomes leader; its signal aborts on loss, after which the
   * candidate campaigns again. `stop()` resigns if leader and ends the campaign.
   */
  whenElected(fn: (signal: AbortSignal, leadership: Leadership) => unknown, opts: { value?: unknown } = {}): () => Promise<void> {
    if (typeof fn !== "function") throw invalid("fn", "expected a function");
    const stopper = new AbortController();
    const loop = (async () => {
      while (!stopper.signal.aborted) {
        let lead: Leadership;
        try {
          lead = await this.campaign({ value: opts.value, signal: stopper.signal });
        } catch (e) {
          if (stopper.signal.aborted || isConcordError(e, "CLOSED")) return;
          await new Promise((r) => setTimeout(r, 200).unref());
          continue;
        }
        const onStop = (): void => void lead.resign();
        stopper.signal.addEventListener("abort", onStop, { once: true });
        let failed = false;
        try {
          await fn(lead.signal, lead);
        } catch {
          failed = true; // a failing leader task steps down and campaigns again; it does not end the loop
        }
        if (!failed && !lead.signal.aborted && !stopper.signal.aborted) {
          await new Promise<void>((resolve) => lead.signal.addEventListener("abort", () => resolve(), { once: true }));
        }
        stopper.signal.removeEventListener("abort", onStop);
        await lead.resign();
      }
    })();
    return async () => {
      stopper.abort();
      await loop;
    };
  }
}
