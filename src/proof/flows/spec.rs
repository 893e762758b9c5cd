//! What the flows proof reads of a `NetworkPolicy` (networking.k8s.io/v1): its spec's selectors,
//! rules, peers and ports, deserialized from the generated object with the API's field names and
//! types, and nothing else. A selector's `matchLabels` are kept as the pairs they are, not as a
//! map: a large environment has thousands of one-label selectors.

use serde::Deserialize;

/// A `NetworkPolicySpec`.
#[derive(Debug, Clone, Default, Hash, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Spec {
    pub pod_selector: Option<Selector>,
    pub policy_types: Option<Vec<String>>,
    pub ingress: Option<Vec<Ingress>>,
    pub egress: Option<Vec<Egress>>,
}

/// A `NetworkPolicyIngressRule`.
#[derive(Debug, Clone, Default, Hash, Deserialize)]
pub struct Ingress {
    pub from: Option<Vec<Peer>>,
    pub ports: Option<Vec<Port>>,
}

/// A `NetworkPolicyEgressRule`.
#[derive(Debug, Clone, Default, Hash, Deserialize)]
pub struct Egress {
    pub to: Option<Vec<Peer>>,
    pub ports: Option<Vec<Port>>,
}

/// A `NetworkPolicyPeer`.
#[derive(Debug, Clone, Default, Hash, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Peer {
    pub pod_selector: Option<Selector>,
    pub namespace_selector: Option<Selector>,
    pub ip_block: Option<IpBlock>,
}

/// An `IPBlock`.
#[derive(Debug, Clone, Hash, Deserialize)]
pub struct IpBlock {
    pub cidr: String,
    pub except: Option<Vec<String>>,
}

/// A `NetworkPolicyPort`.
#[derive(Debug, Clone, Default, Hash, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Port {
    pub protocol: Option<String>,
    pub port: Option<PortNumber>,
    pub end_port: Option<i32>,
}

/// A port as a number or a container port's name (`IntOrString`).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Deserialize)]
#[serde(untagged)]
pub enum PortNumber {
    Int(i32),
    String(String),
}

/// A `LabelSelector`.
#[derive(Debug, Clone, Default, Hash, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Selector {
    pub match_labels: Option<Pairs>,
    pub match_expressions: Option<Vec<Requirement>>,
}

/// A `LabelSelectorRequirement`.
#[derive(Debug, Clone, Hash, Deserialize)]
pub struct Requirement {
    pub key: String,
    pub operator: String,
    pub values: Option<Vec<String>>,
}

/// The entries of a string map, in their order.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub struct Pairs(pub Vec<(String, String)>);

impl<'de> Deserialize<'de> for Pairs {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Visit;
        impl<'de> serde::de::Visitor<'de> for Visit {
            type Value = Pairs;

            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a map of strings")
            }

            fn visit_map<A: serde::de::MapAccess<'de>>(self, mut m: A) -> Result<Pairs, A::Error> {
                let mut pairs = Vec::with_capacity(m.size_hint().unwrap_or(0));
                while let Some(entry) = m.next_entry::<String, String>()? {
                    pairs.push(entry);
                }
                Ok(Pairs(pairs))
            }
        }
        d.deserialize_map(Visit)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A spec using every field the proof reads deserializes as the API's own type reads it.
    #[test]
    fn it_reads_what_the_api_type_reads() {
        use k8s_openapi::api::networking::v1::NetworkPolicySpec;
        use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
        let json = serde_json::json!({
            "podSelector": {"matchLabels": {"app": "web", "tier": "front"}},
            "policyTypes": ["Ingress", "Egress"],
            "ingress": [{
                "from": [{"namespaceSelector": {"matchExpressions": [
                    {"key": "team", "operator": "In", "values": ["a", "b"]}]},
                    "podSelector": {}}],
                "ports": [{"port": 8080}, {"port": "metrics", "protocol": "UDP"},
                          {"port": 9000, "endPort": 9010}]
            }],
            "egress": [{"to": [{"ipBlock": {"cidr": "10.0.0.0/8", "except": ["10.1.0.0/16"]}}]}],
        });
        let api: NetworkPolicySpec =
            serde_json::from_value(json.clone()).expect("the API reads it");
        let spec: Spec = serde_json::from_value(json).expect("the proof reads it");
        let labels = api
            .pod_selector
            .and_then(|s| s.match_labels)
            .expect("labels");
        let pairs = spec
            .pod_selector
            .and_then(|s| s.match_labels)
            .expect("labels");
        assert_eq!(pairs.0, labels.into_iter().collect::<Vec<_>>());
        assert_eq!(spec.policy_types, api.policy_types);
        let (rule, api_rule) = (
            &spec.ingress.expect("ingress")[0],
            &api.ingress.expect("ingress")[0],
        );
        let ports = rule.ports.as_ref().expect("ports");
        for (p, a) in ports.iter().zip(api_rule.ports.as_ref().expect("ports")) {
            let number = match &a.port {
                Some(IntOrString::Int(n)) => Some(PortNumber::Int(*n)),
                Some(IntOrString::String(s)) => Some(PortNumber::String(s.clone())),
                None => None,
            };
            assert_eq!(
                (&p.port, &p.protocol, p.end_port),
                (&number, &a.protocol, a.end_port)
            );
        }
        let peer = &rule.from.as_ref().expect("peers")[0];
        let requirement = &peer
            .namespace_selector
            .as_ref()
            .expect("selector")
            .match_expressions
            .as_ref()
            .expect("expressions")[0];
        assert_eq!(
            (requirement.key.as_str(), requirement.operator.as_str()),
            ("team", "In")
        );
        assert_eq!(
            requirement.values.as_deref(),
            Some(&["a".to_owned(), "b".to_owned()][..])
        );
        assert!(
            peer.pod_selector
                .as_ref()
                .is_some_and(|s| s.match_labels.is_none())
        );
        let block = spec.egress.expect("egress")[0].to.as_ref().expect("peers")[0]
            .ip_block
            .clone()
            .expect("a block");
        assert_eq!(
            (block.cidr.as_str(), block.except),
            ("10.0.0.0/8", Some(vec!["10.1.0.0/16".to_owned()]))
        );
        assert!(
            serde_json::from_value::<Spec>(
                serde_json::json!({"ingress": [{"ports": [{"port": true}]}]})
            )
            .is_err()
        );
    }
}
