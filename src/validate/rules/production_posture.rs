//! DG0112 production-posture: production keeps every security control on.

use super::{DiagnosticExt, is_production};
use crate::model::{MtlsMode, PodSecurityLevel};
use crate::path;
use crate::validate::{Rule, RuleContext};

pub static RULE: Rule = Rule {
    code: "DG0112",
    name: "production-posture",
    what: "In the production tier: `security.gateway_tls.enabled = true`; `security.vault.tls = \
           true` when Vault is enabled (the seed's `tls_disable = 1`); `security.network_policies = \
           true`; `security.mtls = \"STRICT\"` with `security.mesh.sidecar_injection = true` (STRICT \
           without sidecars is reported at `security.mesh.sidecar_injection`); `security.pod_security` is not `privileged`; and no \
           service with `mock = true` is enabled. Each is reported separately, at its own key.",
    why: "Each switch removes one layer that production relies on: without gateway TLS, \
          credentials cross the internet in clear; without TLS on Vault every secret crosses the \
          cluster network in clear; without network policies or strict mTLS any compromised pod \
          reaches every database; a privileged namespace lets a container own its node; a mock \
          service answers real traffic with fake results.",
};

pub(super) fn check(cx: &mut RuleContext<'_>) {
    let env = cx.env;
    if !is_production(env) {
        return;
    }
    let s = &env.security;
    if !s.gateway_tls.enabled {
        cx.error(
            RULE.code,
            path!["security", "gateway_tls", "enabled"],
            "production serves the gateway without TLS",
            "TLS off",
        )
        .help("set `gateway_tls = { enabled = true, issuer = \"<cert-manager issuer>\" }`");
    }
    if s.vault.enabled && !s.vault.tls {
        cx.error(
            RULE.code,
            path!["security", "vault", "tls"],
            "production runs Vault without TLS (the seed's `tls_disable = 1`)",
            "TLS off",
        )
        .help("set `tls = true`: every secret the agents fetch would cross the network in clear");
    }
    if !s.network_policies {
        cx.error(
            RULE.code,
            path!["security", "network_policies"],
            "production runs without network policies",
            "network policies off",
        )
        .help("set `network_policies = true`: each namespace then denies by default and allows only what `depends_on` declares");
    }
    if s.mtls != MtlsMode::Strict {
        let mode = match s.mtls {
            MtlsMode::Permissive => "PERMISSIVE",
            _ => "DISABLE",
        };
        cx.error(
            RULE.code,
            path!["security", "mtls"],
            format!("production runs Istio mutual TLS in {mode} mode"),
            "not STRICT",
        )
        .help("set `mtls = \"STRICT\"`: otherwise workloads accept plain-text connections from any pod");
    }
    if s.mtls == MtlsMode::Strict && !s.mesh.sidecar_injection {
        cx.error(
            RULE.code,
            path!["security", "mesh", "sidecar_injection"],
            "STRICT mTLS has no effect without sidecars: `security.mesh.sidecar_injection` is off",
            "no sidecars",
        )
        .help("set `[security.mesh] sidecar_injection = true`: without an Istio proxy in each pod nothing terminates mutual TLS, and the gateway's ISTIO_MUTUAL connections to plain pods fail");
    }
    if s.pod_security == PodSecurityLevel::Privileged {
        cx.error(
            RULE.code,
            path!["security", "pod_security"],
            "production namespaces admit privileged pods",
            "privileged",
        )
        .help("set `pod_security = \"restricted\"` (or `\"baseline\"` with a waiver for what needs it)");
    }
    for (name, svc) in env.enabled_services() {
        if svc.mock {
            cx.error(
                RULE.code,
                path!["services", name, "mock"],
                format!("mock service `{name}` is enabled in production"),
                "a stand-in",
            )
            .help(format!(
                "set `enabled = false` on `{name}` in production; mocks are for development"
            ));
        }
    }
}
