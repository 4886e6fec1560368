import type { Driver } from "../../driver/types.js";
import { ConcordError } from "../../errors.js";

/** Opens a postgres driver from a connection URL. Placeholder until the driver lands. */
export async function createPostgresDriverFromUrl(_url: string): Promise<Driver> {
  throw new ConcordError("UNSUPPORTED", "the postgres engine is not available yet");
}
