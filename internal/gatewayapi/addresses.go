package gatewayapi

import (
	"encoding/binary"
	"fmt"
	"hash/fnv"
	"net/netip"

	gwv1 "sigs.k8s.io/gateway-api/apis/v1"

	"github.com/portcullis/portcullis/internal/diag"
)

// Addresses (design 0026). Istio, Envoy Gateway and Contour give each Gateway its own
// deployment and address; portcullis is one process, so a Gateway gets its own address by
// binding its listeners to it (Istio's Server.bind on every derived server):
//
//   - a Gateway with spec.addresses binds its one IPAddress;
//   - with Options.AddressPool, a Gateway without spec.addresses binds an address of the
//     pool: the one already in its status.addresses when that is in the pool and free
//     (stable across restarts and replicas), else the first free address from a position
//     hashed from its namespace/name (deterministic);
//   - otherwise it listens on the default listen host, shared by every such Gateway, and
//     status.addresses reports Options.PublishAddresses.
//
// Listener conflicts are judged per (address, port): Gateways on different addresses never
// conflict. status.addresses is the address actually bound (or published).

// specAddress validates spec.addresses: at most one IPAddress (the address the Gateway's
// listeners bind). Hostname addresses and other types cannot be bound: the Gateway is not
// accepted (UnsupportedAddress), never served on an address other than the one asked for.
func (t *translator) specAddress(gw *gateway) {
	g := gw.obj
	refuse := func(field, msg string) {
		if gw.accepted {
			gw.accepted, gw.reason, gw.msg = false, string(gwv1.GatewayReasonUnsupportedAddress), msg
		}
		t.diag(diag.Error, "Gateway", &g.ObjectMeta, g.Source, field, "%s; Gateway not accepted", msg)
	}
	for k, a := range g.Spec.Addresses {
		field := fmt.Sprintf("spec.addresses[%d]", k)
		typ := gwv1.IPAddressType
		if a.Type != nil {
			typ = *a.Type
		}
		if typ != gwv1.IPAddressType {
			refuse(field+".type", fmt.Sprintf("address type %s is not supported (IPAddress: the Gateway's listeners bind it)", typ))
			continue
		}
		ip, err := netip.ParseAddr(a.Value)
		if err != nil || ip.Zone() != "" {
			refuse(field+".value", fmt.Sprintf("address %q is not an IP address", a.Value))
			continue
		}
		if gw.bind != "" {
			refuse(field, "only one address per Gateway is supported (its listeners bind it)")
			continue
		}
		gw.bind = ip.Unmap().String()
	}
}

// assignAddresses gives every accepted Gateway without spec.addresses an address of the
// pool (Options.AddressPool), in precedence order: first those keeping the address in
// their status, then the others.
func (t *translator) assignAddresses() {
	pool := t.opts.AddressPool
	if !pool.IsValid() {
		return
	}
	taken := map[string]bool{}
	var want []*gateway
	for _, gw := range t.gws {
		if gw.bind != "" {
			taken[gw.bind] = true
		} else if gw.accepted && len(gw.obj.Spec.Addresses) == 0 {
			want = append(want, gw)
		}
	}
	var rest []*gateway
	for _, gw := range want {
		if a := previousAddress(gw, pool); a != "" && !taken[a] {
			gw.bind, taken[a] = a, true
		} else {
			rest = append(rest, gw)
		}
	}
	first, size := poolRange(pool)
	for _, gw := range rest {
		h := fnv.New64a()
		_, _ = h.Write([]byte(objKey(&gw.obj.ObjectMeta)))
		start := h.Sum64() % size
		for i := uint64(0); i < size && i <= uint64(len(taken)); i++ {
			a := addOffset(first, (start+i)%size).String()
			if !taken[a] {
				gw.bind, taken[a] = a, true
				break
			}
		}
		if gw.bind == "" {
			gw.addrMsg = fmt.Sprintf("address pool %s is exhausted: every address is used by another Gateway", pool)
			g := gw.obj
			t.diag(diag.Error, "Gateway", &g.ObjectMeta, g.Source, "spec.addresses", "%s; the Gateway is not served", gw.addrMsg)
		}
	}
}

// previousAddress is the IPAddress in the Gateway's status that lies in the pool, or "".
func previousAddress(gw *gateway, pool netip.Prefix) string {
	for _, a := range gw.obj.Status.Addresses {
		if a.Type != nil && *a.Type != gwv1.IPAddressType {
			continue
		}
		if ip, err := netip.ParseAddr(a.Value); err == nil && pool.Contains(ip.Unmap()) {
			return ip.Unmap().String()
		}
	}
	return ""
}

// poolRange is the first usable address of the pool and how many there are (an IPv4
// pool of more than two addresses leaves out its network and broadcast addresses; at most
// 2^32 are used).
func poolRange(p netip.Prefix) (netip.Addr, uint64) {
	p = p.Masked()
	hostBits := p.Addr().BitLen() - p.Bits()
	size := uint64(1) << min(hostBits, 32)
	first := p.Addr()
	if p.Addr().Is4() && hostBits >= 2 {
		first, size = first.Next(), size-2
	}
	return first, size
}

// addOffset is a + off.
func addOffset(a netip.Addr, off uint64) netip.Addr {
	b := a.As16()
	lo := binary.BigEndian.Uint64(b[8:])
	sum := lo + off
	binary.BigEndian.PutUint64(b[8:], sum)
	if sum < lo {
		binary.BigEndian.PutUint64(b[:8], binary.BigEndian.Uint64(b[:8])+1)
	}
	out := netip.AddrFrom16(b)
	if a.Is4() {
		return out.Unmap()
	}
	return out
}

// statusAddresses is what status.addresses reports: the bound address, else the
// published ones; none for a Gateway that is not served (not accepted, no address).
func (t *translator) statusAddresses(gw *gateway) []gwv1.GatewayStatusAddress {
	typ := gwv1.IPAddressType
	switch {
	case !gw.accepted || gw.addrMsg != "":
		return nil
	case gw.bind != "":
		return []gwv1.GatewayStatusAddress{{Type: &typ, Value: gw.bind}}
	}
	var out []gwv1.GatewayStatusAddress
	for _, a := range t.opts.PublishAddresses {
		typ := gwv1.HostnameAddressType
		if _, err := netip.ParseAddr(a); err == nil {
			typ = gwv1.IPAddressType
		}
		out = append(out, gwv1.GatewayStatusAddress{Type: &typ, Value: a})
	}
	return out
}
