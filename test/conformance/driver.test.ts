import { describe } from "vitest";
import { engine, engineNames } from "../helpers/engines.js";
import { driverConformance } from "./driver-suite.js";

for (const name of engineNames()) {
  describe(`driver conformance: ${name}`, () => driverConformance(() => engine(name)));
}
