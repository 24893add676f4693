{{/*
Helpers of the workload-variant-autoscaler chart.
*/}}

{{/* Chart name. */}}
{{- define "wva.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* Full name: the release name when it contains the chart name, else <release>-<chart>. */}}
{{- define "wva.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- $name := default .Chart.Name .Values.nameOverride }}
{{- if contains $name .Release.Name }}
{{- .Release.Name | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" }}
{{- end }}
{{- end }}
{{- end }}

{{/* Prefix of cluster-scoped names: includes the release namespace so installs coexist. */}}
{{- define "wva.clusterName" -}}
{{- printf "%s-%s" (include "wva.fullname" .) .Release.Namespace }}
{{- end }}

{{/* Whether the controller part is rendered. */}}
{{- define "wva.controllerEnabled" -}}
{{- if and .Values.controller.enabled .Values.wva.enabled }}true{{ end }}
{{- end }}

{{/* Name of the main controller ConfigMap (passed to the controller as CONFIG_MAP_NAME). */}}
{{- define "wva.configMapName" -}}
{{- printf "%s-variantautoscaling-config" (include "wva.fullname" .) }}
{{- end }}

{{/* Controller ServiceAccount name. */}}
{{- define "wva.serviceAccountName" -}}
{{- printf "%s-controller-manager" (include "wva.fullname" .) }}
{{- end }}

{{/* The Deployment the VA and HPA target. */}}
{{- define "wva.targetName" -}}
{{- default (printf "%s-decode" .Values.llmd.modelName) .Values.llmd.deploymentName }}
{{- end }}

{{/* The scaleTargetRef of the VA and the HPA: `va.targetKind` named `wva.targetName`. */}}
{{- define "wva.scaleTargetRef" -}}
apiVersion: {{ ternary "leaderworkerset.x-k8s.io/v1" "apps/v1" (eq .Values.va.targetKind "LeaderWorkerSet") }}
kind: {{ .Values.va.targetKind }}
name: {{ include "wva.targetName" . }}
{{- end }}

{{/* Common labels. */}}
{{- define "wva.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
app.kubernetes.io/name: {{ include "wva.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end }}

{{/* Labels of the controller pods (and the selector of its Deployment and metrics Service). */}}
{{- define "wva.selectorLabels" -}}
app.kubernetes.io/name: {{ include "wva.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
control-plane: controller-manager
{{- end }}

{{/* The controller-instance label, when multi-controller isolation is on. */}}
{{- define "wva.instanceLabel" -}}
{{- if .Values.wva.controllerInstance -}}
wva.llmd.ai/controller-instance: {{ .Values.wva.controllerInstance | quote }}
{{- end -}}
{{- end }}

{{/* -v verbosity for wva.logging.level. */}}
{{- define "wva.verbosity" -}}
{{- $levels := dict "warn" 0 "info" 2 "debug" 4 "trace" 5 }}
{{- if not (hasKey $levels .Values.wva.logging.level) }}
{{- fail (printf "wva.logging.level must be one of warn, info, debug, trace; got %q" .Values.wva.logging.level) }}
{{- end }}
{{- get $levels .Values.wva.logging.level }}
{{- end }}

{{/* Labels of every ServiceMonitor. */}}
{{- define "wva.serviceMonitorLabels" -}}
{{- with .Values.wva.prometheus.serviceMonitorLabels -}}
{{ toYaml . }}
{{- end -}}
{{- end }}

{{/* The controller image: the tag defaults to the chart's appVersion. */}}
{{- define "wva.image" -}}
{{- printf "%s:%s" .Values.wva.image.repository (default .Chart.AppVersion .Values.wva.image.tag) }}
{{- end }}

{{/* Namespace of the model's objects (VA, HPA, vLLM Service): llmd.namespace, else the release namespace. */}}
{{- define "wva.modelNamespace" -}}
{{- default .Release.Namespace .Values.llmd.namespace }}
{{- end }}

{{/*
Whether the values name a model: per-model objects (VA, HPA, vLLM Service) are rendered only
then. A model needs its ID, which vLLM reports as the model_name label.
*/}}
{{- define "wva.modelNamed" -}}
{{- if .Values.llmd.modelName }}
{{- if not .Values.llmd.modelID }}
{{- fail (printf "llmd.modelName is %q but llmd.modelID is empty: set llmd.modelID to the model name vLLM serves (the model_name label of its metrics, e.g. --set llmd.modelID=meta-llama/Llama-3.1-8B)" .Values.llmd.modelName) }}
{{- end }}true
{{- end }}
{{- end }}

{{/*
Whether to render a ServiceMonitor: the switch (a bool, or null for "when the cluster serves
monitoring.coreos.com/v1 ServiceMonitor"). Call with (list $switch $).
*/}}
{{- define "wva.serviceMonitorOn" -}}
{{- $switch := index . 0 }}
{{- $root := index . 1 }}
{{- if kindIs "invalid" $switch }}
{{- if $root.Capabilities.APIVersions.Has "monitoring.coreos.com/v1/ServiceMonitor" }}true{{ end }}
{{- else if $switch }}true
{{- end }}
{{- end }}

{{/* Refuses values the controller would reject at startup, naming the value and the fix. */}}
{{- define "wva.checkPrometheus" -}}
{{- $p := .Values.wva.prometheus }}
{{- if not $p.baseURL }}
{{- fail "wva.prometheus.baseURL is required: the URL of the Prometheus (or Thanos querier) that scrapes vLLM and the controller, e.g. --set wva.prometheus.baseURL=https://prometheus.monitoring.svc:9090 (for a plain http:// URL add --set wva.prometheus.allowHTTP=true; on OpenShift use -f values-openshift.yaml)" }}
{{- end }}
{{- if and (hasPrefix "http://" $p.baseURL) (not $p.allowHTTP) }}
{{- fail (printf "wva.prometheus.baseURL is %q, a plain http:// URL: use https://, or accept plain HTTP with --set wva.prometheus.allowHTTP=true" $p.baseURL) }}
{{- end }}
{{- end }}

{{/*
Fails the render when a saturation entry breaks a rule the values schema cannot state: each
spare trigger below its threshold, and not both triggers 0. Checked on `default` and on each
override merged field by field over it, with the wording `wva config` and the controller use
for the same entry (tests/chart_schema.rs keeps the two in step).
*/}}
{{- define "wva.checkSaturation" -}}
{{- $d := .Values.wva.capacityScaling.default }}
{{- $entries := list (list "wva.capacityScaling.default" $d "") }}
{{- range $name, $o := .Values.wva.capacityScaling.overrides }}
{{- $merged := dict }}
{{- range $k := list "kvCacheThreshold" "queueLengthThreshold" "kvSpareTrigger" "queueSpareTrigger" }}
{{- $v := index $o $k }}
{{- if kindIs "invalid" $v }}{{- $v = index $d $k }}{{- end }}
{{- $_ := set $merged $k $v }}
{{- end }}
{{- $entries = append $entries (list (printf "wva.capacityScaling.overrides.%s" $name) $merged " (merged over wva.capacityScaling.default)") }}
{{- end }}
{{- range $entry := $entries }}
{{- $where := index $entry 0 }}{{- $e := index $entry 1 }}{{- $merged := index $entry 2 }}
{{- if not (lt (float64 $e.kvSpareTrigger) (float64 $e.kvCacheThreshold)) }}
{{- fail (printf "%s: kvSpareTrigger is %v, expected 0 <= kvSpareTrigger < kvCacheThreshold (%v)%s" $where $e.kvSpareTrigger $e.kvCacheThreshold $merged) }}
{{- end }}
{{- if not (lt (float64 $e.queueSpareTrigger) (float64 $e.queueLengthThreshold)) }}
{{- fail (printf "%s: queueSpareTrigger is %v, expected 0 <= queueSpareTrigger < queueLengthThreshold (%v)%s" $where $e.queueSpareTrigger $e.queueLengthThreshold $merged) }}
{{- end }}
{{- if and (eq (float64 $e.kvSpareTrigger) 0.0) (eq (float64 $e.queueSpareTrigger) 0.0) }}
{{- fail (printf "%s: kvSpareTrigger and queueSpareTrigger are both 0, expected at least one above 0 (otherwise the model never scales up)%s" $where $merged) }}
{{- end }}
{{- end }}
{{- end }}

{{/* A controller parameter of wva.parameters as the controller reads a choice word: trimmed,
in lower case ("" when unset). */}}
{{- define "wva.parameterWord" -}}
{{- $value := get .root.Values.wva.parameters .key }}
{{- if not (kindIs "invalid" $value) }}{{ toString $value | trim | lower }}{{ end }}
{{- end }}

{{/* Whether scale-from-zero patches the targets' scale subresource
(SCALE_FROM_ZERO_ACTUATION=scale). */}}
{{- define "wva.scaleFromZeroPatchesScale" -}}
{{- if eq (include "wva.parameterWord" (dict "root" . "key" "SCALE_FROM_ZERO_ACTUATION")) "scale" }}true{{ end }}
{{- end }}

{{/* Whether scale-from-zero scrapes the endpoint pickers directly (SCALE_FROM_ZERO_SOURCE=epp). */}}
{{- define "wva.scaleFromZeroScrapesEpp" -}}
{{- if eq (include "wva.parameterWord" (dict "root" . "key" "SCALE_FROM_ZERO_SOURCE")) "epp" }}true{{ end }}
{{- end }}

{{/* Whether the controller discovers variants from annotated HPAs and ScaledObjects
(WVA_DISCOVERY=annotations or both). */}}
{{- define "wva.discoversAnnotations" -}}
{{- if has (include "wva.parameterWord" (dict "root" . "key" "WVA_DISCOVERY")) (list "annotations" "both") }}true{{ end }}
{{- end }}
