package translate

import (
	"net"
	"net/netip"
	"strconv"
	"strings"

	networking "istio.io/api/networking/v1alpha3"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"

	"github.com/portcullis/portcullis/internal/resources"
	"github.com/portcullis/portcullis/internal/snapshot"
)

// seEndpoints fills c from a ServiceEntry. subsetLabels nil = no subset.
func seEndpoints(c *snapshot.Cluster, n *findings, se *resources.ServiceEntry, subsetLabels map[string]string) {
	seName := "ServiceEntry " + nsName(&se.Meta)
	var sp *networking.ServicePort
	for _, p := range se.Spec.Ports {
		if p != nil && p.Number == c.Port {
			sp = p
			break
		}
	}
	if sp == nil {
		n.warnf(".port", "%s does not declare port %d; requests get 503", seName, c.Port)
		return
	}
	switch se.Spec.Resolution {
	case networking.ServiceEntry_STATIC:
		if len(se.Spec.Endpoints) == 0 {
			if se.Spec.WorkloadSelector != nil {
				n.errorf(".host", "%s selects workloads (workloadSelector), which is not supported yet; requests get 503", seName)
			} else {
				n.warnf(".host", "%s (resolution STATIC) has no endpoints; requests get 503", seName)
			}
			return
		}
	case networking.ServiceEntry_DNS, networking.ServiceEntry_DNS_ROUND_ROBIN:
		c.DNS = true
		if len(se.Spec.Endpoints) == 0 {
			if subsetLabels != nil {
				n.warnf(".subset", "%s has no endpoints, so no subset can select any; requests get 503", seName)
				return
			}
			c.Endpoints = append(c.Endpoints, net.JoinHostPort(c.Host, strconv.Itoa(int(targetPort(sp)))))
			return
		}
	default:
		n.errorf(".host", "%s has resolution %s, which is not supported yet (use STATIC or DNS); requests get 503", seName, se.Spec.Resolution)
		return
	}
	for _, ep := range se.Spec.Endpoints {
		if ep == nil || (subsetLabels != nil && !subset(subsetLabels, ep.Labels)) {
			continue
		}
		addr := ep.Address
		if strings.HasPrefix(addr, "unix://") || addr == "" {
			n.errorf(".host", "%s endpoint address %q is not supported; endpoint skipped", seName, addr)
			continue
		}
		if strings.IndexFunc(addr, func(r rune) bool { return r <= ' ' || r == 0x7f }) >= 0 {
			// A DNS endpoint's name is resolved and dialled; it never needs a control
			// character or a space, and CR/LF must not reach a log line or a request.
			n.errorf(".host", "%s endpoint address %q contains a space or a control character (CR, LF, NUL, ...); endpoint skipped", seName, addr)
			continue
		}
		if !c.DNS {
			if _, err := netip.ParseAddr(addr); err != nil {
				n.errorf(".host", "%s endpoint address %q is not an IP address (resolution STATIC); endpoint skipped", seName, addr)
				continue
			}
		}
		p := targetPort(sp)
		if v, ok := ep.Ports[sp.Name]; ok && v != 0 {
			p = v
		}
		c.Endpoints = append(c.Endpoints, net.JoinHostPort(addr, strconv.Itoa(int(p))))
		c.EndpointWeights = append(c.EndpointWeights, max(ep.Weight, 1)) // 0 = unset = 1
	}
	if len(c.Endpoints) == 0 && subsetLabels != nil {
		n.warnf(".subset", "no endpoint of %s matches the subset's labels %s; requests get 503", seName, formatLabels(subsetLabels))
	}
}

func targetPort(sp *networking.ServicePort) uint32 {
	if sp.TargetPort != 0 {
		return sp.TargetPort
	}
	return sp.Number
}

// svcEndpoints fills c from a Kubernetes Service and its EndpointSlices: ready endpoints,
// on the slice port whose name equals the Service port's name. For a subset (labels
// non-nil), only endpoints whose Pod carries every label of the subset (pods.go).
func svcEndpoints(c *snapshot.Cluster, n *findings, svc *resources.Service, subsetName string, labels map[string]string, pods podIndex, slices []*resources.EndpointSlice) {
	svcName := "Service " + svc.Namespace + "/" + svc.Name
	unlabelled := 0
	var sp *corev1.ServicePort
	for i := range svc.Spec.Ports {
		if uint32(svc.Spec.Ports[i].Port) == c.Port {
			sp = &svc.Spec.Ports[i]
			break
		}
	}
	if svc.Spec.Type == corev1.ServiceTypeExternalName {
		c.DNS = true
		if svc.Spec.ExternalName == "" {
			n.errorf(".host", "%s is of type ExternalName but has no externalName; requests get 503", svcName)
			return
		}
		c.Endpoints = append(c.Endpoints, net.JoinHostPort(strings.ToLower(svc.Spec.ExternalName), strconv.Itoa(int(c.Port))))
		return
	}
	if sp == nil {
		n.warnf(".port", "%s has no port %d; requests get 503", svcName, c.Port)
		return
	}
	for _, es := range slices {
		if es.AddressType != discoveryv1.AddressTypeIPv4 && es.AddressType != discoveryv1.AddressTypeIPv6 {
			n.warnf(".host", "EndpointSlice %s/%s of %s has addressType %q, which is not supported; ignored", es.Namespace, es.Name, svcName, es.AddressType)
			continue
		}
		var port int32
		for _, p := range es.Ports {
			name := ""
			if p.Name != nil {
				name = *p.Name
			}
			if name == sp.Name && p.Port != nil {
				port = *p.Port
				break
			}
		}
		if port <= 0 || port > 65535 {
			continue
		}
		for _, ep := range es.Endpoints {
			if len(ep.Addresses) == 0 || (ep.Conditions.Ready != nil && !*ep.Conditions.Ready) {
				continue
			}
			// Only the first address has defined semantics (as for kube-proxy).
			if _, err := netip.ParseAddr(ep.Addresses[0]); err != nil {
				continue
			}
			if len(labels) > 0 {
				pl, known := pods.labels(es.Namespace, ep)
				if !known {
					unlabelled++
				}
				if !subset(labels, pl) {
					continue
				}
			}
			c.Endpoints = append(c.Endpoints, net.JoinHostPort(ep.Addresses[0], strconv.Itoa(int(port))))
		}
	}
	if unlabelled > 0 {
		n.warnf(".subset", "%d ready endpoint(s) of %s have no known Pod (EndpointSlice targetRef or Pod address), so no labels: they are not in subset %q", unlabelled, svcName, subsetName)
	}
	if len(c.Endpoints) == 0 {
		portName := sp.Name
		if portName == "" {
			portName = strconv.Itoa(int(sp.Port))
		}
		if subsetName != "" {
			n.warnf(".subset", "no ready endpoint of %s for port %s is a Pod with the labels of subset %q; requests get 503", svcName, portName, subsetName)
			return
		}
		n.warnf(".host", "%s has no ready endpoints for port %s; requests get 503", svcName, portName)
	}
}

// sortEndpoints sorts c's endpoints and drops duplicates (the first keeps its weight),
// keeping EndpointWeights parallel; weights that are all equal (or missing for some
// endpoints) leave EndpointWeights nil.
func sortEndpoints(c *snapshot.Cluster) {
	weighted := len(c.EndpointWeights) == len(c.Endpoints)
	w := make(map[string]uint32, len(c.Endpoints))
	for i, ep := range c.Endpoints {
		if _, dup := w[ep]; !dup {
			w[ep] = 1
			if weighted {
				w[ep] = c.EndpointWeights[i]
			}
		}
	}
	c.Endpoints = sortUnique(c.Endpoints)
	c.EndpointWeights = nil
	for _, ep := range c.Endpoints {
		if w[ep] != w[c.Endpoints[0]] {
			c.EndpointWeights = make([]uint32, len(c.Endpoints))
			for i, ep := range c.Endpoints {
				c.EndpointWeights[i] = w[ep]
			}
			return
		}
	}
}
