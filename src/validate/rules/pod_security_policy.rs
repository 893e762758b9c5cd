//! DG0115 pod-security-policy: the seed's `podSecurityPolicies` switch, which no longer exists in
//! Kubernetes, is explained where it is written. The schema check reports the key (it is unknown
//! to the model) with this code's explanation as its help, so there is no check on the model.

use crate::validate::Rule;

pub static RULE: Rule = Rule {
    code: "DG0115",
    name: "pod-security-policy",
    what: "`pod_security_policies` (or the seed's `podSecurityPolicies`, or `pod_security_policy`) \
           anywhere under `[security]` is an unknown key (DG0051) whose help explains that \
           PodSecurityPolicy was removed in Kubernetes 1.25 and that `security.pod_security` \
           (Pod Security Admission: `restricted`, `baseline` or `privileged`) replaces it.",
    why: "The seed enables `podSecurityPolicies` in production. On Kubernetes 1.25 and later the \
          PodSecurityPolicy API is gone: the objects are refused or, with an old chart, silently \
          dropped, and the cluster runs with no pod security at all while the values file says \
          it is on.",
};
