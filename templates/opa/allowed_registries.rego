{% include "opa/_common.rego" %}

# Images come only from the registries in `parameters.registries`, and name a fixed version: a
# digest, or a tag other than `latest`. An untagged image means `latest`.
violation contains {"msg": msg} if {
    some entry in all_containers
    image := entry.container.image
    not from_allowed_registry(image)
    msg := sprintf("%s: %s %q uses image %q from a registry that is not allowed (allowed: %s)", [subject, entry.what, entry.container.name, image, concat(", ", params.registries)])
}

violation contains {"msg": msg} if {
    some entry in all_containers
    image := entry.container.image
    tag_of(image) == "latest"
    msg := sprintf("%s: %s %q uses image %q with the moving tag :latest; pin a version or a digest", [subject, entry.what, entry.container.name, image])
}

violation contains {"msg": msg} if {
    some entry in all_containers
    image := entry.container.image
    not contains(image, "@")
    not tag_of(image)
    msg := sprintf("%s: %s %q uses image %q without a tag or digest (it resolves to :latest)", [subject, entry.what, entry.container.name, image])
}

# The registry is a prefix that ends at a path separator, so "registry.example.com" does not allow
# "registry.example.com.evil.io/...".
from_allowed_registry(image) if {
    some registry in params.registries
    startswith(image, concat("", [trim_right(registry, "/"), "/"]))
}

# The tag of an image reference without a digest: what follows ":" in the last path segment (a ":"
# before the last "/" is a registry port).
tag_of(image) := tag if {
    not contains(image, "@")
    segments := split(image, "/")
    last := segments[count(segments) - 1]
    contains(last, ":")
    parts := split(last, ":")
    tag := parts[count(parts) - 1]
}
