import type { Driver } from "../../driver/types.js";
import { ConcordError } from "../../errors.js";

/** Opens a redis driver from a connection URL. Placeholder until the driver lands. */
export async function createRedisDriverFromUrl(_url: string): Promise<Driver> {
  throw new ConcordError("UNSUPPORTED", "the redis engine is not available yet");
}
