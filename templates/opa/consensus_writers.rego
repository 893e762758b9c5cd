{% include "opa/_common.rego" %}

# Only the consensus writer's service account creates, changes or deletes consensus validations.
# Deletions are also allowed to the Kubernetes controllers in `parameters.deleters` (namespace
# deletion and garbage collection), which would otherwise be unable to remove them.
violation contains {"msg": msg} if {
    review.operation in {"CREATE", "UPDATE", "DELETE"}
    user := object.get(review, ["userInfo", "username"], "")
    not allowed(user)
    msg := sprintf("%s: %s by %q is not allowed; only %s may write consensus validations", [describe(target), lower(review.operation), user, concat(", ", writer_names)])
}

# A DELETE review carries the object in oldObject.
target := review.oldObject if {
    review.operation == "DELETE"
} else := obj

writer_names := [sprintf("system:serviceaccount:%s:%s", [w.namespace, w.name]) | some w in params.writers]

allowed(user) if user in writer_names

allowed(user) if {
    review.operation == "DELETE"
    user in object.get(params, "deleters", [])
}
