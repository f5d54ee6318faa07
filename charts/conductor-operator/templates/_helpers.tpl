{{/* The chart's name, overridable. */}}
{{- define "conductor-operator.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/* The release's full name: names the Deployment, the ServiceAccount and the (Cluster)Roles. */}}
{{- define "conductor-operator.fullname" -}}
{{- if .Values.fullnameOverride -}}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- $name := default .Chart.Name .Values.nameOverride -}}
{{- if contains $name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{- define "conductor-operator.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" }}
{{ include "conductor-operator.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: conductor-operator
{{- end -}}

{{- define "conductor-operator.selectorLabels" -}}
app.kubernetes.io/name: {{ include "conductor-operator.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{- define "conductor-operator.serviceAccountName" -}}
{{- if .Values.serviceAccount.create -}}
{{- default (include "conductor-operator.fullname" .) .Values.serviceAccount.name -}}
{{- else -}}
{{- default "default" .Values.serviceAccount.name -}}
{{- end -}}
{{- end -}}

{{/* "true" when the operator watches every namespace (an empty string otherwise, for `if`). */}}
{{- define "conductor-operator.clusterwide" -}}
{{- if empty .Values.watchNamespaces -}}true{{- end -}}
{{- end -}}

{{/* The kopf peering object's name (empty when peering is off: the operator runs standalone). */}}
{{- define "conductor-operator.peeringName" -}}
{{- if .Values.peering.enabled -}}
{{- default (include "conductor-operator.fullname" .) .Values.peering.name -}}
{{- end -}}
{{- end -}}

{{/*
What the operator does in the namespaces it watches (a ClusterRole when it watches all of them,
a Role in each one otherwise), and nothing more: each rule says which code needs it.
Argument: dict "peeringResource" "clusterkopfpeerings"|"kopfpeerings"|"".
*/}}
{{- define "conductor-operator.namespacedRules" -}}
# Its own resources: kopf lists and watches them and merge-patches their finalizers and annotations; the
# operator reads a ConductorCluster, a WorkflowDefinition or the MigrationPlans by get or list.
- apiGroups: [conductor-operator.io]
  resources: [conductorclusters, workflowdefinitions, taskdefinitions, migrationplans]
  verbs: [get, list, watch, patch]
# kopf writes status through the status subresource, by merge patch only.
- apiGroups: [conductor-operator.io]
  resources: [conductorclusters/status, workflowdefinitions/status, taskdefinitions/status, migrationplans/status]
  verbs: [patch]
# Orkes keys: the Secret a ConductorCluster names, read by name. No list or watch: no other Secret is visible.
- apiGroups: [""]
  resources: [secrets]
  verbs: [get]
# A WorkflowDefinition's definitionFrom ConfigMap is read by name; each MigrationPlan's ledger is a ConfigMap
# it creates (owned by the plan) and patches.
- apiGroups: [""]
  resources: [configmaps]
  verbs: [get, create, patch]
# kopf posts Events (core v1) about the objects it handles.
- apiGroups: [""]
  resources: [events]
  verbs: [create]
{{- with .peeringResource }}
# Leader election between replicas: kopf watches the peering object and patches its keep-alive into it.
- apiGroups: [kopf.dev]
  resources: [{{ . }}]
  verbs: [list, watch, patch]
{{- end }}
{{- end -}}
