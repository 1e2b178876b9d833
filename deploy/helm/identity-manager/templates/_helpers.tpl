{{- define "idm.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "idm.fullname" -}}
{{- if .Values.fullnameOverride -}}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" -}}
{{- else if contains (include "idm.name" .) .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name (include "idm.name" .) | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}

{{- define "idm.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version }}
app.kubernetes.io/name: {{ include "idm.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end -}}

{{/* Selector of one plane: (dict "ctx" $ "component" "gateway") */}}
{{- define "idm.selectorLabels" -}}
app.kubernetes.io/name: {{ include "idm.name" .ctx }}
app.kubernetes.io/instance: {{ .ctx.Release.Name }}
app.kubernetes.io/component: {{ .component }}
{{- end -}}

{{- define "idm.componentLabels" -}}
{{ include "idm.labels" .ctx }}
app.kubernetes.io/component: {{ .component }}
{{- end -}}

{{- define "idm.image" -}}
{{ printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) | quote }}
{{- end -}}

{{- define "idm.serviceAccountName" -}}
{{- if .Values.serviceAccount.create -}}{{ default (include "idm.fullname" .) .Values.serviceAccount.name }}{{- else -}}{{ default "default" .Values.serviceAccount.name }}{{- end -}}
{{- end -}}

{{/* The Secret the chart creates for the values given inline. */}}
{{- define "idm.secretName" -}}{{ include "idm.fullname" . }}{{- end -}}

{{- define "idm.managerHost" -}}
{{ printf "%s-manager.%s.svc" (include "idm.fullname" .) .Release.Namespace }}
{{- end -}}

{{/* env entry from a Secret key: (dict "name" ENV "secret" NAME "key" KEY "optional" BOOL) */}}
{{- define "idm.secretEnv" -}}
- name: {{ .name }}
  valueFrom:
    secretKeyRef: { name: {{ .secret | quote }}, key: {{ .key | quote }}{{ if .optional }}, optional: true{{ end }} }
{{- end -}}

{{/*
env from the operator's Secret when `existing` names one, else from the chart's Secret:
(dict "ctx" $ "name" ENV "existing" NAME "existingKey" KEY "key" KEY_IN_CHART_SECRET)
*/}}
{{- define "idm.secretValueEnv" -}}
{{- $secret := .existing | default (include "idm.secretName" .ctx) -}}
{{- $key := ternary .existingKey .key (not (empty .existing)) -}}
{{ include "idm.secretEnv" (dict "name" .name "secret" $secret "key" $key) }}
{{- end -}}

{{/*
IDM_MASTER_KEYS for both planes. Without master keys the apps use a development key published in
the source, so rendering fails unless allowInsecureDevKey says this is an evaluation cluster.
*/}}
{{- define "idm.masterKeysEnv" -}}
{{- $m := .Values.masterKeys -}}
{{- if or $m.existingSecret $m.value -}}
{{ include "idm.secretValueEnv" (dict "ctx" . "name" "IDM_MASTER_KEYS" "existing" $m.existingSecret "existingKey" $m.existingSecretKey "key" "master-keys") }}
{{- else if not .Values.allowInsecureDevKey -}}
{{- fail "masterKeys.value or masterKeys.existingSecret is required (secrets at rest would be sealed with the public development key); set allowInsecureDevKey=true only for an evaluation cluster" -}}
{{- end -}}
{{- end -}}

{{/* Redis connection of both planes: REDIS_URL, REDIS_SENTINELS + REDIS_SENTINEL_MASTER or REDIS_CLUSTER_NODES, credentials, TLS. */}}
{{- define "idm.redisEnv" -}}
{{- $r := .Values.redis -}}
{{- if eq $r.mode "single" }}
- { name: REDIS_URL, value: {{ required "redis.url is required in single mode" $r.url | quote }} }
{{- else if eq $r.mode "sentinel" }}
- { name: REDIS_SENTINELS, value: {{ join "," $r.sentinel.nodes | quote }} }
- { name: REDIS_SENTINEL_MASTER, value: {{ $r.sentinel.masterName | quote }} }
{{- else }}
- { name: REDIS_CLUSTER_NODES, value: {{ join "," $r.cluster.nodes | quote }} }
{{- end }}
{{- if $r.existingSecret }}
{{ include "idm.secretEnv" (dict "name" "REDIS_USERNAME" "secret" $r.existingSecret "key" $r.usernameKey "optional" true) }}
{{ include "idm.secretEnv" (dict "name" "REDIS_PASSWORD" "secret" $r.existingSecret "key" $r.passwordKey) }}
{{- else }}
{{- if $r.username }}
{{ include "idm.secretEnv" (dict "name" "REDIS_USERNAME" "secret" (include "idm.secretName" .) "key" "redis-username") }}
{{- end }}
{{- if $r.password }}
{{ include "idm.secretEnv" (dict "name" "REDIS_PASSWORD" "secret" (include "idm.secretName" .) "key" "redis-password") }}
{{- end }}
{{- end }}
{{- if eq $r.mode "sentinel" }}
{{- if $r.existingSecret }}
{{ include "idm.secretEnv" (dict "name" "REDIS_SENTINEL_PASSWORD" "secret" $r.existingSecret "key" $r.sentinel.passwordKey "optional" true) }}
{{- else if $r.sentinel.password }}
{{ include "idm.secretEnv" (dict "name" "REDIS_SENTINEL_PASSWORD" "secret" (include "idm.secretName" .) "key" "redis-sentinel-password") }}
{{- end }}
{{- end }}
{{- with $r.tls }}
{{- if .enabled }}
- { name: REDIS_TLS, value: "true" }
{{- if and .existingSecret .caKey }}
- { name: REDIS_TLS_CA_FILE, value: {{ printf "%s/%s" (include "idm.redisTlsDir" $) .caKey | quote }} }
{{- end }}
{{- if .certKey }}
- { name: REDIS_TLS_CERT_FILE, value: {{ printf "%s/%s" (include "idm.redisTlsDir" $) .certKey | quote }} }
- { name: REDIS_TLS_KEY_FILE, value: {{ printf "%s/%s" (include "idm.redisTlsDir" $) .keyKey | quote }} }
{{- end }}
{{- with .serverName }}
- { name: REDIS_TLS_SERVERNAME, value: {{ . | quote }} }
{{- end }}
{{- end }}
{{- end }}
{{- end -}}

{{/* Where the Redis TLS Secret is mounted (read-only) in both planes. */}}
{{- define "idm.redisTlsDir" -}}/etc/idm/redis-tls{{- end -}}

{{/* The Redis TLS Secret as a volume and its mount, when TLS takes files from one. */}}
{{- define "idm.redisTlsVolumeMount" -}}
{{- if and .Values.redis.tls.enabled .Values.redis.tls.existingSecret }}
- { name: redis-tls, mountPath: {{ include "idm.redisTlsDir" . }}, readOnly: true }
{{- end }}
{{- end -}}

{{- define "idm.redisTlsVolume" -}}
{{- $t := .Values.redis.tls -}}
{{- if and $t.enabled $t.existingSecret }}
- name: redis-tls
  secret:
    secretName: {{ $t.existingSecret | quote }}
    defaultMode: 0444
    items:
      {{- range $key := compact (list $t.caKey $t.certKey $t.keyKey) }}
      - { key: {{ $key | quote }}, path: {{ $key | quote }} }
      {{- end }}
{{- end }}
{{- end -}}

{{/*
UPSTREAM_DENY of both planes: what the operator lists, plus the installation's own endpoints no
proxy may reach (the Manager's Service, PostgreSQL, every Redis node), as scripts/start.mjs does.
*/}}
{{- define "idm.upstreamDeny" -}}
{{- $r := .Values.redis -}}
{{- $deny := list (printf "%s:%v" (include "idm.managerHost" .) .Values.manager.service.port) (printf "%s:%v" .Values.postgresql.host .Values.postgresql.port) -}}
{{- if eq $r.mode "sentinel" }}{{ $deny = concat $deny $r.sentinel.nodes }}{{ end -}}
{{- if eq $r.mode "cluster" }}{{ $deny = concat $deny $r.cluster.nodes }}{{ end -}}
{{- with .Values.upstream.deny }}{{ $deny = append $deny . }}{{ end -}}
{{ join "," $deny }}
{{- end -}}

{{- define "idm.upstreamEnv" -}}
- { name: UPSTREAM_ALLOW, value: {{ .Values.upstream.allow | quote }} }
- { name: UPSTREAM_DENY, value: {{ include "idm.upstreamDeny" . | quote }} }
{{- end -}}

{{- define "idm.podSecurity" -}}
serviceAccountName: {{ include "idm.serviceAccountName" . }}
automountServiceAccountToken: false
securityContext:
  {{- toYaml .Values.podSecurityContext | nindent 2 }}
{{- with .Values.imagePullSecrets }}
imagePullSecrets:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- end -}}
