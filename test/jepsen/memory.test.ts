import { jepsenSuite } from "./suite.js";

jepsenSuite("memory", 0);
