import type { Concord, ConcordOptions } from "../concord.js";
import { connect } from "../index.js";
import type { GlobalOptions } from "./options.js";

/** Opens a client on the store the global options name, with their namespace and TTL. */
export function openClient(g: GlobalOptions, extra: Pick<ConcordOptions, "id"> = {}): Promise<Concord> {
  const opts: ConcordOptions = { ...extra };
  if (g.namespace !== undefined) opts.namespace = g.namespace;
  if (g.ttlMs !== undefined) opts.ttlMs = g.ttlMs;
  return connect(g.store, opts);
}
