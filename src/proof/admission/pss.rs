//! Pod Security Admission: the controls of the Kubernetes Pod Security Standards, baseline and
//! restricted, evaluated on a Pod as the `PodSecurity` admission plugin does at a namespace's
//! `pod-security.kubernetes.io/enforce` level. Every container counts: init, regular and
//! ephemeral.

use crate::model::PodSecurityLevel;
use serde_json::Value;

/// One control a pod fails.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failure {
    /// The control's name as the standard lists it (`Host Namespaces`, `Seccomp`, ...).
    pub control: &'static str,
    /// The lowest profile that has the control: a baseline failure is refused by restricted too.
    pub level: PodSecurityLevel,
    /// The container it concerns, when it is one container's setting.
    pub container: Option<String>,
    pub detail: String,
}

/// Capabilities baseline allows a container to add.
pub const BASELINE_CAPABILITIES: [&str; 13] = [
    "AUDIT_WRITE",
    "CHOWN",
    "DAC_OVERRIDE",
    "FOWNER",
    "FSETID",
    "KILL",
    "MKNOD",
    "NET_BIND_SERVICE",
    "SETFCAP",
    "SETGID",
    "SETPCAP",
    "SETUID",
    "SYS_CHROOT",
];

/// The sysctls baseline allows (the namespaced, isolated ones).
pub const SAFE_SYSCTLS: [&str; 10] = [
    "kernel.shm_rmid_forced",
    "net.ipv4.ip_local_port_range",
    "net.ipv4.ip_unprivileged_port_start",
    "net.ipv4.tcp_syncookies",
    "net.ipv4.ping_group_range",
    "net.ipv4.ip_local_reserved_ports",
    "net.ipv4.tcp_keepalive_time",
    "net.ipv4.tcp_fin_timeout",
    "net.ipv4.tcp_keepalive_intvl",
    "net.ipv4.tcp_keepalive_probes",
];

/// The volume types restricted allows.
pub const RESTRICTED_VOLUMES: [&str; 8] = [
    "configMap",
    "csi",
    "downwardAPI",
    "emptyDir",
    "ephemeral",
    "persistentVolumeClaim",
    "projected",
    "secret",
];

/// The `SELinux` types baseline allows (besides none).
const SELINUX_TYPES: [&str; 4] = [
    "container_t",
    "container_init_t",
    "container_kvm_t",
    "container_engine_t",
];

/// Every control of the standard, in the order the standard lists them: (name, level).
pub const CONTROLS: [(&str, PodSecurityLevel); 17] = [
    ("HostProcess", PodSecurityLevel::Baseline),
    ("Host Namespaces", PodSecurityLevel::Baseline),
    ("Privileged Containers", PodSecurityLevel::Baseline),
    ("Capabilities", PodSecurityLevel::Baseline),
    ("HostPath Volumes", PodSecurityLevel::Baseline),
    ("Host Ports", PodSecurityLevel::Baseline),
    ("AppArmor", PodSecurityLevel::Baseline),
    ("SELinux", PodSecurityLevel::Baseline),
    ("/proc Mount Type", PodSecurityLevel::Baseline),
    ("Seccomp", PodSecurityLevel::Baseline),
    ("Sysctls", PodSecurityLevel::Baseline),
    ("Volume Types", PodSecurityLevel::Restricted),
    ("Privilege Escalation", PodSecurityLevel::Restricted),
    ("Running as Non-root", PodSecurityLevel::Restricted),
    ("Running as Non-root user", PodSecurityLevel::Restricted),
    ("Seccomp", PodSecurityLevel::Restricted),
    ("Capabilities", PodSecurityLevel::Restricted),
];

/// Whether a failure at `failure` refuses a pod in a namespace enforcing `enforce`.
#[must_use]
pub fn refuses(enforce: PodSecurityLevel, failure: PodSecurityLevel) -> bool {
    match enforce {
        PodSecurityLevel::Privileged => false,
        PodSecurityLevel::Baseline => failure == PodSecurityLevel::Baseline,
        PodSecurityLevel::Restricted => true,
    }
}

/// Every control of both profiles the pod fails.
#[must_use]
pub fn evaluate(pod: &Value) -> Vec<Failure> {
    let mut out = Vec::new();
    let spec = &pod["spec"];
    let psc = &spec["securityContext"];
    let containers: Vec<&Value> = ["initContainers", "containers", "ephemeralContainers"]
        .iter()
        .filter_map(|f| spec[*f].as_array())
        .flatten()
        .collect();
    let name = |c: &Value| c["name"].as_str().unwrap_or("?").to_owned();
    let mut fail = |control, level, container: Option<String>, detail: String| {
        out.push(Failure {
            control,
            level,
            container,
            detail,
        });
    };
    let b = PodSecurityLevel::Baseline;
    let r = PodSecurityLevel::Restricted;

    // HostProcess.
    if psc["windowsOptions"]["hostProcess"] == true {
        fail(
            "HostProcess",
            b,
            None,
            "the pod runs Windows host processes".into(),
        );
    }
    for c in &containers {
        if c["securityContext"]["windowsOptions"]["hostProcess"] == true {
            fail(
                "HostProcess",
                b,
                Some(name(c)),
                "runs as a Windows host process".into(),
            );
        }
    }
    // Host namespaces.
    for field in ["hostNetwork", "hostPID", "hostIPC"] {
        if spec[field] == true {
            fail(
                "Host Namespaces",
                b,
                None,
                format!("the pod sets {field}: true"),
            );
        }
    }
    for c in &containers {
        let sc = &c["securityContext"];
        let n = || Some(name(c));
        if sc["privileged"] == true {
            fail("Privileged Containers", b, n(), "runs privileged".into());
        }
        let added: Vec<&str> = sc["capabilities"]["add"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(Value::as_str)
            .collect();
        for cap in &added {
            if !BASELINE_CAPABILITIES.contains(cap) {
                fail("Capabilities", b, n(), format!("adds the capability {cap}"));
            } else if *cap != "NET_BIND_SERVICE" {
                fail(
                    "Capabilities",
                    r,
                    n(),
                    format!("adds the capability {cap}; restricted allows only NET_BIND_SERVICE"),
                );
            }
        }
        let drops_all = sc["capabilities"]["drop"]
            .as_array()
            .is_some_and(|d| d.iter().any(|x| x == "ALL"));
        if !drops_all {
            fail(
                "Capabilities",
                r,
                n(),
                "does not drop ALL capabilities".into(),
            );
        }
        for port in c["ports"].as_array().into_iter().flatten() {
            if port["hostPort"].as_i64().is_some_and(|p| p != 0) {
                fail(
                    "Host Ports",
                    b,
                    n(),
                    format!("binds the node's port {}", port["hostPort"]),
                );
            }
        }
        if let Some(m) = sc["procMount"].as_str().filter(|m| *m != "Default") {
            fail("/proc Mount Type", b, n(), format!("sets procMount {m}"));
        }
        if sc["allowPrivilegeEscalation"] != false {
            fail(
                "Privilege Escalation",
                r,
                n(),
                "does not set allowPrivilegeEscalation: false".into(),
            );
        }
        let non_root = sc["runAsNonRoot"]
            .as_bool()
            .or(psc["runAsNonRoot"].as_bool());
        if sc["runAsNonRoot"] == false || non_root != Some(true) {
            fail(
                "Running as Non-root",
                r,
                n(),
                "does not run with runAsNonRoot: true".into(),
            );
        }
        if sc["runAsUser"] == 0 {
            fail(
                "Running as Non-root user",
                r,
                n(),
                "sets runAsUser: 0".into(),
            );
        }
        let seccomp = sc["seccompProfile"]["type"]
            .as_str()
            .or(psc["seccompProfile"]["type"].as_str());
        if sc["seccompProfile"]["type"] == "Unconfined" {
            fail(
                "Seccomp",
                b,
                n(),
                "sets the seccomp profile Unconfined".into(),
            );
        } else if !matches!(seccomp, Some("RuntimeDefault" | "Localhost")) {
            fail(
                "Seccomp",
                r,
                n(),
                format!(
                    "runs with the seccomp profile {}; restricted requires RuntimeDefault or Localhost",
                    seccomp.unwrap_or("unset")
                ),
            );
        }
    }
    if psc["runAsUser"] == 0 {
        fail(
            "Running as Non-root user",
            r,
            None,
            "the pod sets runAsUser: 0".into(),
        );
    }
    if psc["seccompProfile"]["type"] == "Unconfined" {
        fail(
            "Seccomp",
            b,
            None,
            "the pod's seccomp profile is Unconfined".into(),
        );
    }
    // Contexts shared by the pod and its containers: AppArmor and SELinux.
    let contexts = std::iter::once((None, psc))
        .chain(
            containers
                .iter()
                .map(|c| (Some(name(c)), &c["securityContext"])),
        )
        .collect::<Vec<_>>();
    for (who, sc) in contexts {
        if let Some(t) = sc["appArmorProfile"]["type"]
            .as_str()
            .filter(|t| !matches!(*t, "RuntimeDefault" | "Localhost"))
        {
            fail(
                "AppArmor",
                b,
                who.clone(),
                format!("sets the AppArmor profile type {t}"),
            );
        }
        let se = &sc["seLinuxOptions"];
        if let Some(t) = se["type"]
            .as_str()
            .filter(|t| !t.is_empty() && !SELINUX_TYPES.contains(t))
        {
            fail(
                "SELinux",
                b,
                who.clone(),
                format!("sets the SELinux type {t}"),
            );
        }
        for field in ["user", "role"] {
            if se[field].as_str().is_some_and(|v| !v.is_empty()) {
                fail(
                    "SELinux",
                    b,
                    who.clone(),
                    format!("sets a custom SELinux {field}"),
                );
            }
        }
    }
    for (key, value) in pod["metadata"]["annotations"]
        .as_object()
        .into_iter()
        .flatten()
    {
        if let Some(container) = key.strip_prefix("container.apparmor.security.beta.kubernetes.io/")
        {
            let v = value.as_str().unwrap_or_default();
            if v != "runtime/default" && !v.starts_with("localhost/") && !v.is_empty() {
                fail(
                    "AppArmor",
                    b,
                    Some(container.to_owned()),
                    format!("is annotated with the AppArmor profile {v}"),
                );
            }
        }
    }
    for sysctl in psc["sysctls"].as_array().into_iter().flatten() {
        let n = sysctl["name"].as_str().unwrap_or_default();
        if !SAFE_SYSCTLS.contains(&n) {
            fail(
                "Sysctls",
                b,
                None,
                format!("the pod sets the sysctl {n}, which is not in the safe set"),
            );
        }
    }
    for volume in spec["volumes"].as_array().into_iter().flatten() {
        let vname = volume["name"].as_str().unwrap_or("?");
        for (kind, _) in volume.as_object().into_iter().flatten() {
            if kind == "name" {
                continue;
            }
            if kind == "hostPath" {
                fail(
                    "HostPath Volumes",
                    b,
                    None,
                    format!(
                        "volume `{vname}` mounts the node's path {}",
                        volume["hostPath"]["path"]
                    ),
                );
            } else if !RESTRICTED_VOLUMES.contains(&kind.as_str()) {
                fail(
                    "Volume Types",
                    r,
                    None,
                    format!("volume `{vname}` is of type {kind}"),
                );
            }
        }
    }
    out
}
