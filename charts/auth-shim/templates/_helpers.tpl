{{/* Chart name, overridable. */}}
{{- define "auth-shim.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* `<release>-<chart>`, or the release name when it already contains the chart name. */}}
{{- define "auth-shim.fullname" -}}
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

{{/* The webhook Service; the certificate names `<service>.<namespace>.svc`. 54 = 63 - len("-webhook"). */}}
{{- define "auth-shim.serviceName" -}}
{{- printf "%s-webhook" (include "auth-shim.fullname" . | trunc 54 | trimSuffix "-") }}
{{- end }}

{{/* The Secret holding the serving certificate (written by the webhook, cert-manager, or the user). */}}
{{- define "auth-shim.tlsSecretName" -}}
{{- if eq .Values.certificates.mode "provided" }}
{{- .Values.certificates.provided.secretName }}
{{- else }}
{{- printf "%s-webhook-tls" (include "auth-shim.fullname" . | trunc 50 | trimSuffix "-") }}
{{- end }}
{{- end }}

{{- define "auth-shim.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "auth-shim.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{/* Labels on every object. */}}
{{- define "auth-shim.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{ include "auth-shim.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: auth-shim
{{- with .Values.commonLabels }}
{{ toYaml . }}
{{- end }}
{{- end }}

{{/* Selects the webhook pods; never changes between upgrades (selectors are immutable). */}}
{{- define "auth-shim.selectorLabels" -}}
app.kubernetes.io/name: {{ include "auth-shim.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{/* `repo@digest` or `repo:tag`. Argument: dict with repository, tag, digest. */}}
{{- define "auth-shim.imageRef" -}}
{{- if .digest }}
{{- printf "%s@%s" .repository .digest }}
{{- else }}
{{- printf "%s:%s" .repository .tag }}
{{- end }}
{{- end }}

{{- define "auth-shim.image" -}}
{{- include "auth-shim.imageRef" (dict "repository" .Values.image.repository "tag" (default .Chart.AppVersion .Values.image.tag) "digest" .Values.image.digest) }}
{{- end }}

{{/* The sidecar falls back to the webhook's image: one image for every subcommand. */}}
{{- define "auth-shim.sidecarImage" -}}
{{- $s := .Values.sidecar.image }}
{{- $repository := default .Values.image.repository $s.repository }}
{{- $tag := default (default .Chart.AppVersion .Values.image.tag) $s.tag }}
{{- $digest := ternary $s.digest (ternary .Values.image.digest "" (empty $s.repository)) (not (empty $s.digest)) }}
{{- include "auth-shim.imageRef" (dict "repository" $repository "tag" $tag "digest" $digest) }}
{{- end }}

{{/* Namespaces never injected: the release namespace always, plus `webhook.excludeNamespaces`. */}}
{{- define "auth-shim.excludedNamespaces" -}}
{{- /* The system namespaces too: the webhook never injects them (src/injector/mutate.ts), so the API server need not call it. */}}
{{- toJson (uniq (concat (list .Release.Namespace "kube-system" "kube-public" "kube-node-lease") .Values.webhook.excludeNamespaces)) }}
{{- end }}

{{/* The restricted-profile container securityContext, identical to the injected sidecar's (src/injector/sidecar.ts). */}}
{{- define "auth-shim.containerSecurityContext" -}}
runAsNonRoot: true
runAsUser: 65532
runAsGroup: 65532
readOnlyRootFilesystem: true
allowPrivilegeEscalation: false
capabilities:
  drop: [ALL]
seccompProfile:
  type: RuntimeDefault
{{- end }}

{{- define "auth-shim.podSecurityContext" -}}
runAsNonRoot: true
runAsUser: 65532
runAsGroup: 65532
fsGroup: 65532
seccompProfile:
  type: RuntimeDefault
{{- end }}
