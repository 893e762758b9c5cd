{% include "opa/_common.rego" %}

# Every container and init container declares a limit for each resource in `parameters.resources`
# (cpu and memory): without one a single pod can starve its node and the namespace quota cannot be
# enforced.
violation contains {"msg": msg} if {
    some entry in containers
    some resource in params.resources
    not has_limit(entry.container, resource)
    msg := sprintf("%s: %s %q has no %s limit", [subject, entry.what, entry.container.name, resource])
}

has_limit(c, resource) if {
    object.get(c, ["resources", "limits", resource], "") != ""
}
