{% include "opa/_common.rego" %}

# The restricted Pod Security profile, per container: run as a non-root user, no privilege
# escalation, no privileged mode, every Linux capability dropped. A container inherits runAsNonRoot
# and runAsUser from the pod's securityContext unless it sets its own.
violation contains {"msg": msg} if {
    some entry in all_containers
    not effective(entry.container, "runAsNonRoot", false) == true
    msg := sprintf("%s: %s %q must set securityContext.runAsNonRoot: true (on the container or the pod)", [subject, entry.what, entry.container.name])
}

violation contains {"msg": msg} if {
    some entry in all_containers
    effective(entry.container, "runAsUser", null) == 0
    msg := sprintf("%s: %s %q runs as UID 0 (root)", [subject, entry.what, entry.container.name])
}

violation contains {"msg": msg} if {
    some entry in all_containers
    not object.get(entry.container, ["securityContext", "allowPrivilegeEscalation"], true) == false
    msg := sprintf("%s: %s %q must set securityContext.allowPrivilegeEscalation: false", [subject, entry.what, entry.container.name])
}

violation contains {"msg": msg} if {
    some entry in all_containers
    object.get(entry.container, ["securityContext", "privileged"], false) == true
    msg := sprintf("%s: %s %q must not run privileged", [subject, entry.what, entry.container.name])
}

violation contains {"msg": msg} if {
    some entry in all_containers
    not "ALL" in object.get(entry.container, ["securityContext", "capabilities", "drop"], [])
    msg := sprintf("%s: %s %q must drop all capabilities (securityContext.capabilities.drop: [ALL])", [subject, entry.what, entry.container.name])
}

# A container's own securityContext setting, else the pod's, else `default`.
effective(c, key, default_value) := object.get(
    c,
    ["securityContext", key],
    object.get(pod_spec, ["securityContext", key], default_value),
)
