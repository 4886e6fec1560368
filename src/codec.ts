import { ConcordError, invalid } from "./errors.js";

/** Turns values into bytes and back. */
export interface Codec<T> {
  encode(value: T): Uint8Array;
  decode(bytes: Uint8Array): T;
}

export type CodecOption<T> = "json" | "string" | "bytes" | Codec<T>;

const encoder = new TextEncoder();
const decoder = new TextDecoder("utf-8", { fatal: true });

const json: Codec<unknown> = {
  encode(value) {
    if (value === undefined) throw invalid("value", "undefined cannot be stored as JSON; use null");
    let text: string | undefined;
    try {
      text = JSON.stringify(value);
    } catch (e) {
      throw new ConcordError("INVALID_ARGUMENT", `value: cannot be encoded as JSON (${(e as Error).message})`, { cause: e });
    }
    if (text === undefined) throw invalid("value", `a ${typeof value} cannot be encoded as JSON`);
    return encoder.encode(text);
  },
  decode(bytes) {
    try {
      return JSON.parse(decoder.decode(bytes)) as unknown;
    } catch (e) {
      throw new ConcordError("CORRUPT", "stored value is not valid JSON; was it written with another codec?", { cause: e });
    }
  },
};

const string: Codec<string> = {
  encode(value) {
    if (typeof value !== "string") throw invalid("value", `expected a string for the string codec, got ${typeof value}`);
    return encoder.encode(value);
  },
  decode(bytes) {
    try {
      return decoder.decode(bytes);
    } catch (e) {
      throw new ConcordError("CORRUPT", "stored value is not valid UTF-8", { cause: e });
    }
  },
};

const bytes: Codec<Uint8Array> = {
  encode(value) {
    if (!(value instanceof Uint8Array)) throw invalid("value", "expected a Uint8Array for the bytes codec");
    return value;
  },
  decode: (b) => b,
};

/** Resolves a codec option; JSON by default. */
export function resolveCodec<T>(opt: CodecOption<T> | undefined): Codec<T> {
  if (opt === undefined || opt === "json") return json as Codec<T>;
  if (opt === "string") return string as unknown as Codec<T>;
  if (opt === "bytes") return bytes as unknown as Codec<T>;
  if (typeof opt === "object" && typeof opt.encode === "function" && typeof opt.decode === "function") {
    return wrapCustom(opt);
  }
  throw invalid("codec", `expected "json", "string", "bytes" or { encode, decode }, got ${String(opt)}`);
}

function wrapCustom<T>(c: Codec<T>): Codec<T> {
  return {
    encode(value) {
      const out = c.encode(value);
      if (!(out instanceof Uint8Array)) throw invalid("codec", "encode() must return a Uint8Array");
      return out;
    },
    decode(b) {
      try {
        return c.decode(b);
      } catch (e) {
        throw new ConcordError("CORRUPT", `the custom codec could not decode a stored value: ${(e as Error).message}`, { cause: e });
      }
    },
  };
}

export { json as jsonCodec };
