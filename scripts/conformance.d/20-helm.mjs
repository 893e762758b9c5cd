// Helpers of 20-helm.sh, using js-yaml.
//   node 20-helm.mjs monitoring VALUES OUT   checks kube-prometheus-stack's prometheusSpec against
//       the Prometheus CRD schema (@kubernetes-models/prometheus-operator) and writes OUT, a
//       prometheus.yml with the additionalScrapeConfigs, for `promtool check config`, and beside it
//       prometheus-claim.yaml, the storage claim as a PersistentVolumeClaim for kubernetes-validate
import { readFileSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import path from "node:path";
import { importFromNodePath } from "./node-path.mjs";

const require = createRequire(import.meta.url);
const yaml = require("js-yaml");
const [mode, input, output] = process.argv.slice(2);
const values = yaml.load(readFileSync(input, "utf8"));

if (mode === "monitoring") {
  const { Prometheus } = await importFromNodePath("@kubernetes-models/prometheus-operator/monitoring.coreos.com/v1/Prometheus.js");
  const ps = values.prometheus.prometheusSpec;
  // kube-prometheus-stack copies these prometheusSpec keys into the Prometheus object's spec
  // (storageSpec becomes spec.storage); additionalScrapeConfigs go to a Secret instead.
  // The packaged schema pins the embedded claim's optional apiVersion/kind to a type name the real
  // CRD does not require (an artifact of the model generator), so those two are supplied here; the
  // claim's spec is also checked as a real PersistentVolumeClaim by kubernetes-validate.
  const claim = { ...ps.storageSpec.volumeClaimTemplate, apiVersion: "monitoring.coreos.com/v1", kind: "EmbeddedPersistentVolumeClaim" };
  const spec = { retention: ps.retention, storage: { ...ps.storageSpec, volumeClaimTemplate: claim }, ruleSelector: ps.ruleSelector };
  new Prometheus({ metadata: { name: "kube-prometheus-stack", namespace: "monitoring" }, spec }).validate();
  writeFileSync(`${path.dirname(output)}/prometheus-claim.yaml`, yaml.dump({
    apiVersion: "v1", kind: "PersistentVolumeClaim", metadata: { name: "prometheus-db" }, spec: ps.storageSpec.volumeClaimTemplate.spec,
  }));
  const g = values.grafana;
  const providers = g.dashboardProviders?.["dashboardproviders.yaml"]?.providers ?? [];
  if (typeof g.persistence?.enabled !== "boolean" || providers.length === 0 || !providers.every((p) => p.name && p.options?.path)) {
    throw new Error("grafana persistence or dashboard provider incomplete");
  }
  // Debian's promtool is built without Kubernetes service discovery, so the pod discovery is checked
  // here and swapped for a static target; promtool then checks the job and its relabelling.
  const roles = new Set(["pod", "service", "endpoints", "endpointslice", "node", "ingress"]);
  const scrapeConfigs = ps.additionalScrapeConfigs.map(({ kubernetes_sd_configs: sd, ...job }) => {
    for (const c of sd ?? []) {
      if (!roles.has(c.role) || !(c.namespaces?.names ?? []).every((n) => typeof n === "string" && n.length > 0)) {
        throw new Error(`job ${job.job_name}: bad kubernetes_sd_config ${JSON.stringify(c)}`);
      }
    }
    return { ...job, static_configs: [{ targets: ["pod.example:8080"] }] };
  });
  writeFileSync(output, yaml.dump({ scrape_configs: scrapeConfigs }));
  console.log(`prometheusSpec valid; ${ps.additionalScrapeConfigs.length} scrape config(s) written`);
} else {
  throw new Error(`unknown mode ${mode}`);
}
