import { invalid } from "../errors.js";

export const MAX_NAME_LENGTH = 256;
// eslint-disable-next-line no-control-regex
const CONTROL = /[\u0000-\u001f\u007f]/;

/** Checks a primitive or map-key name: a non-empty string without control characters, at most 256 long. */
export function checkName(arg: string, name: unknown): string {
  if (typeof name !== "string") throw invalid(arg, `expected a string, got ${name === null ? "null" : typeof name}`);
  if (name.length === 0) throw invalid(arg, "must not be empty");
  if (name.length > MAX_NAME_LENGTH) throw invalid(arg, `is ${name.length} characters long; the limit is ${MAX_NAME_LENGTH}`);
  if (CONTROL.test(name)) throw invalid(arg, "must not contain control characters");
  return name;
}

/** A name as one key segment: `/` and `%` escaped so that no name is a prefix of another's keys. */
export function segment(name: string): string {
  return name.replace(/%/g, "%25").replace(/\//g, "%2F");
}

export function unsegment(seg: string): string {
  return seg.replace(/%2F/g, "/").replace(/%25/g, "%");
}
