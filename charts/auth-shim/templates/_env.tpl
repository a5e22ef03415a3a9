{{/*
The webhook's environment: one AUTH_SHIM_* variable per value (src/injector/config.ts,
INJECTOR_OPTIONS and WEBHOOK_OPTIONS). Optional values that are empty are left out so the
webhook's own default (or "none") applies. test/chart/env.test.ts feeds the rendered list to
the webhook's real configuration loader.
*/}}
{{- define "auth-shim.webhookEnv" -}}
{{- $s := .Values.sidecar -}}
- name: AUTH_SHIM_NAMESPACE
  valueFrom:
    fieldRef:
      fieldPath: metadata.namespace
- name: AUTH_SHIM_LOG_LEVEL
  value: {{ .Values.logLevel | quote }}
- name: AUTH_SHIM_WEBHOOK_LISTEN
  value: {{ printf "0.0.0.0:%v" .Values.webhook.port | quote }}
- name: AUTH_SHIM_ADMIN_LISTEN
  value: {{ printf "0.0.0.0:%v" .Values.webhook.adminPort | quote }}
- name: AUTH_SHIM_WEBHOOK_REQUEST_TIMEOUT_MS
  value: {{ .Values.webhook.requestTimeoutMs | int64 | quote }}
- name: AUTH_SHIM_WEBHOOK_MAX_BODY_BYTES
  value: {{ .Values.webhook.maxBodyBytes | int64 | quote }}
- name: AUTH_SHIM_DRAIN_TIMEOUT_MS
  value: {{ .Values.webhook.drainTimeoutMs | int64 | quote }}
{{- if eq .Values.certificates.mode "auto" }}
- name: AUTH_SHIM_WEBHOOK_TLS_MODE
  value: auto
- name: AUTH_SHIM_WEBHOOK_TLS_SECRET
  value: {{ include "auth-shim.tlsSecretName" . | quote }}
- name: AUTH_SHIM_WEBHOOK_CONFIGURATION
  value: {{ include "auth-shim.fullname" . | quote }}
- name: AUTH_SHIM_WEBHOOK_SERVICE
  value: {{ include "auth-shim.serviceName" . | quote }}
- name: AUTH_SHIM_WEBHOOK_CERT_CHECK_INTERVAL_MS
  value: {{ .Values.certificates.auto.checkIntervalMs | int64 | quote }}
{{- else }}
- name: AUTH_SHIM_WEBHOOK_TLS_MODE
  value: files
- name: AUTH_SHIM_WEBHOOK_TLS_CERT_FILE
  value: /etc/auth-shim/tls/tls.crt
- name: AUTH_SHIM_WEBHOOK_TLS_KEY_FILE
  value: /etc/auth-shim/tls/tls.key
- name: AUTH_SHIM_WEBHOOK_TLS_RELOAD_INTERVAL_MS
  value: {{ .Values.certificates.reloadIntervalMs | int64 | quote }}
{{- end }}
- name: AUTH_SHIM_SIDECAR_IMAGE
  value: {{ include "auth-shim.sidecarImage" . | quote }}
- name: AUTH_SHIM_SIDECAR_IMAGE_PULL_POLICY
  value: {{ $s.pullPolicy | quote }}
{{- with $s.upstreamUrl }}
- name: AUTH_SHIM_DEFAULT_UPSTREAM_URL
  value: {{ . | quote }}
{{- end }}
- name: AUTH_SHIM_DEFAULT_CREDENTIAL_SOURCE
  value: {{ $s.credentialSource | quote }}
- name: AUTH_SHIM_DEFAULT_NATIVE_SIDECAR
  value: {{ $s.nativeSidecar | quote }}
- name: AUTH_SHIM_SIDECAR_PORT
  value: {{ $s.port | int64 | quote }}
- name: AUTH_SHIM_SIDECAR_ADMIN_PORT
  value: {{ $s.adminPort | int64 | quote }}
- name: AUTH_SHIM_SIDECAR_LOG_LEVEL
  value: {{ $s.logLevel | quote }}
- name: AUTH_SHIM_SIDECAR_CPU_REQUEST
  value: {{ $s.resources.requests.cpu | quote }}
{{- with $s.resources.limits.cpu }}
- name: AUTH_SHIM_SIDECAR_CPU_LIMIT
  value: {{ . | quote }}
{{- end }}
- name: AUTH_SHIM_SIDECAR_MEMORY_REQUEST
  value: {{ $s.resources.requests.memory | quote }}
- name: AUTH_SHIM_SIDECAR_MEMORY_LIMIT
  value: {{ $s.resources.limits.memory | quote }}
{{- with $s.secrets.oauthToken.name }}
- name: AUTH_SHIM_OAUTH_TOKEN_SECRET
  value: {{ . | quote }}
{{- end }}
- name: AUTH_SHIM_OAUTH_TOKEN_SECRET_KEY
  value: {{ $s.secrets.oauthToken.key | quote }}
{{- with $s.secrets.apiKey.name }}
- name: AUTH_SHIM_API_KEY_SECRET
  value: {{ . | quote }}
{{- end }}
- name: AUTH_SHIM_API_KEY_SECRET_KEY
  value: {{ $s.secrets.apiKey.key | quote }}
{{- with $s.secrets.litellmKey.name }}
- name: AUTH_SHIM_LITELLM_KEY_SECRET
  value: {{ . | quote }}
{{- end }}
- name: AUTH_SHIM_LITELLM_KEY_SECRET_KEY
  value: {{ $s.secrets.litellmKey.key | quote }}
{{- $f := $s.federation }}
{{- with $f.ruleId }}
- name: AUTH_SHIM_DEFAULT_FEDERATION_RULE_ID
  value: {{ . | quote }}
{{- end }}
{{- with $f.organizationId }}
- name: AUTH_SHIM_DEFAULT_ORGANIZATION_ID
  value: {{ . | quote }}
{{- end }}
{{- with $f.serviceAccountId }}
- name: AUTH_SHIM_DEFAULT_SERVICE_ACCOUNT_ID
  value: {{ . | quote }}
{{- end }}
{{- with $f.workspaceId }}
- name: AUTH_SHIM_DEFAULT_WORKSPACE_ID
  value: {{ . | quote }}
{{- end }}
{{- with $f.tokenUrl }}
- name: AUTH_SHIM_DEFAULT_TOKEN_URL
  value: {{ . | quote }}
{{- end }}
- name: AUTH_SHIM_DEFAULT_IDENTITY_TOKEN_AUDIENCE
  value: {{ $f.audience | quote }}
- name: AUTH_SHIM_DEFAULT_IDENTITY_TOKEN_EXPIRATION_SECONDS
  value: {{ $f.expirationSeconds | int64 | quote }}
{{- end }}
