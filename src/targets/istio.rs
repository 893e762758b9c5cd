//! The `istio/` target: the service mesh in front of and between the DEAAP services. A Gateway for
//! the environment's domain (HTTPS with a cert-manager Certificate and an HTTP→HTTPS redirect, or
//! plain HTTP when gateway TLS is off), one `VirtualService` routing each service's URI prefix to its
//! Kubernetes Service, `DestinationRules` that guard routed services with a connection pool and
//! outlier detection, and — only where `security.mesh` injects sidecars — mutual TLS on those
//! rules and a `PeerAuthentication` per meshed namespace (without proxies nothing would terminate
//! it, and every route would fail).
//!
//! Istio objects use `networking.istio.io/v1beta1` and `security.istio.io/v1beta1`: the versions
//! whose schemas the published Istio CRD models carry, and still served by current Istio.

use crate::model::{Environment, MtlsMode, NamespaceKey, Service};
use crate::targets::kit::{
    self, GATEWAY_NAMESPACE, INGRESS_GATEWAY_LABEL, Kind, Object, addon_meta,
};
use crate::targets::{Artifact, Context, Target, TargetError};
use serde::Serialize;
use std::collections::BTreeMap;

pub(super) struct Istio;

/// Name of the Gateway, the `VirtualService` bound to it and the gateway Certificate.
pub(super) const GATEWAY: &str = "deaap-gateway";
const NETWORKING: &str = "networking.istio.io/v1beta1";
const SECURITY: &str = "security.istio.io/v1beta1";

const CERTIFICATE_KIND: Kind = Kind::namespaced("cert-manager.io/v1", "Certificate");
const GATEWAY_KIND: Kind = Kind::namespaced(NETWORKING, "Gateway");
const VIRTUAL_SERVICE_KIND: Kind = Kind::namespaced(NETWORKING, "VirtualService");
const DESTINATION_RULE_KIND: Kind = Kind::namespaced(NETWORKING, "DestinationRule");
const PEER_AUTHENTICATION_KIND: Kind = Kind::namespaced(SECURITY, "PeerAuthentication");

impl Target for Istio {
    fn name(&self) -> &'static str {
        "istio"
    }

    fn applies(&self, env: &Environment) -> bool {
        env.is_kubernetes()
    }

    fn generate(&self, cx: &Context<'_>) -> Result<Vec<Artifact>, TargetError> {
        let env = cx.env;
        let mut files = Vec::new();
        if env.security.gateway_tls.enabled {
            files.push(("istio/certificate.yaml", vec![certificate(env)?]));
        }
        files.push(("istio/gateway.yaml", vec![gateway(env)?]));
        if let Some(vs) = virtual_service(env)? {
            files.push(("istio/virtual-service.yaml", vec![vs]));
        }
        files.push(("istio/destination-rules.yaml", destination_rules(env)?));
        files.push((
            "istio/peer-authentications.yaml",
            peer_authentications(env)?,
        ));
        Ok(files
            .into_iter()
            .filter(|(_, objects)| !objects.is_empty())
            .map(|(path, objects)| kit::manifest(cx, self.name(), path, objects))
            .collect())
    }
}

/// In-cluster DNS name of a service's Kubernetes Service (`<name>-service`).
#[must_use]
pub(super) fn service_host(env: &Environment, name: &str, service: &Service) -> String {
    format!(
        "{name}-service.{}.svc.cluster.local",
        env.namespace(service.namespace)
    )
}

/// Secret the Certificate writes and the Gateway serves.
fn tls_secret() -> String {
    format!("{GATEWAY}-tls")
}

// ── cert-manager Certificate ────────────────────────────────────────────────────────────────────

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct CertificateSpec {
    pub secret_name: String,
    pub dns_names: Vec<String>,
    pub issuer_ref: IssuerRef,
    pub private_key: PrivateKey,
}

#[derive(Debug, Serialize)]
pub(super) struct IssuerRef {
    pub name: String,
    pub kind: String,
    pub group: &'static str,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct PrivateKey {
    pub algorithm: &'static str,
    pub size: u16,
    /// A fresh key on every renewal, so a leaked key expires with its certificate.
    pub rotation_policy: &'static str,
}

fn certificate(env: &Environment) -> Result<Object, TargetError> {
    let tls = &env.security.gateway_tls;
    CERTIFICATE_KIND.object(
        addon_meta(env, GATEWAY, GATEWAY_NAMESPACE),
        CertificateSpec {
            secret_name: tls_secret(),
            dns_names: vec![env.environment.domain.clone()],
            issuer_ref: IssuerRef {
                name: tls.issuer.clone(),
                kind: tls.issuer_kind.clone(),
                group: "cert-manager.io",
            },
            private_key: PrivateKey {
                algorithm: "ECDSA",
                size: 256,
                rotation_policy: "Always",
            },
        },
    )
}

// ── Gateway ─────────────────────────────────────────────────────────────────────────────────────

#[derive(Debug, Serialize)]
pub(super) struct GatewaySpec {
    pub selector: BTreeMap<String, String>,
    pub servers: Vec<Server>,
}

#[derive(Debug, Serialize)]
pub(super) struct Server {
    pub port: ServerPort,
    pub hosts: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tls: Option<ServerTls>,
}

#[derive(Debug, Serialize)]
pub(super) struct ServerPort {
    pub number: u16,
    pub name: &'static str,
    pub protocol: &'static str,
}

#[derive(Debug, Default, Serialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct ServerTls {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub https_redirect: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mode: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub credential_name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub min_protocol_version: Option<&'static str>,
}

fn gateway(env: &Environment) -> Result<Object, TargetError> {
    let hosts = vec![env.environment.domain.clone()];
    let tls = env.security.gateway_tls.enabled;
    let mut servers = vec![Server {
        port: ServerPort {
            number: 80,
            name: "http",
            protocol: "HTTP",
        },
        hosts: hosts.clone(),
        tls: tls.then(|| ServerTls {
            https_redirect: Some(true),
            ..ServerTls::default()
        }),
    }];
    if tls {
        servers.push(Server {
            port: ServerPort {
                number: 443,
                name: "https",
                protocol: "HTTPS",
            },
            hosts,
            tls: Some(ServerTls {
                mode: Some("SIMPLE"),
                credential_name: Some(tls_secret()),
                min_protocol_version: Some("TLSV1_2"),
                ..ServerTls::default()
            }),
        });
    }
    let (key, value) = INGRESS_GATEWAY_LABEL;
    GATEWAY_KIND.object(
        addon_meta(env, GATEWAY, env.namespace(NamespaceKey::Core)),
        GatewaySpec {
            selector: BTreeMap::from([(key.to_owned(), value.to_owned())]),
            servers,
        },
    )
}

// ── VirtualService ──────────────────────────────────────────────────────────────────────────────

#[derive(Debug, Serialize)]
pub(super) struct VirtualServiceSpec {
    pub hosts: Vec<String>,
    pub gateways: Vec<String>,
    pub http: Vec<HttpRoute>,
}

#[derive(Debug, Serialize)]
pub(super) struct HttpRoute {
    pub name: String,
    #[serde(rename = "match")]
    pub matches: Vec<HttpMatch>,
    pub route: Vec<RouteDestination>,
}

#[derive(Debug, Serialize)]
pub(super) struct HttpMatch {
    pub uri: StringMatch,
}

#[derive(Debug, Serialize)]
pub(super) struct StringMatch {
    pub prefix: String,
}

#[derive(Debug, Serialize)]
pub(super) struct RouteDestination {
    pub destination: Destination,
}

#[derive(Debug, Serialize)]
pub(super) struct Destination {
    pub host: String,
    pub port: PortSelector,
}

#[derive(Debug, Serialize)]
pub(super) struct PortSelector {
    pub number: u16,
}

/// Enabled services that the gateway routes to, longest prefix first: Istio takes the first
/// matching route, so `/api/v1/documents` must come before `/` or `/` would catch everything.
fn routed(env: &Environment) -> Vec<(&String, &Service, &String)> {
    let mut out: Vec<_> = env
        .enabled_services()
        .filter_map(|(name, s)| s.route.as_ref().map(|r| (name, s, r)))
        .collect();
    out.sort_by(|a, b| {
        b.2.len()
            .cmp(&a.2.len())
            .then(a.2.cmp(b.2))
            .then(a.0.cmp(b.0))
    });
    out
}

fn virtual_service(env: &Environment) -> Result<Option<Object>, TargetError> {
    let http: Vec<HttpRoute> = routed(env)
        .into_iter()
        .map(|(name, s, prefix)| HttpRoute {
            name: name.clone(),
            matches: vec![HttpMatch {
                uri: StringMatch {
                    prefix: prefix.clone(),
                },
            }],
            route: vec![RouteDestination {
                destination: Destination {
                    host: service_host(env, name, s),
                    port: PortSelector { number: s.port },
                },
            }],
        })
        .collect();
    if http.is_empty() {
        return Ok(None);
    }
    VIRTUAL_SERVICE_KIND
        .object(
            addon_meta(env, GATEWAY, env.namespace(NamespaceKey::Core)),
            VirtualServiceSpec {
                hosts: vec![env.environment.domain.clone()],
                gateways: vec![GATEWAY.to_owned()],
                http,
            },
        )
        .map(Some)
}

// ── DestinationRules ────────────────────────────────────────────────────────────────────────────

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct DestinationRuleSpec {
    pub host: String,
    pub traffic_policy: TrafficPolicy,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct TrafficPolicy {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tls: Option<ClientTls>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub connection_pool: Option<ConnectionPool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub outlier_detection: Option<OutlierDetection>,
}

#[derive(Debug, Serialize)]
pub(super) struct ClientTls {
    pub mode: &'static str,
}

#[derive(Debug, Serialize)]
pub(super) struct ConnectionPool {
    pub tcp: TcpPool,
    pub http: HttpPool,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct TcpPool {
    pub max_connections: u32,
    pub connect_timeout: &'static str,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct HttpPool {
    pub http1_max_pending_requests: u32,
    pub http2_max_requests: u32,
    pub idle_timeout: &'static str,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct OutlierDetection {
    pub consecutive_5xx_errors: u32,
    pub interval: &'static str,
    pub base_ejection_time: &'static str,
    pub max_ejection_percent: u32,
}

/// One rule per enabled service. In meshed namespaces each pins the client side of mutual TLS to
/// the mesh mode (without a sidecar in the server pod, `ISTIO_MUTUAL` would make every call fail);
/// services the gateway routes to also get a bounded connection pool and outlier detection, so one
/// failing replica is ejected instead of failing a share of public requests.
fn destination_rules(env: &Environment) -> Result<Vec<Object>, TargetError> {
    let tls_mode = match env.security.mtls {
        MtlsMode::Disable => "DISABLE",
        MtlsMode::Strict | MtlsMode::Permissive => "ISTIO_MUTUAL",
    };
    env.enabled_services()
        .map(|(name, s)| {
            let public = s.route.is_some();
            let meshed = env.security.mesh.meshed(s.namespace);
            DESTINATION_RULE_KIND.object(
                addon_meta(env, name, env.namespace(s.namespace)),
                DestinationRuleSpec {
                    host: service_host(env, name, s),
                    traffic_policy: TrafficPolicy {
                        tls: meshed.then_some(ClientTls { mode: tls_mode }),
                        connection_pool: public.then_some(ConnectionPool {
                            tcp: TcpPool {
                                max_connections: 1024,
                                connect_timeout: "5s",
                            },
                            http: HttpPool {
                                http1_max_pending_requests: 1024,
                                http2_max_requests: 1024,
                                idle_timeout: "300s",
                            },
                        }),
                        outlier_detection: public.then_some(OutlierDetection {
                            consecutive_5xx_errors: 5,
                            interval: "30s",
                            base_ejection_time: "30s",
                            max_ejection_percent: 50,
                        }),
                    },
                },
            )
        })
        .collect()
}

// ── PeerAuthentication ──────────────────────────────────────────────────────────────────────────

#[derive(Debug, Serialize)]
pub(super) struct PeerAuthenticationSpec {
    pub mtls: PeerMtls,
}

#[derive(Debug, Serialize)]
pub(super) struct PeerMtls {
    pub mode: &'static str,
}

/// A namespace-wide policy (`default`, no selector) for each meshed namespace; none without
/// sidecar injection, where it would claim a protection nothing enforces.
fn peer_authentications(env: &Environment) -> Result<Vec<Object>, TargetError> {
    let mode = match env.security.mtls {
        MtlsMode::Strict => "STRICT",
        MtlsMode::Permissive => "PERMISSIVE",
        MtlsMode::Disable => "DISABLE",
    };
    env.namespaces
        .iter()
        .filter(|(key, _)| env.security.mesh.meshed(*key))
        .map(|(_, ns)| {
            PEER_AUTHENTICATION_KIND.object(
                addon_meta(env, "default", ns),
                PeerAuthenticationSpec {
                    mtls: PeerMtls { mode },
                },
            )
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::targets::testkit;
    use serde::Deserialize;
    use serde_json::{Value, json};

    const ISTIO: &str = "tests/fixtures/istio.toml";

    fn load(rel: &str) -> Environment {
        testkit::load(rel)
    }

    fn generate(env: &Environment) -> BTreeMap<String, String> {
        testkit::generate(&Istio, env).expect("the istio target succeeds")
    }

    /// Every YAML document of a file.
    fn docs(text: &str) -> Vec<Value> {
        serde_yaml::Deserializer::from_str(text)
            .map(|d| Value::deserialize(d).expect("YAML parses"))
            .collect()
    }

    fn one(files: &BTreeMap<String, String>, path: &str) -> Value {
        let mut d = docs(&files[path]);
        assert_eq!(d.len(), 1, "{path}");
        d.remove(0)
    }

    #[test]
    fn snapshots_minimal() {
        for (path, text) in generate(&load("tests/fixtures/minimal.toml")) {
            insta::assert_snapshot!(format!("minimal_{path}"), text);
        }
    }

    /// Nested routes, an unrouted service in another namespace, STRICT mutual TLS and an ACME
    /// certificate (tests/fixtures/istio.toml). The shipped environments' output is pinned once, in
    /// generated/.
    #[test]
    fn snapshots_mesh() {
        let f = generate(&load(ISTIO));
        let paths: Vec<&str> = f.keys().map(String::as_str).collect();
        assert_eq!(
            paths,
            [
                "istio/certificate.yaml",
                "istio/destination-rules.yaml",
                "istio/gateway.yaml",
                "istio/peer-authentications.yaml",
                "istio/virtual-service.yaml",
            ]
        );
        for (path, text) in f {
            insta::assert_snapshot!(format!("mesh_{path}"), text);
        }
    }

    #[test]
    fn routes_go_longest_prefix_first_to_each_services_fqdn() {
        let f = generate(&load(ISTIO));
        let vs = one(&f, "istio/virtual-service.yaml");
        assert_eq!(vs["spec"]["hosts"], json!(["istio.example.com"]));
        assert_eq!(vs["spec"]["gateways"], json!([GATEWAY]));
        let routes: Vec<(String, String, u64)> = vs["spec"]["http"]
            .as_array()
            .expect("http routes")
            .iter()
            .map(|r| {
                let d = &r["route"][0]["destination"];
                (
                    r["match"][0]["uri"]["prefix"]
                        .as_str()
                        .unwrap_or_default()
                        .to_owned(),
                    d["host"].as_str().unwrap_or_default().to_owned(),
                    d["port"]["number"].as_u64().unwrap_or_default(),
                )
            })
            .collect();
        let expect = |p: &str, svc: &str, port: u64| {
            (
                p.to_owned(),
                format!("{svc}-service.mini-core.svc.cluster.local"),
                port,
            )
        };
        assert_eq!(
            routes,
            [
                expect("/api/docs", "docs", 8091),
                expect("/api", "api", 8090),
                expect("/", "web", 8080),
            ]
        );
    }

    #[test]
    fn disabled_services_get_no_route() {
        let mut env = load(ISTIO);
        if let Some(s) = env.services.get_mut("docs") {
            s.enabled = false;
        }
        let f = generate(&env);
        assert!(!f["istio/virtual-service.yaml"].contains("docs"));
        assert!(!f["istio/destination-rules.yaml"].contains("docs"));
    }

    #[test]
    fn https_gateway_serves_the_certificate_secret_and_redirects_http() {
        let f = generate(&load(ISTIO));
        let cert = one(&f, "istio/certificate.yaml");
        let gw = one(&f, "istio/gateway.yaml");
        // cert-manager's required fields: spec.secretName and spec.issuerRef.name.
        assert_eq!(cert["apiVersion"], "cert-manager.io/v1");
        assert_eq!(cert["metadata"]["namespace"], GATEWAY_NAMESPACE);
        let secret = cert["spec"]["secretName"].as_str().expect("secretName");
        assert!(!secret.is_empty());
        assert_eq!(
            cert["spec"]["issuerRef"],
            json!({"name": "letsencrypt-prod", "kind": "ClusterIssuer", "group": "cert-manager.io"})
        );
        assert_eq!(cert["spec"]["dnsNames"], json!(["istio.example.com"]));
        let servers = gw["spec"]["servers"].as_array().expect("servers");
        assert_eq!(servers.len(), 2);
        assert_eq!(servers[0]["port"]["number"], 80);
        assert_eq!(servers[0]["tls"], json!({"httpsRedirect": true}));
        assert_eq!(servers[1]["port"]["number"], 443);
        assert_eq!(servers[1]["port"]["protocol"], "HTTPS");
        assert_eq!(servers[1]["tls"]["credentialName"], secret);
        assert_eq!(servers[1]["hosts"], json!(["istio.example.com"]));
        // The issuer is the model's, whatever it is.
        let mut env = load(ISTIO);
        env.security.gateway_tls.issuer = "letsencrypt-staging".to_owned();
        let f = generate(&env);
        let cert = one(&f, "istio/certificate.yaml");
        assert_eq!(cert["spec"]["issuerRef"]["name"], "letsencrypt-staging");
    }

    #[test]
    fn without_gateway_tls_there_is_plain_http_and_no_certificate() {
        let mut env = load("tests/fixtures/minimal.toml");
        env.security.gateway_tls.enabled = false;
        let f = generate(&env);
        assert!(!f.contains_key("istio/certificate.yaml"));
        let gw = one(&f, "istio/gateway.yaml");
        assert_eq!(
            gw["spec"]["servers"],
            json!([{"port": {"number": 80, "name": "http", "protocol": "HTTP"}, "hosts": ["minimal.example.com"]}])
        );
    }

    #[test]
    fn every_meshed_namespace_gets_the_mtls_mode() {
        let f = generate(&load(ISTIO));
        let pas = docs(&f["istio/peer-authentications.yaml"]);
        let got: Vec<(&str, &str)> = pas
            .iter()
            .map(|p| {
                (
                    p["metadata"]["namespace"].as_str().unwrap_or_default(),
                    p["spec"]["mtls"]["mode"].as_str().unwrap_or_default(),
                )
            })
            .collect();
        assert_eq!(
            got,
            [
                ("mini-core", "STRICT"),
                ("mini-chain", "STRICT"),
                ("mini-storage", "STRICT"),
            ]
        );
        let mut env = load("tests/fixtures/minimal.toml");
        env.security.mtls = MtlsMode::Permissive;
        env.security.mesh.sidecar_injection = true;
        let f = generate(&env);
        assert!(
            docs(&f["istio/peer-authentications.yaml"])
                .iter()
                .all(|p| p["spec"]["mtls"]["mode"] == "PERMISSIVE")
        );
    }

    #[test]
    fn routed_services_get_circuit_breaking_others_only_mtls() {
        let f = generate(&load(ISTIO));
        let rules = docs(&f["istio/destination-rules.yaml"]);
        let by_name = |n: &str| {
            rules
                .iter()
                .find(|r| r["metadata"]["name"] == n)
                .unwrap_or_else(|| panic!("no rule for {n}"))
                .clone()
        };
        let doc = by_name("docs");
        assert_eq!(doc["spec"]["trafficPolicy"]["tls"]["mode"], "ISTIO_MUTUAL");
        assert_eq!(
            doc["spec"]["trafficPolicy"]["outlierDetection"]["consecutive5xxErrors"],
            5
        );
        let runtime = by_name("runtime");
        assert_eq!(runtime["metadata"]["namespace"], "mini-chain");
        assert_eq!(
            runtime["spec"]["host"],
            "runtime-service.mini-chain.svc.cluster.local"
        );
        assert!(
            runtime["spec"]["trafficPolicy"]
                .get("outlierDetection")
                .is_none()
        );
    }

    #[test]
    fn without_sidecars_no_mutual_tls_is_claimed() {
        let mut env = load(ISTIO);
        env.security.mesh.sidecar_injection = false;
        let f = generate(&env);
        assert!(!f.contains_key("istio/peer-authentications.yaml"));
        let rules = docs(&f["istio/destination-rules.yaml"]);
        assert!(!rules.is_empty());
        for r in &rules {
            assert!(r["spec"]["trafficPolicy"].get("tls").is_none(), "{r}");
        }
        let doc = rules
            .iter()
            .find(|r| r["metadata"]["name"] == "docs")
            .map(|r| {
                r["spec"]["trafficPolicy"]["outlierDetection"]["consecutive5xxErrors"].clone()
            });
        assert_eq!(doc, Some(json!(5)));
    }

    #[test]
    fn compose_environments_get_nothing() {
        assert!(!Istio.applies(&load("environments/development.toml")));
    }
}
