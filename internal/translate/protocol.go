package translate

import (
	"strings"

	networking "istio.io/api/networking/v1alpha3"
	corev1 "k8s.io/api/core/v1"

	"github.com/portcullis/portcullis/internal/resources"
	"github.com/portcullis/portcullis/internal/snapshot"
)

// upstreamProtocol sets c.Protocol, how the gateway speaks to the cluster's endpoints, as
// Istio's cluster builder decides it for a gateway (setUpstreamProtocol, applyH2Upgrade,
// applyConnectionPool, in that order):
//
//   - a port whose protocol is HTTP2, GRPC or GRPC-WEB — ServiceEntry ports.protocol, or a
//     Service port's appProtocol (kubernetes.io/h2c included) or, without one, its name
//     prefix — is HTTP/2;
//   - else connectionPool.http.h2UpgradePolicy UPGRADE makes it HTTP/2 (DO_NOT_UPGRADE and
//     DEFAULT keep HTTP/1.1: the mesh-wide default, meshConfig.h2UpgradePolicy, is
//     DO_NOT_UPGRADE and portcullis has no mesh config);
//   - connectionPool.http.useClientProtocol overrides both: the request goes out in the
//     protocol the client used (HTTP/2 for an HTTP/2 client, HTTP/1.1 otherwise).
//
// The gateway does not sniff: a port of no known protocol is HTTP/1.1, as at Istio's
// gateway (use_downstream_protocol is for sidecars' unnamed ports only).
func upstreamProtocol(c *snapshot.Cluster, policy *networking.TrafficPolicy, se *resources.ServiceEntry, svc *resources.Service) {
	if isHTTP2Protocol(portProtocol(c.Port, se, svc)) {
		c.Protocol = snapshot.UpstreamHTTP2
	}
	h := policy.GetConnectionPool().GetHttp()
	if h.GetUseClientProtocol() {
		c.Protocol = snapshot.UpstreamClientProtocol
		return
	}
	if h.GetH2UpgradePolicy() == networking.ConnectionPoolSettings_HTTPSettings_UPGRADE {
		c.Protocol = snapshot.UpstreamHTTP2
	}
}

// portProtocol is the Istio protocol name of the destination's port ("" if unknown).
func portProtocol(port uint32, se *resources.ServiceEntry, svc *resources.Service) string {
	switch {
	case se != nil:
		for _, p := range se.Spec.GetPorts() {
			if p != nil && p.Number == port {
				return p.Protocol
			}
		}
	case svc != nil:
		for i := range svc.Spec.Ports {
			if p := &svc.Spec.Ports[i]; uint32(p.Port) == port {
				return servicePortProtocol(p)
			}
		}
	}
	return ""
}

// servicePortProtocol is Istio's reading of a Kubernetes Service port (ConvertProtocol):
// appProtocol when set (with Kubernetes' standard kubernetes.io/h2c, ws and wss names),
// else the port name; a "grpc-web" prefix, else the part before the first '-'.
func servicePortProtocol(p *corev1.ServicePort) string {
	if p.Protocol == corev1.ProtocolUDP {
		return "UDP"
	}
	name := p.Name
	if p.AppProtocol != nil {
		name = *p.AppProtocol
		switch name {
		case "kubernetes.io/h2c":
			return "HTTP2"
		case "kubernetes.io/ws":
			return "HTTP"
		case "kubernetes.io/wss":
			return "HTTPS"
		}
	}
	if len(name) >= len("grpc-web") && strings.EqualFold(name[:len("grpc-web")], "grpc-web") {
		return "GRPC-WEB"
	}
	if i := strings.IndexByte(name, '-'); i >= 0 {
		name = name[:i]
	}
	return name
}

// isHTTP2Protocol is Istio's Protocol.IsHTTP2 on a protocol name (case-insensitive).
func isHTTP2Protocol(p string) bool {
	switch strings.ToUpper(p) {
	case "HTTP2", "GRPC", "GRPC-WEB":
		return true
	}
	return false
}
