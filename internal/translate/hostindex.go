package translate

// hostIndex lists the server hosts of one Gateway so that a VirtualService host is
// intersected only with the server hosts it can match: the same exact name, or a wildcard.
// Trying every server host for every VirtualService host was quadratic (10,000 servers
// and 10,000 VirtualServices: 10^8 intersect calls at start-up).
type hostIndex struct {
	entries []hostEntry        // every server host, in server then host order
	exact   map[string][]int32 // non-wildcard server host -> positions in entries
	wild    []int32            // positions of wildcard ("*.x" and "*") server hosts
}

type hostEntry struct {
	si *serverInfo
	sh serverHost
}

func newHostIndex(servers []*serverInfo) *hostIndex {
	x := &hostIndex{exact: map[string][]int32{}}
	for _, si := range servers {
		for _, sh := range si.hosts {
			pos := int32(len(x.entries))
			x.entries = append(x.entries, hostEntry{si: si, sh: sh})
			if isWildcard(sh.host) {
				x.wild = append(x.wild, pos)
			} else {
				x.exact[sh.host] = append(x.exact[sh.host], pos)
			}
		}
	}
	return x
}

// candidates returns, in entry order, the positions of the server hosts that may
// intersect host; every other server host is disjoint from it. A wildcard host may
// intersect any server host.
func (x *hostIndex) candidates(host string) []int32 {
	if isWildcard(host) {
		all := make([]int32, len(x.entries))
		for i := range all {
			all[i] = int32(i)
		}
		return all
	}
	ex := x.exact[host]
	if len(x.wild) == 0 {
		return ex
	}
	out := make([]int32, 0, len(ex)+len(x.wild))
	i, j := 0, 0
	for i < len(ex) || j < len(x.wild) {
		if j == len(x.wild) || (i < len(ex) && ex[i] < x.wild[j]) {
			out = append(out, ex[i])
			i++
		} else {
			out = append(out, x.wild[j])
			j++
		}
	}
	return out
}

// hostIndex returns gi's index, built on first use (gi.servers is final once buildServers
// returned).
func (gi *gatewayInfo) hostIndex() *hostIndex {
	if gi.index == nil {
		gi.index = newHostIndex(gi.servers)
	}
	return gi.index
}
