{% include "opa/_common.rego" %}

# Every workload carries the labels in `parameters.labels`, non-empty. The pod template (and a
# CronJob's job template) must carry them too: the pods and jobs a controller creates from them are
# checked by the same policy, and would otherwise be refused long after the workload was accepted.
violation contains {"msg": msg} if {
    some carrier in label_carriers
    some label in params.labels
    object.get(carrier.labels, label, "") == ""
    msg := sprintf("%s: %s is missing the required label %q", [subject, carrier.where, label])
}

label_carriers contains {"where": "the object", "labels": labels} if {
    labels := object.get(obj, ["metadata", "labels"], {})
}

label_carriers contains {"where": "the pod template", "labels": labels} if {
    obj.kind in templated_kinds
    labels := object.get(obj, ["spec", "template", "metadata", "labels"], {})
}

label_carriers contains {"where": "the job template", "labels": labels} if {
    obj.kind == "CronJob"
    labels := object.get(obj, ["spec", "jobTemplate", "metadata", "labels"], {})
}

label_carriers contains {"where": "the job template's pod template", "labels": labels} if {
    obj.kind == "CronJob"
    labels := object.get(obj, ["spec", "jobTemplate", "spec", "template", "metadata", "labels"], {})
}
