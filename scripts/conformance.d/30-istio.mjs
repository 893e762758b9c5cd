// Validates deaap-gen's istio/ files against the Istio CRD schemas packaged in
// @kubernetes-models/istio (and the cert-manager Certificate against @kubernetes-models/cert-manager).
// Usage: node 30-istio.mjs FILE...        exits 1 when any object is invalid or of an unexpected kind.
//        node 30-istio.mjs --self-test    proves the validators reject a broken object.
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";

const require = createRequire(import.meta.url);
const yaml = require("js-yaml");

const models = {
  "networking.istio.io/v1beta1": {
    Gateway: () => require("@kubernetes-models/istio/networking.istio.io/v1beta1/Gateway").Gateway,
    VirtualService: () =>
      require("@kubernetes-models/istio/networking.istio.io/v1beta1/VirtualService").VirtualService,
    DestinationRule: () =>
      require("@kubernetes-models/istio/networking.istio.io/v1beta1/DestinationRule").DestinationRule,
  },
  "security.istio.io/v1beta1": {
    PeerAuthentication: () =>
      require("@kubernetes-models/istio/security.istio.io/v1beta1/PeerAuthentication").PeerAuthentication,
  },
  "cert-manager.io/v1": {
    Certificate: () => require("@kubernetes-models/cert-manager/cert-manager.io/v1/Certificate").Certificate,
  },
};

function validate(obj) {
  const Model = models[obj.apiVersion]?.[obj.kind];
  if (!Model) throw new Error(`no schema for ${obj.apiVersion} ${obj.kind}`);
  if (!obj.metadata?.name || !obj.metadata?.namespace) throw new Error("metadata.name and metadata.namespace are required");
  new (Model())(obj).validate();
}

let failed = 0;
let count = 0;
if (process.argv[2] === "--self-test") {
  // A port number as a string and an unknown TLS mode must both be refused, or the checks above prove nothing.
  const broken = [
    { apiVersion: "networking.istio.io/v1beta1", kind: "VirtualService", metadata: { name: "x", namespace: "y" },
      spec: { hosts: ["a"], http: [{ route: [{ destination: { host: "h", port: { number: "eighty" } } }] }] } },
    { apiVersion: "networking.istio.io/v1beta1", kind: "DestinationRule", metadata: { name: "x", namespace: "y" },
      spec: { host: "h", trafficPolicy: { tls: { mode: "SOMETIMES" } } } },
    { apiVersion: "cert-manager.io/v1", kind: "Certificate", metadata: { name: "x", namespace: "y" },
      spec: { dnsNames: ["a"], issuerRef: { name: "i" } } },
  ];
  for (const obj of broken) {
    try {
      validate(obj);
      console.error(`accepted a broken ${obj.kind}`);
      failed++;
    } catch (e) {
      console.log(`rejected broken ${obj.kind}: ${e.message.split("\n")[0]}`);
    }
  }
  process.exit(failed ? 1 : 0);
}
for (const file of process.argv.slice(2)) {
  for (const obj of yaml.loadAll(readFileSync(file, "utf8"))) {
    if (obj == null) continue;
    // Telemetry (telemetry.istio.io/v1) is validated by 35-tracing with the Istio models that have it.
    if (obj.apiVersion?.startsWith("telemetry.istio.io/")) continue;
    count++;
    try {
      validate(obj);
    } catch (e) {
      failed++;
      console.error(`${file}: ${obj.kind} ${obj.metadata?.namespace}/${obj.metadata?.name}: ${e.message}`);
    }
  }
}
if (count === 0) {
  console.error("no objects found");
  process.exit(1);
}
console.log(`${count - failed} of ${count} objects valid`);
process.exit(failed ? 1 : 0);
