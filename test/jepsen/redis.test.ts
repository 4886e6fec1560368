import { jepsenSuite } from "./suite.js";

jepsenSuite("redis", 2);
