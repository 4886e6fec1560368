import { jepsenSuite } from "./suite.js";

jepsenSuite("sqlite", 1);
