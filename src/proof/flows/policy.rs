//! Kubernetes `NetworkPolicy` semantics (networking.k8s.io/v1, as the upstream "Network Policies"
//! concept page states them), evaluated over a set of endpoints:
//!
//! - a policy selects the pods of its own namespace that its `podSelector` matches (`{}` selects
//!   them all); its `policyTypes` default to `Ingress`, plus `Egress` when it has egress rules;
//! - a pod is isolated for ingress (egress) only when some policy with that type selects it; a
//!   pod that is not isolated in a direction allows everything in it, an isolated one allows
//!   exactly the union of the rules of the policies that isolate it (default deny, union of
//!   allows, no order and no deny rules);
//! - a rule with no (or empty) `from`/`to` matches every peer, with no (or empty) `ports` every
//!   port; a peer with only a `podSelector` means pods of the policy's namespace, with only a
//!   `namespaceSelector` every pod of the matching namespaces, with both the matching pods of the
//!   matching namespaces; an `ipBlock` matches addresses in its CIDR and outside its `except`s;
//!   selectors never match what is not a pod (nodes, host-network pods, addresses outside the
//!   cluster);
//! - a port matches by protocol (default TCP) and number, a range from `port` to `endPort`, or a
//!   name, resolved against the destination pod's container ports;
//! - a connection needs the source's egress and the destination's ingress.
//!
//! Selectors combine `matchLabels` and `matchExpressions` (`In`, `NotIn`, `Exists`,
//! `DoesNotExist`) with AND; a namespace always carries `kubernetes.io/metadata.name`.

use super::spec::{Peer, Port, PortNumber, Selector, Spec};
use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::net::IpAddr;
use std::rc::Rc;

/// Labels: key → value.
pub type Labels = BTreeMap<String, String>;

/// The label the API server puts on every namespace, holding its name.
pub const NAMESPACE_NAME_LABEL: &str = "kubernetes.io/metadata.name";

/// A transport protocol of `NetworkPolicy` ports.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Protocol {
    Tcp,
    Udp,
    Sctp,
}

impl Protocol {
    /// The protocol as the API writes it.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Tcp => "TCP",
            Self::Udp => "UDP",
            Self::Sctp => "SCTP",
        }
    }

    /// The protocol the API spells `s` (`None` for anything else).
    #[must_use]
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "TCP" => Some(Self::Tcp),
            "UDP" => Some(Self::Udp),
            "SCTP" => Some(Self::Sctp),
            _ => None,
        }
    }
}

impl fmt::Display for Protocol {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A port a pod's container declares (or a process listens on).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ContainerPort {
    pub name: Option<String>,
    pub number: u16,
    pub protocol: Protocol,
}

/// What an endpoint is to `NetworkPolicy`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Place {
    /// A pod on the pod network of a namespace: selectors can match it and policies of its
    /// namespace can isolate it.
    Pod { namespace: String },
    /// An address no selector matches and no policy isolates: a node (and the host-network pods
    /// on it), the API server, anything outside the cluster. Only `ipBlock` peers and rules
    /// without peers match it.
    Address,
}

/// One endpoint of a connection.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Endpoint {
    /// Stable identity, e.g. `deaap-core/doc-ingester` or `node`.
    pub id: String,
    pub place: Place,
    pub labels: Labels,
    pub ports: Vec<ContainerPort>,
    pub ip: IpAddr,
}

impl Endpoint {
    fn namespace(&self) -> Option<&str> {
        match &self.place {
            Place::Pod { namespace } => Some(namespace),
            Place::Address => None,
        }
    }
}

/// One `NetworkPolicy`: where it lives and its spec.
#[derive(Debug, Clone, Hash)]
pub struct Policy {
    pub namespace: String,
    pub name: String,
    pub spec: Spec,
    /// `namespace/name`, as verdicts name it.
    label: String,
}

impl Policy {
    #[must_use]
    pub fn new(namespace: &str, name: &str, spec: Spec) -> Self {
        Self {
            namespace: namespace.to_owned(),
            name: name.to_owned(),
            spec,
            label: format!("{namespace}/{name}"),
        }
    }

    fn has_type(&self, direction: Direction) -> bool {
        match &self.spec.policy_types {
            Some(types) => types.iter().any(|t| t == direction.policy_type()),
            None => match direction {
                Direction::Ingress => true,
                Direction::Egress => self.spec.egress.is_some(),
            },
        }
    }
}

/// Which side of a connection a policy governs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    Ingress,
    Egress,
}

impl Direction {
    fn policy_type(self) -> &'static str {
        match self {
            Self::Ingress => "Ingress",
            Self::Egress => "Egress",
        }
    }
}

/// How one side of a connection decided.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Side {
    /// The endpoint is not a pod, so no policy governs this side.
    Unmanaged,
    /// No policy isolates the pod in this direction.
    NotIsolated,
    /// A rule of this policy (`namespace/name`, rule index from 0) allows it.
    Allowed { policy: String, rule: usize },
    /// These policies isolate the pod and none of their rules allows it.
    Denied { isolating: Vec<String> },
}

impl Side {
    #[must_use]
    pub fn allows(&self) -> bool {
        !matches!(self, Self::Denied { .. })
    }
}

/// The verdict on one connection: both sides and the outcome.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verdict {
    pub egress: Side,
    pub ingress: Side,
}

impl Verdict {
    #[must_use]
    pub fn allowed(&self) -> bool {
        self.egress.allows() && self.ingress.allows()
    }

    /// Why, in one line: which policy decided each side.
    #[must_use]
    pub fn why(&self) -> String {
        let side = |s: &Side, dir: &str| match s {
            Side::Unmanaged => format!("{dir}: not a pod"),
            Side::NotIsolated => format!("{dir}: not isolated"),
            Side::Allowed { policy, rule } => format!("{dir}: {policy} rule {}", rule + 1),
            Side::Denied { isolating } => {
                format!("{dir}: denied (isolated by {})", isolating.join(", "))
            }
        };
        format!(
            "{}; {}",
            side(&self.egress, "egress"),
            side(&self.ingress, "ingress")
        )
    }
}

/// The namespaces (name → labels) and policies a connection is judged against.
#[derive(Debug, Clone, Default, Hash)]
pub struct Network {
    namespaces: BTreeMap<String, Labels>,
    policies: Vec<Policy>,
    /// Namespace → the indices of its policies.
    by_namespace: BTreeMap<String, Vec<usize>>,
}

impl Network {
    /// Adds a namespace with its labels; `kubernetes.io/metadata.name` is set as the API server
    /// sets it.
    pub fn namespace(&mut self, name: &str, mut labels: Labels) {
        labels.insert(NAMESPACE_NAME_LABEL.to_owned(), name.to_owned());
        self.namespaces.insert(name.to_owned(), labels);
    }

    /// Whether the namespace `name` was added.
    #[must_use]
    pub fn has_namespace(&self, name: &str) -> bool {
        self.namespaces.contains_key(name)
    }

    /// Adds a policy.
    pub fn policy(&mut self, policy: Policy) {
        self.by_namespace
            .entry(policy.namespace.clone())
            .or_default()
            .push(self.policies.len());
        self.policies.push(policy);
    }

    /// The policies, in the order they were added.
    #[must_use]
    pub fn policies(&self) -> &[Policy] {
        &self.policies
    }

    /// Whether `from` may open a connection to `to` on `port`/`protocol`.
    #[must_use]
    pub fn verdict(
        &self,
        from: &Endpoint,
        to: &Endpoint,
        port: u16,
        protocol: Protocol,
    ) -> Verdict {
        let pair = [from.clone(), to.clone()];
        self.judge(&pair).verdict(0, 1, port, protocol)
    }

    /// Prepares the judgement of connections among `endpoints`: which policies isolate each
    /// endpoint in each direction and which endpoints each rule's peers match, computed once.
    ///
    /// Selectors are matched through an index of the endpoints by namespace and label, and each
    /// distinct peer is matched once, so preparing takes time about linear in the endpoints and
    /// the rules (one policy per workload selects its own pods, not every pod's labels).
    #[must_use]
    pub fn judge<'a>(&'a self, endpoints: &'a [Endpoint]) -> Judge<'a> {
        let index = Index::new(endpoints);
        let mut isolating: [Vec<Vec<usize>>; 2] = [
            vec![Vec::new(); endpoints.len()],
            vec![Vec::new(); endpoints.len()],
        ];
        for (i, p) in self.policies.iter().enumerate() {
            let selected = index
                .candidates(Some(&p.namespace), p.spec.pod_selector.as_ref())
                .iter()
                .copied()
                .filter(|e| selects(p.spec.pod_selector.as_ref(), &endpoints[*e].labels));
            let types = [
                p.has_type(Direction::Ingress),
                p.has_type(Direction::Egress),
            ];
            for e in selected {
                for d in 0..2 {
                    if types[d] {
                        isolating[d][e].push(i);
                    }
                }
            }
        }
        // Each distinct peer (of a policy's namespace) as the endpoints it matches, shared by
        // every rule it is the only peer of.
        let mut peers_seen: HashMap<String, Members> = HashMap::new();
        let mut matched = |p: &Policy, peers: Option<&Vec<Peer>>| -> Option<Members> {
            let peers = peers.filter(|v| !v.is_empty())?;
            let sets: Vec<Members> = peers
                .iter()
                .map(|x| {
                    let key = format!("{}\u{0}{x:?}", p.namespace);
                    peers_seen
                        .entry(key)
                        .or_insert_with(|| self.peer_set(x, &p.namespace, endpoints, &index))
                        .clone()
                })
                .collect();
            Some(Members::union(&sets))
        };
        let rules: Vec<[Vec<JudgedRule<'_>>; 2]> = self
            .policies
            .iter()
            .map(|p| {
                let ingress = p
                    .spec
                    .ingress
                    .iter()
                    .flatten()
                    .map(|r| (matched(p, r.from.as_ref()), r.ports.as_deref()))
                    .collect();
                let egress = p
                    .spec
                    .egress
                    .iter()
                    .flatten()
                    .map(|r| (matched(p, r.to.as_ref()), r.ports.as_deref()))
                    .collect();
                [ingress, egress]
            })
            .collect();
        let by_peer = rules
            .iter()
            .map(|sides| [PeerIndex::of(&sides[0]), PeerIndex::of(&sides[1])])
            .collect();
        Judge {
            network: self,
            endpoints,
            isolating,
            rules,
            by_peer,
        }
    }

    /// The endpoints one peer of a rule of a policy in `policy_namespace` matches: the same as
    /// [`Self::peer_matches`] on every endpoint, looked up through `index` when it selects pods.
    fn peer_set(
        &self,
        peer: &Peer,
        policy_namespace: &str,
        endpoints: &[Endpoint],
        index: &Index<'_>,
    ) -> Members {
        let mut set = Vec::new();
        let mut add = |candidates: &[usize]| {
            set.extend(
                candidates
                    .iter()
                    .copied()
                    .filter(|&e| self.peer_matches(peer, policy_namespace, &endpoints[e])),
            );
        };
        if peer.ip_block.is_some() {
            add(&index.all);
        } else if let Some(s) = &peer.namespace_selector {
            for (name, labels) in &self.namespaces {
                if selects(Some(s), labels) {
                    add(index.candidates(Some(name), peer.pod_selector.as_ref()));
                }
            }
        } else if peer.pod_selector.is_some() {
            add(index.candidates(Some(policy_namespace), peer.pod_selector.as_ref()));
        }
        Members::new(set)
    }

    /// Whether one peer of a rule of a policy in `policy_namespace` matches `e`.
    fn peer_matches(&self, peer: &Peer, policy_namespace: &str, e: &Endpoint) -> bool {
        if let Some(block) = &peer.ip_block {
            return cidr_contains(&block.cidr, e.ip) == Some(true)
                && !block
                    .except
                    .iter()
                    .flatten()
                    .any(|x| cidr_contains(x, e.ip) == Some(true));
        }
        if peer.namespace_selector.is_none() && peer.pod_selector.is_none() {
            return false;
        }
        let Some(namespace) = e.namespace() else {
            return false;
        };
        let namespace_ok = match &peer.namespace_selector {
            Some(s) => self
                .namespaces
                .get(namespace)
                .is_some_and(|labels| selects(Some(s), labels)),
            None => namespace == policy_namespace,
        };
        namespace_ok
            && peer
                .pod_selector
                .as_ref()
                .is_none_or(|s| selects(Some(s), &e.labels))
    }
}

/// Connections among a fixed set of endpoints, judged by index ([`Network::judge`]).
pub struct Judge<'a> {
    network: &'a Network,
    endpoints: &'a [Endpoint],
    /// Per direction (ingress, egress), per endpoint: the policies that isolate it.
    isolating: [Vec<Vec<usize>>; 2],
    /// Per policy, per direction: each rule's peers as the endpoints they match (`None`: all),
    /// and its ports.
    rules: Vec<[Vec<JudgedRule<'a>>; 2]>,
    /// Per policy, per direction, for a policy with many rules: which of them admit each peer.
    by_peer: Vec<[Option<PeerIndex>; 2]>,
}

/// A rule with its peers resolved against the endpoints of a [`Judge`].
type JudgedRule<'a> = (Option<Members>, Option<&'a [Port]>);

/// The rules of one side of a policy by the peers they admit, so that a policy with a rule per
/// workload (a hub's egress to every service it scrapes) is not scanned rule by rule for each
/// connection.
struct PeerIndex {
    /// Peer → the rules whose peers include it, in rule order.
    of: HashMap<usize, Vec<usize>>,
    /// The rules that admit every peer, in rule order.
    everyone: Vec<usize>,
}

impl PeerIndex {
    /// Below this many rules a scan is as fast.
    const FROM: usize = 16;

    fn of(rules: &[JudgedRule<'_>]) -> Option<Self> {
        if rules.len() < Self::FROM {
            return None;
        }
        let mut index = Self {
            of: HashMap::new(),
            everyone: Vec::new(),
        };
        for (i, (peers, _)) in rules.iter().enumerate() {
            match peers {
                Some(peers) => {
                    for peer in peers.iter() {
                        index.of.entry(peer).or_default().push(i);
                    }
                }
                None => index.everyone.push(i),
            }
        }
        Some(index)
    }

    /// The rules that admit `peer`, in rule order.
    fn rules(&self, peer: usize) -> impl Iterator<Item = usize> + '_ {
        let mut mine = self
            .of
            .get(&peer)
            .map_or(&[][..], Vec::as_slice)
            .iter()
            .peekable();
        let mut all = self.everyone.iter().peekable();
        std::iter::from_fn(move || match (mine.peek(), all.peek()) {
            (Some(&&a), Some(&&b)) if b < a => all.next().copied(),
            (Some(_), _) => mine.next().copied(),
            (None, _) => all.next().copied(),
        })
    }
}

/// A set of endpoints, by index, held as the list of its members, lowest first, and shared by
/// every rule it is the only peer of: a peer matches the few pods of one workload, where a set of
/// one bit per endpoint for each rule would grow with the square of the services.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Members(Rc<[usize]>);

impl Members {
    /// The set of `members`, in any order and with repeats.
    fn new(mut members: Vec<usize>) -> Self {
        members.sort_unstable();
        members.dedup();
        Self(members.into())
    }

    /// The union of `sets`: the one set itself when there is one.
    fn union(sets: &[Self]) -> Self {
        match sets {
            [one] => one.clone(),
            _ => Self::new(sets.iter().flat_map(Self::iter).collect()),
        }
    }

    /// Whether endpoint `i` is a member.
    #[must_use]
    pub fn contains(&self, i: usize) -> bool {
        self.0.binary_search(&i).is_ok()
    }

    /// The members, lowest first.
    pub fn iter(&self) -> impl Iterator<Item = usize> + '_ {
        self.0.iter().copied()
    }
}

/// The endpoints by namespace and by label, to find the ones a selector may match without
/// testing every endpoint.
struct Index<'a> {
    all: Vec<usize>,
    by_namespace: HashMap<&'a str, Vec<usize>>,
    /// Label key → value → endpoints.
    by_label: HashMap<&'a str, HashMap<&'a str, Vec<usize>>>,
}

impl<'a> Index<'a> {
    fn new(endpoints: &'a [Endpoint]) -> Self {
        let mut index = Self {
            all: (0..endpoints.len()).collect(),
            by_namespace: HashMap::new(),
            by_label: HashMap::new(),
        };
        for (i, e) in endpoints.iter().enumerate() {
            if let Some(n) = e.namespace() {
                index.by_namespace.entry(n).or_default().push(i);
            }
            for (k, v) in &e.labels {
                index
                    .by_label
                    .entry(k)
                    .or_default()
                    .entry(v)
                    .or_default()
                    .push(i);
            }
        }
        index
    }

    /// The pods of `namespace` (every endpoint when `None`) that `selector` can match: a superset,
    /// in index order; the caller tests each.
    fn candidates<'s>(
        &'s self,
        namespace: Option<&str>,
        selector: Option<&Selector>,
    ) -> &'s [usize] {
        let base = match namespace {
            Some(n) => self.by_namespace.get(n).map_or(&[][..], Vec::as_slice),
            None => &self.all,
        };
        selector
            .and_then(|s| s.match_labels.as_ref())
            .into_iter()
            .flat_map(|m| &m.0)
            .map(|(k, v)| {
                self.by_label
                    .get(k.as_str())
                    .and_then(|values| values.get(v.as_str()))
                    .map_or(&[][..], Vec::as_slice)
            })
            .min_by_key(|l| l.len())
            .filter(|l| l.len() < base.len())
            .unwrap_or(base)
    }
}

impl Judge<'_> {
    /// Whether endpoint `from` may open a connection to endpoint `to` on `port`/`protocol`.
    #[must_use]
    pub fn verdict(&self, from: usize, to: usize, port: u16, protocol: Protocol) -> Verdict {
        Verdict {
            egress: self.side(Direction::Egress, from, to, to, port, protocol),
            ingress: self.side(Direction::Ingress, to, from, to, port, protocol),
        }
    }

    /// The endpoints whose connections to `to` on `port`/`protocol` the ingress side of `to`
    /// allows (`None`: every endpoint): the union of the rules of the policies isolating `to` that
    /// admit the port, as [`Self::verdict`] decides the ingress side one source at a time.
    #[must_use]
    pub fn ingress_sources(&self, to: usize, port: u16, protocol: Protocol) -> Option<Members> {
        // An address outside the pod network is not isolated.
        self.endpoints[to].namespace()?;
        let isolating = &self.isolating[0][to];
        if isolating.is_empty() {
            return None;
        }
        let mut sources = Vec::new();
        for &p in isolating {
            for (peers, ports) in &self.rules[p][0] {
                if ports_match(*ports, &self.endpoints[to], port, protocol) {
                    sources.push(peers.clone()?);
                }
            }
        }
        Some(Members::union(&sources))
    }

    /// How the policies of `subject` decide a connection with `peer` in `direction`; `dest` is
    /// the connection's destination (named ports resolve against it).
    fn side(
        &self,
        direction: Direction,
        subject: usize,
        peer: usize,
        dest: usize,
        port: u16,
        protocol: Protocol,
    ) -> Side {
        if self.endpoints[subject].namespace().is_none() {
            return Side::Unmanaged;
        }
        let d = match direction {
            Direction::Ingress => 0,
            Direction::Egress => 1,
        };
        let isolating = &self.isolating[d][subject];
        for &p in isolating {
            let rules = &self.rules[p][d];
            let admits = |i: usize| ports_match(rules[i].1, &self.endpoints[dest], port, protocol);
            let first = match &self.by_peer[p][d] {
                Some(index) => index.rules(peer).find(|&i| admits(i)),
                None => (0..rules.len())
                    .find(|&i| rules[i].0.as_ref().is_none_or(|m| m.contains(peer)) && admits(i)),
            };
            if let Some(rule) = first {
                return Side::Allowed {
                    policy: self.network.policies[p].label.clone(),
                    rule,
                };
            }
        }
        if isolating.is_empty() {
            Side::NotIsolated
        } else {
            Side::Denied {
                isolating: isolating
                    .iter()
                    .map(|p| self.network.policies[*p].label.clone())
                    .collect(),
            }
        }
    }
}

/// Whether a label selector matches `labels`; an absent or empty selector matches everything. A
/// requirement with an unknown operator matches nothing (the API server refuses it).
#[must_use]
pub fn selects(selector: Option<&Selector>, labels: &Labels) -> bool {
    let Some(s) = selector else {
        return true;
    };
    let by_label = s
        .match_labels
        .iter()
        .flat_map(|m| &m.0)
        .all(|(k, v)| labels.get(k) == Some(v));
    by_label
        && s.match_expressions.iter().flatten().all(|r| {
            let values = r.values.as_deref().unwrap_or_default();
            let value = labels.get(&r.key);
            match r.operator.as_str() {
                "In" => value.is_some_and(|v| values.contains(v)),
                "NotIn" => value.is_none_or(|v| !values.contains(v)),
                "Exists" => value.is_some(),
                "DoesNotExist" => value.is_none(),
                _ => false,
            }
        })
}

/// Whether a rule's ports admit `port`/`protocol` on `dest`; no list, or an empty one, admits
/// every port.
fn ports_match(ports: Option<&[Port]>, dest: &Endpoint, port: u16, protocol: Protocol) -> bool {
    let Some(ports) = ports.filter(|p| !p.is_empty()) else {
        return true;
    };
    ports.iter().any(|p| {
        let proto = p
            .protocol
            .as_deref()
            .map_or(Some(Protocol::Tcp), Protocol::parse);
        if proto != Some(protocol) {
            return false;
        }
        match &p.port {
            None => true,
            Some(PortNumber::Int(n)) => {
                let end = p.end_port.unwrap_or(*n);
                *n <= i32::from(port) && i32::from(port) <= end
            }
            Some(PortNumber::String(name)) => dest.ports.iter().any(|c| {
                c.name.as_deref() == Some(name.as_str())
                    && c.protocol == protocol
                    && c.number == port
            }),
        }
    })
}

/// Whether `ip` lies in `cidr` (`a.b.c.d/n` or an IPv6 prefix); `None` when `cidr` does not parse.
/// An address of the other family is outside.
#[must_use]
pub fn cidr_contains(cidr: &str, ip: IpAddr) -> Option<bool> {
    let (addr, len) = cidr.split_once('/')?;
    let net: IpAddr = addr.parse().ok()?;
    let len: u32 = len.parse().ok()?;
    match (net, ip) {
        (IpAddr::V4(n), IpAddr::V4(a)) => {
            if len > 32 {
                return None;
            }
            let mask = u32::MAX.checked_shl(32 - len).unwrap_or(0);
            Some(u32::from(n) & mask == u32::from(a) & mask)
        }
        (IpAddr::V6(n), IpAddr::V6(a)) => {
            if len > 128 {
                return None;
            }
            let mask = u128::MAX.checked_shl(128 - len).unwrap_or(0);
            Some(u128::from(n) & mask == u128::from(a) & mask)
        }
        _ => Some(false),
    }
}

#[cfg(test)]
mod peer_index_tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        /// A set of members holds exactly the endpoints it was made of, lowest first and each
        /// once, and a union exactly those of its sets.
        #[test]
        fn members_are_the_set_they_were_made_of(
            sets in prop::collection::vec(prop::collection::vec(0usize..64, 0..12), 1..5),
        ) {
            let made: Vec<Members> = sets.iter().map(|s| Members::new(s.clone())).collect();
            let union = Members::union(&made);
            let mut all: Vec<usize> = sets.concat();
            all.sort_unstable();
            all.dedup();
            prop_assert_eq!(union.iter().collect::<Vec<_>>(), all.clone());
            for i in 0..64 {
                prop_assert_eq!(union.contains(i), all.contains(&i));
                for (m, s) in made.iter().zip(&sets) {
                    prop_assert_eq!(m.contains(i), s.contains(&i));
                }
            }
        }

        /// The index finds, for every peer, the rules a scan in rule order finds.
        #[test]
        fn the_index_lists_the_rules_a_scan_finds(
            peers in prop::collection::vec(
                prop::option::of(prop::collection::vec(0usize..8, 0..4)),
                PeerIndex::FROM..PeerIndex::FROM + 8,
            ),
        ) {
            let rules: Vec<JudgedRule<'_>> = peers
                .iter()
                .map(|p| {
                    let members = p.as_ref().map(|p| Members::new(p.clone()));
                    (members, None)
                })
                .collect();
            let index = PeerIndex::of(&rules).expect("enough rules for an index");
            for peer in 0..8 {
                let scanned: Vec<usize> = (0..rules.len())
                    .filter(|&i| rules[i].0.as_ref().is_none_or(|m| m.contains(peer)))
                    .collect();
                prop_assert_eq!(index.rules(peer).collect::<Vec<_>>(), scanned);
            }
        }
    }
}
