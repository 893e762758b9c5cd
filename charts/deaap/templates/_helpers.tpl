{{/*
The chart's name and version, as the helm.sh/chart label value.
*/}}
{{- define "deaap.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/*
The labels of an object: those deaap-gen compiled for it (.entry.labels), plus Helm's own
helm.sh/chart and app.kubernetes.io/managed-by. Takes (dict "root" $ "entry" ENTRY).
*/}}
{{- define "deaap.labels" -}}
{{- $helm := dict "helm.sh/chart" (include "deaap.chart" .root) "app.kubernetes.io/managed-by" .root.Release.Service -}}
{{- toYaml (merge $helm (.entry.labels | default dict)) -}}
{{- end -}}

{{/*
One object from a values entry. The entry holds the object without apiVersion, kind and metadata,
plus its labels and annotations; a workload's entry also holds its replicas and each container's
image and resources (keyed by container name), which are put back into the pod spec found at
.podPath (a list of keys under spec).
Takes (dict "root" $ "apiVersion" V "kind" K "name" N "namespace" NS "entry" E ["podPath" P]).
*/}}
{{- define "deaap.object" -}}
{{- $entry := .entry -}}
{{- $body := deepCopy (omit $entry "labels" "annotations" "replicas" "images" "resources") -}}
{{- if .podPath -}}
{{- if hasKey $entry "replicas" -}}
{{- $_ := set $body.spec "replicas" $entry.replicas -}}
{{- end -}}
{{- $pod := $body.spec -}}
{{- range .podPath -}}
{{- $pod = get $pod . -}}
{{- end -}}
{{- range $field := list "initContainers" "containers" -}}
{{- range $container := (get $pod $field | default list) -}}
{{- with get ($entry.images | default dict) $container.name -}}
{{- $_ := set $container "image" . -}}
{{- end -}}
{{- with get ($entry.resources | default dict) $container.name -}}
{{- $_ := set $container "resources" . -}}
{{- end -}}
{{- end -}}
{{- end -}}
{{- end -}}
apiVersion: {{ .apiVersion }}
kind: {{ .kind }}
metadata:
  name: {{ .name | quote }}
  {{- with .namespace }}
  namespace: {{ . | quote }}
  {{- end }}
  labels:
    {{- include "deaap.labels" (dict "root" .root "entry" $entry) | nindent 4 }}
  {{- with $entry.annotations }}
  annotations:
    {{- toYaml . | nindent 4 }}
  {{- end }}
{{- with $body }}
{{ toYaml . }}
{{- end }}
{{- end -}}

{{/*
Every object of a namespaced values section (namespace → name → entry).
Takes (dict "root" $ "items" SECTION "apiVersion" V "kind" K ["podPath" P]).
*/}}
{{- define "deaap.namespaced" -}}
{{- $args := . -}}
{{- range $namespace, $items := .items }}
{{- range $name, $entry := $items }}
---
{{ include "deaap.object" (dict "root" $args.root "apiVersion" $args.apiVersion "kind" $args.kind "name" $name "namespace" $namespace "entry" $entry "podPath" $args.podPath) }}
{{- end }}
{{- end }}
{{- end -}}

{{/*
Every object of a cluster-scoped values section (name → entry).
Takes (dict "root" $ "items" SECTION "apiVersion" V "kind" K).
*/}}
{{- define "deaap.cluster" -}}
{{- $args := . -}}
{{- range $name, $entry := .items }}
---
{{ include "deaap.object" (dict "root" $args.root "apiVersion" $args.apiVersion "kind" $args.kind "name" $name "entry" $entry) }}
{{- end }}
{{- end -}}
