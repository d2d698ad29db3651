{{/*
Named templates of the llmobs-edge chart: names and labels, the topology's ports and paths, the
checks that stop a bad combination of values, and the edge's YAML config file that configmap.yaml
and the checksum/config annotation of daemonset.yaml both use.
*/}}

{{- define "llmobs-edge.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "llmobs-edge.fullname" -}}
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

{{- define "llmobs-edge.selectorLabels" -}}
app.kubernetes.io/name: {{ include "llmobs-edge.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{- define "llmobs-edge.labels" -}}
{{ include "llmobs-edge.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" }}
{{- end -}}

{{- define "llmobs-edge.image" -}}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) -}}
{{- end -}}

{{/* The HTTP ingest TCP port: the value, else 8126 (takeover) or 8136 (dedicated). */}}
{{- define "llmobs-edge.tcpPort" -}}
{{- if .Values.ingest.tcp.port -}}
{{- .Values.ingest.tcp.port | int -}}
{{- else if eq .Values.topology "takeover" -}}
8126
{{- else -}}
8136
{{- end -}}
{{- end -}}

{{/* The Unix socket path: the value, else the Agent's (takeover) or the edge's own (dedicated). */}}
{{- define "llmobs-edge.socketPath" -}}
{{- if .Values.ingest.socket.path -}}
{{- .Values.ingest.socket.path -}}
{{- else if eq .Values.topology "takeover" -}}
/var/run/datadog/apm.socket
{{- else -}}
/var/run/datadog/llmobs-edge.socket
{{- end -}}
{{- end -}}

{{/* Where the ledger volume is mounted; ledger.path is its "ledger" subdirectory. */}}
{{- define "llmobs-edge.ledgerMount" -}}
/var/lib/llmobs-edge
{{- end -}}

{{- define "llmobs-edge.configDir" -}}
/etc/llmobs-edge
{{- end -}}

{{/* The shortest grace period that covers the drain: in-flight requests and the intake sender
share ingest.shutdown_grace_ms, then one intake request may still run for intake.timeout_ms
(the EVP exchange gives up 5 s after it). */}}
{{- define "llmobs-edge.minGraceSeconds" -}}
{{- $graceMs := dig "ingest" "shutdown_grace_ms" 10000 .Values.config | int -}}
{{- $intakeMs := dig "intake" "timeout_ms" 10000 .Values.config | int -}}
{{- add (div (add $graceMs 999) 1000) (div (add $intakeMs 999) 1000) 5 -}}
{{- end -}}

{{- define "llmobs-edge.terminationGracePeriodSeconds" -}}
{{- $min := include "llmobs-edge.minGraceSeconds" . | int -}}
{{- if .Values.terminationGracePeriodSeconds -}}
{{- $set := .Values.terminationGracePeriodSeconds | int -}}
{{- if le $set $min -}}
{{- fail (printf "terminationGracePeriodSeconds = %d: must be above %d s, the drain time (ingest.shutdown_grace_ms + intake.timeout_ms + 5 s); leave it 0 to compute it" $set $min) -}}
{{- end -}}
{{- $set -}}
{{- else -}}
{{- add $min 5 -}}
{{- end -}}
{{- end -}}

{{/* Combinations of values that would render a broken edge: each stops the rendering. */}}
{{- define "llmobs-edge.validate" -}}
{{- if not (or .Values.ingest.tcp.enabled .Values.ingest.socket.enabled) -}}
{{- fail "ingest.tcp.enabled and ingest.socket.enabled are both false: tracers could not reach the edge" -}}
{{- end -}}
{{- if eq .Values.intake.mode "agentless" -}}
{{- $_ := required "intake.mode = agentless needs intake.apiKeySecret.name: an existing Secret holding the API key (it is read as DD_API_KEY)" .Values.intake.apiKeySecret.name -}}
{{- $_ := required "intake.mode = agentless needs intake.apiKeySecret.key" .Values.intake.apiKeySecret.key -}}
{{- end -}}
{{- if eq .Values.agent.via "url" -}}
{{- $_ := required "agent.via = url needs agent.url (http://host[:port] or unix:///path)" .Values.agent.url -}}
{{- end -}}
{{- $tcpPort := include "llmobs-edge.tcpPort" . | int -}}
{{- if and (eq .Values.agent.via "hostIP") .Values.ingest.tcp.enabled .Values.ingest.tcp.hostPort (eq (.Values.agent.port | int) $tcpPort) -}}
{{- fail (printf "agent.port = %d is the edge's own ingest port: in the takeover topology move the Agent's APM port (datadog.apm.port of the Datadog chart, e.g. 8127) and set agent.port to it" $tcpPort) -}}
{{- end -}}
{{- if and (eq .Values.agent.via "socket") .Values.ingest.socket.enabled (eq .Values.agent.socketPath (include "llmobs-edge.socketPath" .)) -}}
{{- fail (printf "agent.socketPath = %s is the edge's own ingest socket: in the takeover topology move the Agent's socket (datadog.apm.socketPath and hostSocketPath of the Datadog chart) and set agent.socketPath to it" .Values.agent.socketPath) -}}
{{- end -}}
{{- range .Values.extraEnv -}}
{{- if eq .name "DD_API_KEY" -}}
{{- fail "extraEnv must not set DD_API_KEY: use intake.mode = agentless with intake.apiKeySecret" -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{/* The edge's YAML config file (keys of proto/config.proto): .Values.config plus the settings
the chart owns. agent.url is left out for agent.via = hostIP: the pod's DD_AGENT_HOST and
DD_TRACE_AGENT_PORT set it. */}}
{{- define "llmobs-edge.config" -}}
{{- $cfg := deepCopy .Values.config -}}
{{- $ingest := get $cfg "ingest" | default dict -}}
{{- $_ := set $ingest "host" "0.0.0.0" -}}
{{- $_ := set $ingest "port" (ternary (include "llmobs-edge.tcpPort" . | int) 0 .Values.ingest.tcp.enabled) -}}
{{- $_ := set $ingest "socket" (ternary (include "llmobs-edge.socketPath" .) "" .Values.ingest.socket.enabled) -}}
{{- $_ := set $ingest "grpc_address" (ternary (printf "0.0.0.0:%d" (.Values.ingest.grpc.port | int)) "" .Values.ingest.grpc.enabled) -}}
{{- $_ := set $cfg "ingest" $ingest -}}
{{- $agent := get $cfg "agent" | default dict -}}
{{- if eq .Values.agent.via "socket" -}}
{{- $_ := set $agent "url" (printf "unix://%s" .Values.agent.socketPath) -}}
{{- else if eq .Values.agent.via "url" -}}
{{- $_ := set $agent "url" .Values.agent.url -}}
{{- end -}}
{{- if $agent -}}
{{- $_ := set $cfg "agent" $agent -}}
{{- end -}}
{{- $_ := set $cfg "telemetry" (dict "host" "0.0.0.0" "port" (.Values.telemetry.port | int)) -}}
{{- $ledger := get $cfg "ledger" | default dict -}}
{{- $_ := set $ledger "path" (printf "%s/ledger" (include "llmobs-edge.ledgerMount" .)) -}}
{{- $_ := set $cfg "ledger" $ledger -}}
{{- $intake := get $cfg "intake" | default dict -}}
{{- $_ := set $intake "mode" .Values.intake.mode -}}
{{- $_ := set $cfg "intake" $intake -}}
{{- toYaml $cfg -}}
{{- end -}}
