/**
 * A value given on the command line: JSON if it parses (`42`, `true`, `{"a":1}`, `"quoted"`),
 * otherwise the word itself as a string (`hello`).
 */
export function parseValue(word: string): unknown {
  try {
    return JSON.parse(word) as unknown;
  } catch {
    return word;
  }
}

/** Writes `x` to stdout as one JSON line; `undefined` prints as `null`. */
export function printJson(x: unknown): void {
  process.stdout.write(`${JSON.stringify(x) ?? "null"}\n`);
}

/** Writes a `concord: …` status line to stderr (stdout stays machine-readable). */
export function note(message: string): void {
  process.stderr.write(`concord: ${message}\n`);
}
