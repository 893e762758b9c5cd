// Validates deaap-gen's tracing files of one output tree.
// Usage: node 35-tracing.mjs TREE TRACING_JSON   (the model's merged [tracing] table) exits 1 when a Telemetry is invalid or the files
//                                           disagree with each other or with the model.
//        node 35-tracing.mjs --self-test     proves the Telemetry schema rejects broken objects.
import { existsSync, readFileSync } from "node:fs";
import { createRequire } from "node:module";
import path from "node:path";
import { importFromNodePath } from "./node-path.mjs";

const require = createRequire(import.meta.url);
const yaml = require("js-yaml");
const { Telemetry } = await importFromNodePath("@kubernetes-models/istio/telemetry.istio.io/v1/Telemetry.js");

const problems = [];
const validate = (obj) => new Telemetry(obj).validate();

if (process.argv[2] === "--self-test") {
  const broken = [
    { metadata: { name: "x", namespace: "y" }, spec: { tracing: [{ randomSamplingPercentage: "all" }] } },
    { metadata: { name: "x", namespace: "y" }, spec: { tracing: [{ providers: [{ name: 3 }] }] } },
  ];
  for (const obj of broken) {
    try {
      validate(obj);
      problems.push(`accepted a broken Telemetry: ${JSON.stringify(obj.spec)}`);
    } catch (e) {
      console.log(`rejected broken Telemetry: ${e.message.split("\n")[0]}`);
    }
  }
} else {
  const [tree, tracingJson] = process.argv.slice(2);
  const docs = (file) => yaml.loadAll(readFileSync(path.join(tree, file), "utf8")).filter((d) => d != null);
  const telemetries = docs("istio/telemetry.yaml");
  const [values] = docs("helm/istiod-values.yaml");
  const providers = values?.meshConfig?.extensionProviders ?? [];
  // The MeshConfig ExtensionProvider fields deaap-gen writes: a name and one provider kind with
  // the collector's Service host and port.
  for (const p of providers) {
    const kinds = Object.keys(p).filter((k) => k !== "name");
    if (typeof p.name !== "string" || kinds.length !== 1 || !["opentelemetry", "zipkin"].includes(kinds[0])) {
      problems.push(`malformed extension provider ${JSON.stringify(p)}`);
      continue;
    }
    const { service, port } = p[kinds[0]];
    if (!/^[a-z0-9-]+\.[a-z0-9-]+\.svc\.cluster\.local$/.test(service) || !Number.isInteger(port)) {
      problems.push(`provider ${p.name}: service ${service} / port ${port} is no in-cluster Service address`);
    }
  }
  // The model's [tracing] table.
  const model = JSON.parse(tracingJson);
  const sampling = model.sampling;
  const c = model.collector;
  const host = `${c.service}.${c.namespace}.svc.cluster.local`;
  const port = c.port;
  for (const t of telemetries) {
    try {
      validate(t);
    } catch (e) {
      problems.push(`Telemetry ${t.metadata?.namespace}/${t.metadata?.name}: ${e.message}`);
    }
    for (const tr of t.spec?.tracing ?? []) {
      if (tr.randomSamplingPercentage !== sampling) {
        problems.push(`Telemetry ${t.metadata.namespace}: sampling ${tr.randomSamplingPercentage}, the model says ${sampling}`);
      }
      for (const ref of tr.providers ?? []) {
        const p = providers.find((x) => x.name === ref.name);
        if (!p) problems.push(`Telemetry ${t.metadata.namespace}: provider ${ref.name} is not in meshConfig.extensionProviders`);
        else {
          const ep = p.opentelemetry ?? p.zipkin;
          if (ep.service !== host || ep.port !== port) {
            problems.push(`provider ${ref.name} points at ${ep.service}:${ep.port}, the model's collector is ${host}:${port}`);
          }
        }
      }
    }
  }
  // Every namespace with a Telemetry lets its pods reach the collector (when policies exist).
  const policyFile = path.join(tree, "kubernetes/tracing-network-policies.yaml");
  if (existsSync(policyFile)) {
    const policies = docs("kubernetes/tracing-network-policies.yaml");
    for (const t of telemetries) {
      const ok = policies.some((np) => np.metadata.namespace === t.metadata.namespace &&
        (np.spec.egress ?? []).some((r) =>
          (r.ports ?? []).some((p) => p.port === port) &&
          (r.to ?? []).some((to) => to.namespaceSelector?.matchLabels?.["kubernetes.io/metadata.name"] === c.namespace)));
      if (!ok) problems.push(`namespace ${t.metadata.namespace}: no egress to the collector ${host}:${port}`);
    }
  }
  if (telemetries.length === 0) problems.push("no Telemetry found");
  if (!problems.length) console.log(`${telemetries.length} Telemetry objects at ${sampling}% to ${host}:${port}`);
}
for (const p of problems) console.error(p);
process.exit(problems.length ? 1 : 0);
