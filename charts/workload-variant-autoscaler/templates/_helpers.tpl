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
