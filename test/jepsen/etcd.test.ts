import { jepsenSuite } from "./suite.js";

jepsenSuite("etcd", 4);
