import { describe, expect, it } from "vitest";
import { nextCron, parseCron } from "../../src/tasks/cron.js";

const at = (iso: string): number => Date.parse(iso);

describe("cron expressions", () => {
  it("finds the next matching minute for numbers, ranges, lists and steps", () => {
    expect(new Date(nextCron(parseCron("*/15 * * * *"), at("2026-01-01T10:07:30Z"))).toISOString()).toBe("2026-01-01T10:15:00.000Z");
    expect(new Date(nextCron(parseCron("0 9 * * 1-5"), at("2026-01-02T09:00:00Z"))).toISOString()).toBe("2026-01-05T09:00:00.000Z"); // Fri → Mon
    expect(new Date(nextCron(parseCron("30 6,18 1 * *"), at("2026-01-01T07:00:00Z"))).toISOString()).toBe("2026-01-01T18:30:00.000Z");
    expect(new Date(nextCron(parseCron("0 0 * * 7"), at("2026-01-01T00:00:00Z"))).toISOString()).toBe("2026-01-04T00:00:00.000Z"); // 7 = Sunday
  });

  it("rejects malformed expressions with INVALID_ARGUMENT naming cron", () => {
    for (const bad of ["* * * *", "60 * * * *", "a * * * *", "5-1 * * * *", "*/0 * * * *", 5]) {
      expect(() => parseCron(bad)).toThrow(expect.objectContaining({ code: "INVALID_ARGUMENT", message: expect.stringContaining("cron") }));
    }
  });
});
