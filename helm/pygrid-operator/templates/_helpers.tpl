{{/*
Chart name, truncated to the 63 characters a label value allows.
*/}}
{{- define "pygrid-operator.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/*
Full name of the release's resources: fullnameOverride, else the release name when it already
contains the chart name, else <release>-<chart>.
*/}}
{{- define "pygrid-operator.fullname" -}}
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

{{/*
Chart name and version for the helm.sh/chart label.
*/}}
{{- define "pygrid-operator.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/*
Selector labels: stable across upgrades, so they never include versions.
*/}}
{{- define "pygrid-operator.selectorLabels" -}}
app.kubernetes.io/name: {{ include "pygrid-operator.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{/*
Standard labels on every object of the chart.
*/}}
{{- define "pygrid-operator.labels" -}}
helm.sh/chart: {{ include "pygrid-operator.chart" . }}
{{ include "pygrid-operator.selectorLabels" . }}
app.kubernetes.io/version: {{ .Values.image.tag | default .Chart.AppVersion | quote }}
app.kubernetes.io/component: operator
app.kubernetes.io/part-of: pygrid-operator
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end }}

{{/*
Name of the ServiceAccount the operator runs as.
*/}}
{{- define "pygrid-operator.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "pygrid-operator.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{/*
The image reference; the tag defaults to the chart's appVersion.
*/}}
{{- define "pygrid-operator.image" -}}
{{- printf "%s:%s" .Values.image.repository (.Values.image.tag | default .Chart.AppVersion) }}
{{- end }}

{{/*
Rules the reconciler needs wherever it watches PyGridClusters: the resources themselves (it
writes finalizers with update) and their status (update), the credentials Secrets they
reference, and the core/v1 Events it records about them. Exactly what its requests use:
tests/e2e/rbac_test.cpp fails on a rule no request needs and on a request no rule allows.
*/}}
{{- define "pygrid-operator.managerRules" -}}
- apiGroups: ["distributor.pygrid.dev"]
  resources: ["pygridclusters"]
  verbs: ["get", "list", "watch", "update"]
- apiGroups: ["distributor.pygrid.dev"]
  resources: ["pygridclusters/status"]
  verbs: ["update"]
- apiGroups: [""]
  resources: ["secrets"]
  verbs: ["get", "list", "watch"]
- apiGroups: [""]
  resources: ["events"]
  verbs: ["create", "patch"]
{{- end }}
