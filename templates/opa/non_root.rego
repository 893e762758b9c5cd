{% include "opa/_common.rego" %}

# The Kubernetes Pod Security Standards' restricted profile (which includes baseline), control by
# control, on Pods and on the pod templates of every workload kind, so a workload that the
# namespace's Pod Security Admission would refuse pod by pod is refused when it is applied.

# ── Baseline ────────────────────────────────────────────────────────────────────────────────────

# Host namespaces.
violation contains {"msg": msg} if {
    some field in ["hostNetwork", "hostPID", "hostIPC"]
    object.get(pod_spec, field, false) == true
    msg := sprintf("%s: the pod must not set %s: true (it shares the node's namespace)", [subject, field])
}

# Windows host processes.
violation contains {"msg": msg} if {
    object.get(pod_spec, ["securityContext", "windowsOptions", "hostProcess"], false) == true
    msg := sprintf("%s: the pod must not run Windows host processes", [subject])
}

violation contains {"msg": msg} if {
    some entry in all_containers
    object.get(entry.container, ["securityContext", "windowsOptions", "hostProcess"], false) == true
    msg := sprintf("%s: %s %q must not run as a Windows host process", [subject, entry.what, entry.container.name])
}

# Privileged containers.
violation contains {"msg": msg} if {
    some entry in all_containers
    object.get(entry.container, ["securityContext", "privileged"], false) == true
    msg := sprintf("%s: %s %q must not run privileged", [subject, entry.what, entry.container.name])
}

# Capabilities: only NET_BIND_SERVICE may be added (restricted; baseline's list is wider).
violation contains {"msg": msg} if {
    some entry in all_containers
    some cap in object.get(entry.container, ["securityContext", "capabilities", "add"], [])
    cap != "NET_BIND_SERVICE"
    msg := sprintf("%s: %s %q adds the capability %s; only NET_BIND_SERVICE may be added", [subject, entry.what, entry.container.name, cap])
}

# HostPath volumes.
violation contains {"msg": msg} if {
    some volume in object.get(pod_spec, "volumes", [])
    volume.hostPath
    msg := sprintf("%s: volume %q mounts the node's path %q (hostPath)", [subject, volume.name, object.get(volume, ["hostPath", "path"], "")])
}

# Host ports.
violation contains {"msg": msg} if {
    some entry in all_containers
    some port in object.get(entry.container, "ports", [])
    object.get(port, "hostPort", 0) != 0
    msg := sprintf("%s: %s %q binds the node's port %v (hostPort)", [subject, entry.what, entry.container.name, port.hostPort])
}

# AppArmor: the runtime's default or a profile loaded on the node, never unconfined.
violation contains {"msg": msg} if {
    some key, value in pod_annotations
    startswith(key, "container.apparmor.security.beta.kubernetes.io/")
    value != "runtime/default"
    not startswith(value, "localhost/")
    msg := sprintf("%s: annotation %s sets the AppArmor profile %q", [subject, key, value])
}

violation contains {"msg": msg} if {
    some holder in security_contexts
    type := object.get(holder.context, ["appArmorProfile", "type"], "RuntimeDefault")
    not type in {"RuntimeDefault", "Localhost"}
    msg := sprintf("%s: %s sets appArmorProfile.type %s", [subject, holder.what, type])
}

# SELinux: only the container types, and no custom user or role.
violation contains {"msg": msg} if {
    some holder in security_contexts
    type := object.get(holder.context, ["seLinuxOptions", "type"], "")
    not type in {"", "container_t", "container_init_t", "container_kvm_t", "container_engine_t"}
    msg := sprintf("%s: %s sets the SELinux type %q", [subject, holder.what, type])
}

violation contains {"msg": msg} if {
    some holder in security_contexts
    some field in ["user", "role"]
    object.get(holder.context, ["seLinuxOptions", field], "") != ""
    msg := sprintf("%s: %s sets a custom SELinux %s", [subject, holder.what, field])
}

# /proc mount type.
violation contains {"msg": msg} if {
    some entry in all_containers
    mount := object.get(entry.container, ["securityContext", "procMount"], "Default")
    mount != "Default"
    msg := sprintf("%s: %s %q sets procMount %s", [subject, entry.what, entry.container.name, mount])
}

# Sysctls: only the namespaced ones Kubernetes calls safe.
violation contains {"msg": msg} if {
    some sysctl in object.get(pod_spec, ["securityContext", "sysctls"], [])
    not sysctl.name in safe_sysctls
    msg := sprintf("%s: the pod sets the sysctl %s, which is not in the safe set", [subject, sysctl.name])
}

safe_sysctls := {
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
}

# ── Restricted ──────────────────────────────────────────────────────────────────────────────────

# Volume types.
violation contains {"msg": msg} if {
    some volume in object.get(pod_spec, "volumes", [])
    some type, _ in volume
    type != "name"
    not type in allowed_volume_types
    msg := sprintf("%s: volume %q is of type %s, which the restricted profile does not allow", [subject, volume.name, type])
}

allowed_volume_types := {
    "configMap", "csi", "downwardAPI", "emptyDir", "ephemeral",
    "persistentVolumeClaim", "projected", "secret",
}

# Privilege escalation.
violation contains {"msg": msg} if {
    some entry in all_containers
    not object.get(entry.container, ["securityContext", "allowPrivilegeEscalation"], true) == false
    msg := sprintf("%s: %s %q must set securityContext.allowPrivilegeEscalation: false", [subject, entry.what, entry.container.name])
}

# Running as non-root.
violation contains {"msg": msg} if {
    some entry in all_containers
    not effective(entry.container, "runAsNonRoot", false) == true
    msg := sprintf("%s: %s %q must set securityContext.runAsNonRoot: true (on the container or the pod)", [subject, entry.what, entry.container.name])
}

# Non-root user IDs.
violation contains {"msg": msg} if {
    some entry in all_containers
    effective(entry.container, "runAsUser", null) == 0
    msg := sprintf("%s: %s %q runs as UID 0 (root)", [subject, entry.what, entry.container.name])
}

violation contains {"msg": msg} if {
    object.get(pod_spec, ["securityContext", "runAsUser"], null) == 0
    msg := sprintf("%s: the pod's securityContext.runAsUser is 0 (root)", [subject])
}

# Seccomp: RuntimeDefault or Localhost, on the pod or on every container.
violation contains {"msg": msg} if {
    some entry in all_containers
    type := effective_seccomp(entry.container)
    not type in {"RuntimeDefault", "Localhost"}
    msg := sprintf("%s: %s %q runs with the seccomp profile %s; set seccompProfile.type RuntimeDefault or Localhost", [subject, entry.what, entry.container.name, type])
}

violation contains {"msg": msg} if {
    object.get(pod_spec, ["securityContext", "seccompProfile", "type"], "") == "Unconfined"
    msg := sprintf("%s: the pod's seccomp profile is Unconfined", [subject])
}

# Capabilities: every one dropped.
violation contains {"msg": msg} if {
    some entry in all_containers
    not "ALL" in object.get(entry.container, ["securityContext", "capabilities", "drop"], [])
    msg := sprintf("%s: %s %q must drop all capabilities (securityContext.capabilities.drop: [ALL])", [subject, entry.what, entry.container.name])
}

# ── Helpers ─────────────────────────────────────────────────────────────────────────────────────

# A container's own securityContext setting, else the pod's, else `default`.
effective(c, key, default_value) := object.get(
    c,
    ["securityContext", key],
    object.get(pod_spec, ["securityContext", key], default_value),
)

effective_seccomp(c) := object.get(
    c,
    ["securityContext", "seccompProfile", "type"],
    object.get(pod_spec, ["securityContext", "seccompProfile", "type"], "unset"),
)

# The pod's security context and each container's, with the words that name them.
security_contexts := array.concat(
    [{"what": "the pod", "context": object.get(pod_spec, "securityContext", {})}],
    [{"what": sprintf("%s %q", [entry.what, entry.container.name]), "context": object.get(entry.container, "securityContext", {})} |
        some entry in all_containers
    ],
)

# The annotations of the pod (or of the pod template).
pod_annotations := object.get(obj, ["metadata", "annotations"], {}) if obj.kind == "Pod"

pod_annotations := object.get(obj, ["spec", "template", "metadata", "annotations"], {}) if obj.kind in templated_kinds

pod_annotations := object.get(obj, ["spec", "jobTemplate", "spec", "template", "metadata", "annotations"], {}) if obj.kind == "CronJob"
