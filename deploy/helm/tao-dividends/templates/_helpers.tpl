{{/* Names, labels and the pieces every pod shares. */}}

{{- define "taodiv.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/* The release's full name: the prefix of every object, and the Secret's default name. */}}
{{- define "taodiv.fullname" -}}
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

{{/* The name of one component's objects: (dict "root" $ "component" "gateway"). */}}
{{- define "taodiv.componentName" -}}
{{- printf "%s-%s" (include "taodiv.fullname" .root) .component | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "taodiv.secretName" -}}
{{- default (include "taodiv.fullname" .) .Values.secrets.name -}}
{{- end -}}

{{- define "taodiv.selectorLabels" -}}
app.kubernetes.io/name: {{ include "taodiv.name" .root }}
app.kubernetes.io/instance: {{ .root.Release.Name }}
app.kubernetes.io/component: {{ .component }}
{{- end -}}

{{- define "taodiv.labels" -}}
{{ include "taodiv.selectorLabels" . }}
app.kubernetes.io/part-of: {{ include "taodiv.name" .root }}
app.kubernetes.io/version: {{ .root.Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .root.Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .root.Chart.Name .root.Chart.Version | replace "+" "_" }}
{{- end -}}

{{/* Labels shared by every object of the release, whatever its component. */}}
{{- define "taodiv.releaseSelector" -}}
app.kubernetes.io/name: {{ include "taodiv.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{- define "taodiv.image" -}}
{{- printf "%s:%s" .image.repository (default .root.Chart.AppVersion .image.tag) -}}
{{- end -}}

{{/*
The stream each consumer reads and the group it reads in, as the names of their settings: the
chart's copy of shared/streams/topology.py, which tests/deploy checks against it.
*/}}
{{- define "taodiv.topology" -}}
tweet-fetcher: {stream: STREAM_TRADE_REQUESTED, group: GROUP_TWEET_FETCHER}
sentiment-scorer: {stream: STREAM_TWEETS_FETCHED, group: GROUP_SENTIMENT_SCORER}
stake-executor: {stream: STREAM_SENTIMENT_SCORED, group: GROUP_STAKE_EXECUTOR}
{{- end -}}

{{/* STREAM_PARTITIONS, 1 when unset. */}}
{{- define "taodiv.partitions" -}}
{{- int (default "1" (index .Values.config "STREAM_PARTITIONS")) -}}
{{- end -}}

{{/*
The name of one partition of a stream: (dict "stream" "trade.requested" "partition" 0 "count" 4).
One partition keeps the stream's own name. Several: the partition's hash tag is part of the
name, so a partition's streams share one Redis Cluster slot; this must match the names
shared/streams/topology.py gives partitions (STREAM_PARTITIONS, issue 17).
*/}}
{{- define "taodiv.partitionStream" -}}
{{- if eq (int .count) 1 -}}
{{- .stream -}}
{{- else -}}
{{- printf "%s:{p%d}" .stream (int .partition) -}}
{{- end -}}
{{- end -}}

{{- define "taodiv.redisCluster" -}}
{{- eq (lower (toString (default "false" (index .Values.config "REDIS_CLUSTER")))) "true" -}}
{{- end -}}

{{/* Environment from the Secret: (dict "root" $ "keys" (dict "API_TOKENS" "required")). */}}
{{- define "taodiv.secretEnv" -}}
{{- range $key, $need := .keys }}
- name: {{ $key }}
  valueFrom:
    secretKeyRef:
      name: {{ include "taodiv.secretName" $.root }}
      key: {{ $key }}
      optional: {{ eq $need "optional" }}
{{- end }}
{{- end -}}

{{/* Pod-level settings every pod shares. */}}
{{- define "taodiv.podCommon" -}}
automountServiceAccountToken: false
enableServiceLinks: false
securityContext:
  {{- toYaml .Values.podSecurityContext | nindent 2 }}
{{- with .Values.imagePullSecrets }}
imagePullSecrets:
  {{- toYaml . | nindent 2 }}
{{- end }}
volumes:
  - name: tmp
    emptyDir: {sizeLimit: {{ .Values.tmpSizeLimit }}}
  - name: sdk-cache
    emptyDir: {sizeLimit: {{ .Values.sdkCacheSizeLimit }}}
{{- end -}}

{{/* Container-level settings every container shares. */}}
{{- define "taodiv.containerCommon" -}}
securityContext:
  {{- toYaml .Values.securityContext | nindent 2 }}
envFrom:
  - configMapRef:
      name: {{ include "taodiv.fullname" . }}
volumeMounts:
  - name: tmp
    mountPath: /tmp
  # The bittensor SDK keeps its caches (runtime metadata, token symbols) in ~/.bittensor.
  - name: sdk-cache
    mountPath: /home/app/.bittensor
{{- end -}}

{{/* Rolls the pods when the settings change. */}}
{{- define "taodiv.configChecksum" -}}
checksum/config: {{ include (print .Template.BasePath "/configmap.yaml") . | sha256sum }}
{{- end -}}

{{/* Egress of every pod: DNS to any resolver, then the configured destinations. */}}
{{- define "taodiv.egress" -}}
- ports:
    - {port: 53, protocol: UDP}
    - {port: 53, protocol: TCP}
{{- with .Values.networkPolicy.egress }}
{{ toYaml . }}
{{- end }}
{{- end -}}
