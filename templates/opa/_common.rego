{#- Shared head of every DEAAP admission policy: where the review, the parameters and the object's
    pod spec come from. Included by each policy template; rendered once for Gatekeeper (input is an
    admission review, parameters come from the Constraint) and once for the plain bundle (input is a
    review or a bare object, parameters come from data.json). -#}
package {{ package }}

{% if gatekeeper %}
review := input.review

params := input.parameters
{% else %}
# A Gatekeeper-style review ({"review": ..., "parameters": ...}) or a bare Kubernetes object, as
# `conftest test` and `opa eval --input` pass it.
raw_review := input.review if {
    input.review
} else := {"object": input, "operation": "CREATE", "userInfo": {}}

# In Gatekeeper the Constraint's match chooses the kinds a policy sees; here the policy does.
reviewed_kind := raw_review.kind.kind if {
    raw_review.kind.kind
} else := raw_review.object.kind if {
    raw_review.object.kind
} else := raw_review.oldObject.kind

review := raw_review if reviewed_kind in { {%- for k in kinds %}{{ k | rego_str }}{% if not loop.last %}, {% endif %}{% endfor %}}

params := data.deaap.parameters[{{ policy | rego_str }}]
{% endif %}

obj := review.object

# "Kind namespace/name" of the object under review, for messages.
subject := describe(obj)

describe(o) := sprintf("%s %s/%s", [
    object.get(o, "kind", object.get(review, ["kind", "kind"], "object")),
    object.get(o, ["metadata", "namespace"], object.get(review, "namespace", "")),
    object.get(o, ["metadata", "name"], object.get(o, ["metadata", "generateName"], object.get(review, "name", ""))),
])

# Kinds whose pods come from `spec.template`.
templated_kinds := {"Deployment", "StatefulSet", "DaemonSet", "ReplicaSet", "Job"}

pod_spec := obj.spec if obj.kind == "Pod"

pod_spec := obj.spec.template.spec if obj.kind in templated_kinds

pod_spec := obj.spec.jobTemplate.spec.template.spec if obj.kind == "CronJob"

container_fields := {
    "initContainers": "init container",
    "containers": "container",
}

# Containers and init containers of the pod spec, each with the words that name it in messages.
containers := [{"container": c, "what": what} |
    some field, what in container_fields
    some c in pod_spec[field]
]

# Containers, init containers and ephemeral (debug) containers.
all_containers := array.concat(containers, [{"container": c, "what": "ephemeral container"} |
    some c in pod_spec.ephemeralContainers
])
