{{/* Names, labels and the one pod template every scimsync part shares. */}}

{{- define "scimsync.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "scimsync.fullname" -}}
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

{{/* <fullname>-<component>, within 63 characters. Call with (list $ "component"). */}}
{{- define "scimsync.componentName" -}}
{{- $root := index . 0 -}}
{{- printf "%s-%s" (include "scimsync.fullname" $root | trunc (int (sub 62 (len (index . 1))))) (index . 1) | trimSuffix "-" -}}
{{- end -}}

{{- define "scimsync.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "scimsync.selectorLabels" -}}
app.kubernetes.io/name: {{ include "scimsync.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{/* Labels on every object. Call with (list $ "component"). */}}
{{- define "scimsync.labels" -}}
{{- $root := index . 0 -}}
helm.sh/chart: {{ include "scimsync.chart" $root }}
{{ include "scimsync.selectorLabels" $root }}
app.kubernetes.io/component: {{ index . 1 }}
app.kubernetes.io/part-of: scimsync
app.kubernetes.io/version: {{ $root.Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ $root.Release.Service }}
{{- with $root.Values.commonLabels }}
{{ toYaml . }}
{{- end }}
{{- end -}}

{{/* Selector of one part's pods. Call with (list $ "component"). */}}
{{- define "scimsync.componentSelector" -}}
{{ include "scimsync.selectorLabels" (index . 0) }}
app.kubernetes.io/component: {{ index . 1 }}
{{- end -}}

{{- define "scimsync.image" -}}
{{- $tag := default .Chart.AppVersion .Values.image.tag -}}
{{- if .Values.image.digest -}}
{{- printf "%s@%s" .Values.image.repository .Values.image.digest -}}
{{- else -}}
{{- printf "%s:%s" .Values.image.repository $tag -}}
{{- end -}}
{{- end -}}

{{- define "scimsync.cnpgClusterName" -}}
{{- default (include "scimsync.componentName" (list . "db")) .Values.postgresql.cloudnativepg.name -}}
{{- end -}}

{{/* DATABASE_URL from the existing Secret, or from the Secret CloudNativePG creates. */}}
{{- define "scimsync.databaseEnv" -}}
- name: DATABASE_URL
  valueFrom:
    secretKeyRef:
{{- if .Values.postgresql.cloudnativepg.enabled }}
      name: {{ include "scimsync.cnpgClusterName" . }}-app
      key: uri
{{- else }}
      name: {{ required "database.existingSecret.name is required" .Values.database.existingSecret.name }}
      key: {{ required "database.existingSecret.key is required" .Values.database.existingSecret.key }}
{{- end }}
{{- end -}}

{{/* Environment every scimsync container gets. */}}
{{- define "scimsync.commonEnv" -}}
{{ include "scimsync.databaseEnv" . }}
- name: DATABASE_POOL_SIZE
  value: {{ .Values.database.poolSize | quote }}
- name: LOG_LEVEL
  value: {{ .Values.logLevel | quote }}
- name: PORT
  value: "8080"
# Migrations run in the Helm hook Job, never at pod start.
- name: MIGRATE_ON_START
  value: "false"
{{- with .Values.publicUrl }}
- name: PUBLIC_URL
  value: {{ . | quote }}
{{- end }}
{{- end -}}

{{- define "scimsync.defaultSpread" -}}
{{- $root := index . 0 -}}
- maxSkew: 1
  topologyKey: kubernetes.io/hostname
  whenUnsatisfiable: ScheduleAnyway
  labelSelector:
    matchLabels:
      {{- include "scimsync.componentSelector" . | nindent 6 }}
  matchLabelKeys: [pod-template-hash]
- maxSkew: 1
  topologyKey: topology.kubernetes.io/zone
  whenUnsatisfiable: ScheduleAnyway
  labelSelector:
    matchLabels:
      {{- include "scimsync.componentSelector" . | nindent 6 }}
  matchLabelKeys: [pod-template-hash]
{{- end -}}

{{/*
The pod template of one long-running part. Call with a dict:
  root: $, component: "ingress", values: .Values.ingress, args: [...],
  serviceAccount: name, env: extra EnvVar list (optional), volumes/volumeMounts (optional lists)
*/}}
{{- define "scimsync.podTemplate" -}}
{{- $root := .root -}}
{{- $v := .values -}}
metadata:
  labels:
    {{- include "scimsync.labels" (list $root .component) | nindent 4 }}
    {{- with $v.podLabels }}
    {{- toYaml . | nindent 4 }}
    {{- end }}
  annotations:
    # Restart the pods when the organizations they read change.
    checksum/organizations: {{ toJson $root.Values.organizations | sha256sum }}
    {{- with $v.podAnnotations }}
    {{- toYaml . | nindent 4 }}
    {{- end }}
spec:
  serviceAccountName: {{ .serviceAccount }}
  automountServiceAccountToken: {{ .automountToken | default false }}
  {{- with $root.Values.imagePullSecrets }}
  imagePullSecrets:
    {{- toYaml . | nindent 4 }}
  {{- end }}
  securityContext:
    {{- toYaml $root.Values.podSecurityContext | nindent 4 }}
  terminationGracePeriodSeconds: 30
  containers:
    - name: scimsync
      image: {{ include "scimsync.image" $root }}
      imagePullPolicy: {{ $root.Values.image.pullPolicy }}
      args:
        {{- toYaml .args | nindent 8 }}
      ports:
        - name: http
          containerPort: 8080
          protocol: TCP
      env:
        {{- include "scimsync.commonEnv" $root | nindent 8 }}
        {{- with .env }}
        {{- toYaml . | nindent 8 }}
        {{- end }}
        {{- with $root.Values.extraEnv }}
        {{- toYaml . | nindent 8 }}
        {{- end }}
      # Processes wait for pending migrations before they listen (MIGRATE_ON_START=false).
      startupProbe:
        httpGet:
          path: /healthz
          port: http
        {{- toYaml $root.Values.probes.startup | nindent 8 }}
      livenessProbe:
        httpGet:
          path: /healthz
          port: http
        {{- toYaml $root.Values.probes.liveness | nindent 8 }}
      readinessProbe:
        httpGet:
          path: /readyz
          port: http
        {{- toYaml $root.Values.probes.readiness | nindent 8 }}
      resources:
        {{- toYaml $v.resources | nindent 8 }}
      securityContext:
        {{- toYaml $root.Values.securityContext | nindent 8 }}
      volumeMounts:
        - name: tmp
          mountPath: /tmp
        {{- with .volumeMounts }}
        {{- toYaml . | nindent 8 }}
        {{- end }}
  volumes:
    # The root filesystem is read-only; Node and libraries write temporary files here only.
    - name: tmp
      emptyDir:
        sizeLimit: 64Mi
    {{- with .volumes }}
    {{- toYaml . | nindent 4 }}
    {{- end }}
  {{- with $v.nodeSelector }}
  nodeSelector:
    {{- toYaml . | nindent 4 }}
  {{- end }}
  {{- with $v.tolerations }}
  tolerations:
    {{- toYaml . | nindent 4 }}
  {{- end }}
  {{- with $v.affinity }}
  affinity:
    {{- toYaml . | nindent 4 }}
  {{- end }}
  topologySpreadConstraints:
    {{- if $v.topologySpreadConstraints }}
    {{- toYaml $v.topologySpreadConstraints | nindent 4 }}
    {{- else }}
    {{- include "scimsync.defaultSpread" (list $root .component) | nindent 4 }}
    {{- end }}
{{- end -}}

{{/* Volumes and mounts for the reconciler's target credentials. Returns a YAML dict. */}}
{{- define "scimsync.targetSecretVolumes" -}}
volumes:
{{- range .Values.reconciler.targetSecrets }}
  - name: target-{{ . }}
    secret:
      secretName: {{ . }}
{{- end }}
volumeMounts:
{{- range .Values.reconciler.targetSecrets }}
  - name: target-{{ . }}
    mountPath: /var/run/secrets/scimsync/{{ . }}
    readOnly: true
{{- end }}
{{- end -}}

{{/* `scimsync start` reads organizations only from the chart's ConfigMap (empty unless
organizations are given), so it never creates the demo organization it makes without --config. */}}
{{- define "scimsync.startArgs" -}}
- start
- --config
- /etc/scimsync/organizations
{{- end -}}

{{- define "scimsync.organizationsVolume" -}}
- name: organizations
  configMap:
    name: {{ include "scimsync.componentName" (list . "organizations") }}
{{- end -}}

{{- define "scimsync.organizationsMount" -}}
- name: organizations
  mountPath: /etc/scimsync/organizations
  readOnly: true
{{- end -}}

{{/* Fails rendering on combinations the schema cannot express. */}}
{{- define "scimsync.validate" -}}
{{- if and .Values.metrics.serviceMonitor.enabled .Values.metrics.podMonitor.enabled -}}
{{- fail "metrics.serviceMonitor.enabled and metrics.podMonitor.enabled are exclusive: Prometheus would scrape every pod twice" -}}
{{- end -}}
{{- $le := .Values.operator.leaderElection -}}
{{- if or (le (int $le.leaseDurationSeconds) (int $le.renewDeadlineSeconds)) (le (mul $le.renewDeadlineSeconds 10) (mul $le.retryPeriodSeconds 12)) -}}
{{- fail "operator.leaderElection: leaseDurationSeconds must exceed renewDeadlineSeconds, which must exceed 1.2 × retryPeriodSeconds (client-go's rule)" -}}
{{- end -}}
{{- if and .Values.combined.enabled (not .Values.reconciler.enabled) -}}
{{- fail "combined.enabled runs the reconciler inside the ingress: reconciler.enabled must stay true" -}}
{{- end -}}
{{- end -}}
