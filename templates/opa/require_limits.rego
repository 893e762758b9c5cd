{% include "opa/_common.rego" %}

# Every container and init container declares a limit for each resource in `parameters.resources`
# (cpu and memory): without one a single pod can starve its node and the namespace quota cannot be
# enforced. A limit of zero (`cpu: "0"`) sets no limit at all, so it counts as missing; a negative
# or unreadable quantity is refused, and so is a request above its limit (the API server would
# refuse the pod later, long after the workload was accepted).
violation contains {"msg": msg} if {
    some entry in containers
    some resource in params.resources
    not has_limit(entry.container, resource)
    msg := sprintf("%s: %s %q has no %s limit", [subject, entry.what, entry.container.name, resource])
}

violation contains {"msg": msg} if {
    some entry in containers
    some resource in params.resources
    some side in ["limits", "requests"]
    q := entry.container.resources[side][resource]
    not positive(q)
    msg := sprintf("%s: %s %q sets %s %s to %v; it must be a quantity above zero", [subject, entry.what, entry.container.name, resource, trim_suffix(side, "s"), q])
}

violation contains {"msg": msg} if {
    some entry in containers
    some resource in params.resources
    request := amount(entry.container.resources.requests[resource])
    limit := amount(entry.container.resources.limits[resource])
    request > limit
    msg := sprintf("%s: %s %q requests more %s (%v) than its limit (%v)", [subject, entry.what, entry.container.name, resource, entry.container.resources.requests[resource], entry.container.resources.limits[resource]])
}

has_limit(c, resource) if {
    object.get(c, ["resources", "limits", resource], "") != ""
}

positive(q) if amount(q) > 0

# A Kubernetes quantity as a number: `500m` is 0.5, `2Gi` is 2147483648; undefined when it is not
# a quantity (the API server refuses those itself).
amount(q) := q if is_number(q)

amount(q) := units.parse(q) if is_string(q)
