import { jepsenSuite } from "./suite.js";

jepsenSuite("postgres", 3);
