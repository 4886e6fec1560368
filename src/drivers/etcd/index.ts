import type { Driver } from "../../driver/types.js";
import { ConcordError } from "../../errors.js";

/** Opens an etcd driver from a connection URL. Placeholder until the driver lands. */
export async function createEtcdDriverFromUrl(_url: string): Promise<Driver> {
  throw new ConcordError("UNSUPPORTED", "the etcd engine is not available yet");
}
