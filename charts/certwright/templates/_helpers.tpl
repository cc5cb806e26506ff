{{/* The release's full name: "certwright" when the release is called so, else "<release>-certwright". */}}
{{- define "certwright.fullname" -}}
{{- if contains .Chart.Name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name .Chart.Name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}

{{- define "certwright.serviceAccountName" -}}
{{- default (include "certwright.fullname" .) .Values.serviceAccount.name -}}
{{- end -}}

{{- define "certwright.selectorLabels" -}}
app.kubernetes.io/name: {{ .Chart.Name }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{- define "certwright.labels" -}}
{{ include "certwright.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version }}
{{- end -}}

{{/* repository:tag, or repository@digest when a digest is given. */}}
{{- define "certwright.image" -}}
{{- if .Values.image.digest -}}
{{- printf "%s@%s" .Values.image.repository .Values.image.digest -}}
{{- else -}}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) -}}
{{- end -}}
{{- end -}}

{{/*
Rules between values, which the schema cannot state: the render fails with the values named. The
timing rule is the operator's own (LeaseSettings.validate): an old leader has stopped acting before a
standby may take the Lease.
*/}}
{{- define "certwright.validate" -}}
{{- $replicas := int .Values.replicaCount -}}
{{- $election := .Values.leaderElection -}}
{{- if and (gt $replicas 1) (not $election.enabled) -}}
{{- fail (printf "replicaCount is %d but leaderElection.enabled is false: operators without leader election would all act on every Certificate; set leaderElection.enabled=true or replicaCount=1" $replicas) -}}
{{- end -}}
{{- if $election.enabled -}}
{{- $lease := int $election.leaseDuration -}}
{{- $deadline := int $election.renewDeadline -}}
{{- $retry := int $election.retryPeriod -}}
{{- if ge $retry $deadline -}}
{{- fail (printf "leaderElection.retryPeriod (%d) must be shorter than leaderElection.renewDeadline (%d)" $retry $deadline) -}}
{{- end -}}
{{- if le $lease (add $deadline $retry) -}}
{{- fail (printf "leaderElection.leaseDuration (%d) must exceed leaderElection.renewDeadline + leaderElection.retryPeriod (%d + %d), so that an old leader has stopped acting before a standby takes over" $lease $deadline $retry) -}}
{{- end -}}
{{- end -}}
{{- end -}}
