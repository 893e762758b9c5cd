//! The catalogue of every diagnostic code deaap-gen emits: the loader's and the schema's (`DG00xx`),
//! the semantic rules' (`DG01xx`–`DG02xx`, each with its rule) and the secrets scan's. `explain`
//! prints an entry; a test checks that every code the sources emit is here and in README.

use crate::validate::rules;

/// Where in the pipeline a code is raised.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    /// Reading, parsing and layering the environment files.
    Load,
    /// The merged tree against the environment schema.
    Schema,
    /// A semantic rule on the typed model, or one of the rules that check the merged tree before
    /// it: the secrets scan and the syntax of the values the model parses.
    Rule,
    /// The system proof after generation: the generated objects evaluated the way the cluster
    /// would treat them.
    Proof,
    /// A retired code that was split into several; it is no longer emitted and explains which
    /// codes replace it.
    Split,
}

impl Phase {
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Load => "load",
            Self::Schema => "schema",
            Self::Rule => "rule",
            Self::Proof => "proof",
            Self::Split => "split",
        }
    }
}

/// One code: what it catches and why that matters.
#[derive(Debug, Clone, Copy)]
pub struct Code {
    pub code: &'static str,
    pub phase: Phase,
    pub name: &'static str,
    pub what: &'static str,
    pub why: &'static str,
}

/// The system proof's codes for observability (DG0540–DG0559) and isolation (DG0560–DG0569).
const OBSERVABILITY_AND_ISOLATION: &[Code] = &[
    Code {
        code: "DG0540",
        phase: Phase::Proof,
        name: "alert-series-scraped",
        what: "An alert's series is scraped by the generated Prometheus configuration: the \
               workload its metric is `exposed_by` is a target of the scrape job (after Istio's \
               injection and the job's relabelling), and for `up` some target has the labels \
               the alert selects.",
        why: "Prometheus alerts only on series that exist: an alert whose series is never \
              scraped can never fire, and nothing tells you so.",
    },
    Code {
        code: "DG0541",
        phase: Phase::Proof,
        name: "alert-exposer-runs",
        what: "The workload or exporter a watched metric is `exposed_by` runs in the \
               environment.",
        why: "A series of a disabled workload never exists; the alert is dead weight that \
              looks like coverage.",
    },
    Code {
        code: "DG0542",
        phase: Phase::Proof,
        name: "scraped-own-port",
        what: "An alert's series is scraped from the workload's own container port, not only \
               through the Istio sidecar's merged-metrics port (15020).",
        why: "Through the merged port, `up` reports the sidecar's agent, not the workload, and \
              the series disappears when the mesh is switched off.",
    },
    Code {
        code: "DG0543",
        phase: Phase::Proof,
        name: "scrape-not-refused",
        what: "A scraped port of a meshed workload under STRICT mTLS bypasses the sidecar \
               (a metrics port of its own, excluded from inbound capture).",
        why: "Prometheus runs outside the mesh and scrapes in plain text; the sidecar refuses \
              it, so the target is always down and every alert on it misfires.",
    },
    Code {
        code: "DG0544",
        phase: Phase::Proof,
        name: "alert-selector-matches",
        what: "A selector label that Prometheus attaches to targets (`job`, `namespace`, `app`, \
               `pod`, `instance`) has a value some target of the exposing workload carries.",
        why: "A selector that matches no series makes the alert silent for good.",
    },
    Code {
        code: "DG0545",
        phase: Phase::Proof,
        name: "hpa-metric-source",
        what: "An HPA's Pods metric is served by a generated prometheus-adapter rule over a \
               declared metric the autoscaled service exposes and Prometheus scrapes with \
               `namespace` and `pod` labels.",
        why: "Without a source the custom metrics API has no value, and the HPA neither scales \
              on the metric nor says why beyond an event.",
    },
    Code {
        code: "DG0546",
        phase: Phase::Proof,
        name: "runbook-pages",
        what: "Every alert's `runbook_url` names a runbook page deaap-gen generates \
               (`runbooks/<Alert>.md`).",
        why: "An on-call engineer follows the link at the worst moment; a link to nothing \
              costs the minutes the runbook was meant to save.",
    },
    Code {
        code: "DG0550",
        phase: Phase::Proof,
        name: "tracing-coverage",
        what: "With `[tracing]`, every namespace where a deployed workload runs behind the Istio \
               sidecar has a generated `Telemetry` naming the provider, the mesh configuration \
               (`helm/istiod-values.yaml`) defines that provider at the model's collector, and \
               with network policies a policy of the namespace lets its sidecars reach the \
               collector's namespace and port. Tracing with no sidecar at all is a warning.",
        why: "Each gap loses spans without an error anywhere: a sidecar with no Telemetry samples \
              nothing, a provider istiod does not know is ignored, and a default-deny policy \
              drops the spans on their way to the collector.",
    },
    Code {
        code: "DG0560",
        phase: Phase::Proof,
        name: "environment-isolation",
        what: "Two environments deployed to one cluster (`[environment] cluster`) share no \
               object: no namespaced kind/namespace/name and no cluster-scoped kind/name.",
        why: "Argo CD would let the second environment overwrite the first one's objects, and \
              pruning one would delete the other's.",
    },
];

/// The codes raised outside the semantic rules.
const OTHERS: &[Code] = &[
    Code {
        code: "DG0131",
        phase: Phase::Rule,
        name: "waivers",
        what: "Each `[[waivers]]` entry names a rule's or a proof's code, a key written in the \
               environment where that code is reported, and a reason; its optional `expires` is a \
               `YYYY-MM-DD` date. A waiver whose diagnostic is no longer reported there is stale \
               (an error); after its date it stops waiving (a warning).",
        why: "A waiver accepts a finding for a reason that holds today. One that outlives the \
              finding hides the next problem on that key; one that never expires turns an \
              exception into policy without anyone deciding it.",
    },
    Code {
        code: "DG0001",
        phase: Phase::Load,
        name: "toml-syntax",
        what: "An environment file is not valid TOML.",
        why: "Nothing can be checked or generated from a file that does not parse; the \
              diagnostic points at the first syntax error.",
    },
    Code {
        code: "DG0002",
        phase: Phase::Load,
        name: "unreadable-file",
        what: "An environment file, or a file it `extends`, cannot be read: missing, not a \
               regular file (a folder, FIFO or device), larger than 4 MiB or not UTF-8; or it \
               changed while deaap-gen ran, and a proof's diagnostic had to read it again.",
        why: "An environment is compiled from every file in its `extends` chain; a file that \
              cannot be read whole would silently drop settings.",
    },
    Code {
        code: "DG0003",
        phase: Phase::Load,
        name: "extends-outside",
        what: "`extends` names a file outside the environment file's folder tree (an absolute \
               path, `..` above the folder, or a link that resolves elsewhere).",
        why: "deaap-gen runs in CI and in the Argo CD repo-server on repositories anyone with \
              commit access can shape; confining `extends` keeps it from reading other files \
              on the machine.",
    },
    Code {
        code: "DG0004",
        phase: Phase::Load,
        name: "extends-cycle",
        what: "Files `extend` each other in a cycle; the message names the chain.",
        why: "A layered environment needs a base that extends nothing; a cycle has no \
              defined result.",
    },
    Code {
        code: "DG0005",
        phase: Phase::Load,
        name: "extends-too-deep",
        what: "An `extends` chain longer than 16 files.",
        why: "Real layering is two or three files deep; a longer chain is a mistake or an \
              attempt to exhaust the loader.",
    },
    Code {
        code: "DG0006",
        phase: Phase::Load,
        name: "extends-not-a-path",
        what: "`extends` is not a string naming one file.",
        why: "Each file extends at most one other, named by a relative path.",
    },
    Code {
        code: "DG0007",
        phase: Phase::Load,
        name: "file-name-unprintable",
        what: "An environment file's name holds a control or other unprintable character.",
        why: "The file name is written into the header of every generated file; a newline in \
              it would inject content into every artifact.",
    },
    Code {
        code: "DG0051",
        phase: Phase::Schema,
        name: "unknown-key",
        what: "A key the model does not have, with the closest known key as a suggestion.",
        why: "A misspelt key (`replcas`) would otherwise be ignored and its default used \
              without anyone noticing.",
    },
    Code {
        code: "DG0052",
        phase: Phase::Schema,
        name: "missing-key",
        what: "A required key is missing after every `extends` layer is merged.",
        why: "The model has no defaults for what each environment must decide itself.",
    },
    Code {
        code: "DG0053",
        phase: Phase::Schema,
        name: "wrong-type",
        what: "A value of the wrong type (`port = \"8080\"`, a table where a list belongs).",
        why: "Consumers read types strictly: a string port is refused by Kubernetes and \
              Compose.",
    },
    Code {
        code: "DG0054",
        phase: Phase::Schema,
        name: "not-allowed-value",
        what: "A value outside its closed set (`platform`, `tier`, `severity`, ...).",
        why: "Each allowed value maps to generated output; anything else has no meaning.",
    },
    Code {
        code: "DG0055",
        phase: Phase::Schema,
        name: "out-of-range",
        what: "A number below its minimum or above its maximum (ports, replicas, percentages).",
        why: "Out-of-range numbers are refused by the API server or make no sense at run time.",
    },
    Code {
        code: "DG0056",
        phase: Phase::Schema,
        name: "schema-violation",
        what: "Any other violation of the environment schema (a value matching none of the \
               allowed forms).",
        why: "The schema is the contract every target relies on.",
    },
    Code {
        code: "DG0057",
        phase: Phase::Schema,
        name: "model-mismatch",
        what: "The merged environment passed the schema but does not fit the typed model.",
        why: "The schema is generated from the model, so this points at a defect in deaap-gen \
              itself; please report it with the environment file.",
    },
    Code {
        code: "DG0099",
        phase: Phase::Schema,
        name: "schema-internal",
        what: "The environment schema itself does not compile.",
        why: "A defect in deaap-gen itself; nothing can be validated until it is fixed.",
    },
    Code {
        code: "DG0202",
        phase: Phase::Rule,
        name: "reference-in-env",
        what: "A secret reference (`vault:<path>#<key>`, `file:<path>`, `env:<VAR>`) under a \
               credential-like key in plain `env` instead of `secrets`.",
        why: "Plain `env` values are written into manifests as they are; only `secrets` \
              entries are resolved from the secret store at run time.",
    },
];

/// The reachability proof's codes (`src/proof/flows`).
const FLOWS: &[Code] = &[
    Code {
        code: "DG0520",
        phase: Phase::Proof,
        name: "flow-denied",
        what: "A flow the model needs (the gateway to a routed service, a `depends_on`, \
               Prometheus to a scrape target, DNS, istiod, Vault, the API server, a backup to \
               the store it dumps, replicas to each other) is denied by the generated \
               NetworkPolicies, evaluated with Kubernetes' semantics. The diagnostic points at \
               the model key that needs the flow; its help names the policies that decided.",
        why: "Every DEAAP namespace denies by default, so a flow no rule allows at both ends \
              fails at run time as a timeout, long after every file passed its validator.",
    },
    Code {
        code: "DG0521",
        phase: Phase::Proof,
        name: "flow-unneeded",
        what: "The generated NetworkPolicies allow a connection between two pods, one of them \
               a DEAAP workload, that no flow of the model needs. The diagnostic points at the \
               workload that opens it (or receives it).",
        why: "Default deny is only worth having when the allowed set is exactly what the model \
              needs: an extra path lets a compromised pod reach data it has no business with.",
    },
    Code {
        code: "DG0522",
        phase: Phase::Proof,
        name: "flow-unprovable",
        what: "A workload the model deploys has no generated pod template, or a generated \
               object does not read back, so its flows cannot be evaluated.",
        why: "A defect of deaap-gen: the proof cannot vouch for flows it cannot evaluate.",
    },
];

/// The admission proof's codes (`src/proof/admission`).
const ADMISSION: &[Code] = &[
    Code {
        code: "DG0501",
        phase: Phase::Proof,
        name: "pod-security-admission",
        what: "A pod the generated objects make the cluster run, after the Istio and Vault \
               injectors have added their containers, fails a control of the Pod Security \
               Standards at its namespace's `enforce` level (host namespaces, privileged, \
               capabilities, hostPath, host ports, AppArmor, SELinux, /proc mount, seccomp, \
               sysctls, volume types, privilege escalation, non-root, UID 0); also the \
               monitoring chart's node exporter and Grafana pods. Reported on the setting that \
               decides it: the namespace's level, `security.mesh.cni`, the injector's settings.",
        why: "Pod Security Admission refuses such a pod when its controller creates it: the \
              Deployment, StatefulSet or CronJob is accepted and then never runs a pod.",
    },
    Code {
        code: "DG0502",
        phase: Phase::Proof,
        name: "gatekeeper-denies",
        what: "A generated object, an object its controller creates from it, or a pod after \
               injection violates a generated Gatekeeper constraint (evaluated with its own Rego \
               and parameters); a warning where the constraint only warns. Reported on the \
               model key behind it: an image, `security.mesh.proxy_image`, \
               `security.vault.agent_image`, resources, the required labels.",
        why: "Gatekeeper denies the object at admission (or the pods a controller creates, long \
              after the workload was applied); the generated policies and the generated \
              workloads must agree.",
    },
    Code {
        code: "DG0503",
        phase: Phase::Proof,
        name: "init-container-offline",
        what: "In a meshed pod, the Vault agent's init container connects to Vault while Istio \
               already redirects the pod's traffic (from the start with the CNI agent, after \
               `istio-init` otherwise) to a proxy that does not run yet: neither a native \
               sidecar before it nor Vault's port excluded from the redirection.",
        why: "The connection is refused, the init container fails and the pod never starts, \
              although every admission check passed.",
    },
    Code {
        code: "DG0519",
        phase: Phase::Proof,
        name: "admission-unevaluable",
        what: "The generated objects or the generated Rego cannot be evaluated for admission \
               (an object that does not parse, a template that does not compile).",
        why: "A defect in deaap-gen itself: nothing generated is deployed unproven; please \
              report it with the environment file.",
    },
];

/// Retired codes, each split into several. Their entries list the codes that replace them, so
/// `deaap-gen explain` still answers for a code found in an old log or CI configuration.
const SPLIT: &[Code] = &[Code {
    code: "DG0109",
    phase: Phase::Split,
    name: "references-resolve",
    what: "Retired: split into DG0120–DG0125, one code per check. DG0120 dependencies-resolve \
           (`depends_on` targets and Compose cycles), DG0121 alerts-resolve (metric and alert \
           names, alert metrics and signals), DG0122 quota-namespaces (`quotas` keys), DG0123 \
           backup-sources (database backup sources), DG0124 consensus-writer \
           (`consensus.writer_service`) and DG0125 waiver-workloads (waivers' workloads).",
    why: "Each check catches a different mistake and is fixed differently; one code for all of \
          them could not be explained, looked up or filtered by what it means. DG0109 is no \
          longer emitted.",
}];

/// Every code, in code order.
#[must_use]
pub fn all() -> Vec<Code> {
    let mut v: Vec<Code> = OTHERS.to_vec();
    v.extend_from_slice(FLOWS);
    v.extend_from_slice(SPLIT);
    v.extend_from_slice(OBSERVABILITY_AND_ISOLATION);
    v.extend_from_slice(ADMISSION);
    v.extend(rules::all().into_iter().map(|r| Code {
        code: r.code,
        phase: Phase::Rule,
        name: r.name,
        what: r.what,
        why: r.why,
    }));
    v.sort_by_key(|c| c.code);
    v
}

/// The entry for `code` (any case).
#[must_use]
pub fn find(code: &str) -> Option<Code> {
    let code = code.to_ascii_uppercase();
    all().into_iter().find(|c| c.code == code)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_and_names_are_unique() {
        let codes = all();
        let mut seen = std::collections::BTreeSet::new();
        for c in &codes {
            assert!(seen.insert(c.code), "{} twice", c.code);
            assert!(seen.insert(c.name), "{} twice", c.name);
            assert!(
                c.name
                    .chars()
                    .all(|ch| ch.is_ascii_lowercase() || ch == '-'),
                "{} is not kebab-case",
                c.name
            );
        }
        assert_eq!(find("dg0051").map(|c| c.name), Some("unknown-key"));
    }

    /// A split code names its successors as `DGxxxx name`; each must be a current entry of that
    /// name, and each must be named once.
    #[test]
    fn split_codes_name_their_successors() {
        let pair = regex_lite::Regex::new(r"(DG[0-9]{4}) ([a-z-]+[a-z])").expect("valid pattern");
        for split in SPLIT {
            let successors: Vec<(&str, &str)> = pair
                .captures_iter(split.what)
                .filter(|c| &c[1] != split.code)
                .map(|c| {
                    (
                        c.get(1).map_or("", |m| m.as_str()),
                        c.get(2).map_or("", |m| m.as_str()),
                    )
                })
                .collect();
            assert!(successors.len() > 1, "{} names its successors", split.code);
            for (code, name) in successors {
                let entry = find(code).unwrap_or_else(|| panic!("{code} is not in the catalogue"));
                assert_eq!(entry.name, name, "{code}");
                assert_eq!(entry.phase, Phase::Rule, "{code}");
            }
        }
        let dg0109 = find("DG0109").expect("DG0109 still explains");
        assert_eq!(dg0109.phase, Phase::Split);
        for code in ["DG0120", "DG0121", "DG0122", "DG0123", "DG0124", "DG0125"] {
            assert!(dg0109.what.contains(code), "{code}");
        }
    }
}
