{{/* Chart name, truncated to the 63 characters a label value allows. */}}
{{- define "portcullis.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/* Full name of the release's objects. */}}
{{- define "portcullis.fullname" -}}
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

{{- define "portcullis.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/* Selector labels: stable, never include values that may change after install. */}}
{{- define "portcullis.selectorLabels" -}}
app.kubernetes.io/name: {{ include "portcullis.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{- define "portcullis.labels" -}}
helm.sh/chart: {{ include "portcullis.chart" . }}
{{ include "portcullis.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/component: ingress-gateway
{{- end -}}

{{- define "portcullis.serviceAccountName" -}}
{{- if .Values.serviceAccount.create -}}
{{- default (include "portcullis.fullname" .) .Values.serviceAccount.name -}}
{{- else -}}
{{- default "default" .Values.serviceAccount.name -}}
{{- end -}}
{{- end -}}

{{- define "portcullis.image" -}}
{{- if .Values.image.digest -}}
{{- printf "%s@%s" .Values.image.repository .Values.image.digest -}}
{{- else -}}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) -}}
{{- end -}}
{{- end -}}

{{/*
The read-only rules the gateway needs on the namespaces it watches: Istio networking
resources, Services and EndpointSlices (destinations), Pods (list/watch only, read as
metadata: their labels resolve DestinationRule subsets), and Events to report problems on
the offending objects. No Secrets here: those are in the release namespace's Role only.
*/}}
{{- define "portcullis.watchRules" -}}
- apiGroups: ["networking.istio.io"]
  resources: ["gateways", "virtualservices", "destinationrules", "serviceentries"]
  verbs: ["get", "list", "watch"]
- apiGroups: [""]
  resources: ["services"]
  verbs: ["get", "list", "watch"]
- apiGroups: ["discovery.k8s.io"]
  resources: ["endpointslices"]
  verbs: ["get", "list", "watch"]
- apiGroups: [""]
  resources: ["pods"]
  verbs: ["list", "watch"]
- apiGroups: [""]
  resources: ["events"]
  verbs: ["create", "patch"]
{{- if .Values.gatewayAPI.enabled }}
# Gateway API (gatewayAPI.enabled): the kinds the gateway translates, and the status of
# those that have one (written by the replica holding the status Lease; update only: the
# writer PUTs with the object's resourceVersion, so a concurrent change is a conflict,
# never a blind patch). Gateways reference Secrets (certificateRefs) and ConfigMaps
# (caCertificateRefs) in their own namespaces: read-only here, never written.
- apiGroups: [""]
  resources: ["secrets", "configmaps"]
  verbs: ["get", "list", "watch"]
- apiGroups: ["gateway.networking.k8s.io"]
  resources: ["gateways", "httproutes", "grpcroutes", "tlsroutes", "tcproutes", "referencegrants", "backendtlspolicies"]
  verbs: ["get", "list", "watch"]
- apiGroups: ["gateway.networking.k8s.io"]
  resources: ["gateways/status", "httproutes/status", "grpcroutes/status", "tlsroutes/status", "tcproutes/status", "backendtlspolicies/status"]
  verbs: ["update"]
{{- end }}
{{- end -}}

{{/* The Lease the replicas compete for to write Gateway API statuses. */}}
{{- define "portcullis.leaseName" -}}
{{- default (printf "%s-status" (include "portcullis.fullname" .)) .Values.leaderElection.leaseName -}}
{{- end -}}

{{/* Refuse values that would break graceful shutdown or the Secret boundary. */}}
{{- define "portcullis.validate" -}}
{{- $need := add (int .Values.preStopSleepSeconds) (int .Values.drainTimeoutSeconds) -}}
{{- if le (int .Values.terminationGracePeriodSeconds) (int $need) -}}
{{- fail (printf "terminationGracePeriodSeconds (%v) must exceed preStopSleepSeconds + drainTimeoutSeconds (%v)" .Values.terminationGracePeriodSeconds $need) -}}
{{- end -}}
{{- if not .Values.ports -}}
{{- fail "ports: at least one gateway port is required" -}}
{{- end -}}
{{- if and (not .Values.gatewayAPI.enabled) (or .Values.gatewayAPI.addressPool .Values.gatewayAPI.publishAddresses .Values.gatewayAPI.publishService) -}}
{{- fail "gatewayAPI.addressPool, publishAddresses and publishService need gatewayAPI.enabled=true" -}}
{{- end -}}
{{- if and .Values.gatewayAPI.publishService .Values.gatewayAPI.publishAddresses -}}
{{- fail "gatewayAPI.publishService and gatewayAPI.publishAddresses exclude each other" -}}
{{- end -}}
{{- range .Values.ports -}}
{{- if lt (int .containerPort) 1024 -}}
{{- fail (printf "ports[%s].containerPort %v: use an unprivileged port (>= 1024); the container drops every capability" .name .containerPort) -}}
{{- end -}}
{{- end -}}
{{- end -}}
