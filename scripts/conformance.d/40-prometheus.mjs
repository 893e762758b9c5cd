// Validates prometheus/prometheusrule.yaml against prometheus-operator's PrometheusRule schema
// (@kubernetes-models/prometheus-operator), and checks that its groups are exactly those of the plain
// rules.yaml next to it.  Usage: node 40-prometheus.mjs PROMETHEUSRULE RULES
//                                node 40-prometheus.mjs --self-test
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { importFromNodePath } from "./node-path.mjs";
import { isDeepStrictEqual } from "node:util";

const require = createRequire(import.meta.url);
const yaml = require("js-yaml");
const { PrometheusRule } = await importFromNodePath("@kubernetes-models/prometheus-operator/monitoring.coreos.com/v1/PrometheusRule.js");

if (process.argv[2] === "--self-test") {
  // A `for` that is not a Prometheus duration must be refused, or the check proves nothing.
  try {
    new PrometheusRule({ metadata: { name: "x", namespace: "y" },
      spec: { groups: [{ name: "g", rules: [{ alert: "A", expr: "up == 0", for: "5 minutes" }] }] } }).validate();
    console.error("accepted a PrometheusRule with `for: 5 minutes`");
    process.exit(1);
  } catch (e) {
    console.log(`rejected: ${e.message.split("\n")[0]}`);
    process.exit(0);
  }
}

const [ruleFile, rulesFile] = process.argv.slice(2);
const docs = yaml.loadAll(readFileSync(ruleFile, "utf8")).filter((d) => d != null);
if (docs.length !== 1 || docs[0].kind !== "PrometheusRule") throw new Error("expected one PrometheusRule");
const obj = docs[0];
new PrometheusRule(obj).validate();
if (!obj.metadata?.namespace) throw new Error("metadata.namespace missing");
const plain = yaml.load(readFileSync(rulesFile, "utf8"));
if (!isDeepStrictEqual(obj.spec.groups, plain.groups)) throw new Error("spec.groups differ from rules.yaml");
const alerts = obj.spec.groups.flatMap((g) => g.rules).length;
console.log(`PrometheusRule ${obj.metadata.namespace}/${obj.metadata.name} valid, ${alerts} alerts, labels ${JSON.stringify(obj.metadata.labels)}`);
