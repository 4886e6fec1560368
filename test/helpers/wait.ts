/** Polls `fn` until it returns a truthy value or `timeoutMs` passes. */
export async function until<T>(fn: () => T | Promise<T>, timeoutMs = 5000, what = "condition"): Promise<NonNullable<T>> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Collects `n` items of an async iterable, failing after `timeoutMs`. */
export async function take<T>(it: AsyncIterable<T>, n: number, timeoutMs = 5000): Promise<T[]> {
  const out: T[] = [];
  if (n === 0) return out;
  const iter = it[Symbol.asyncIterator]();
  const timer = new Promise<never>((_, rej) => {
    const t = setTimeout(() => rej(new Error(`took ${out.length} of ${n} items in ${timeoutMs} ms`)), timeoutMs);
    t.unref();
  });
  try {
    while (out.length < n) {
      const r = await Promise.race([iter.next(), timer]);
      if (r.done) break;
      out.push(r.value);
    }
  } finally {
    void iter.return?.();
  }
  return out;
}
