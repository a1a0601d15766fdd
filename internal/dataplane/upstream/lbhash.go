package upstream

import (
	"fmt"
	"math"
	"math/rand/v2"
	"net"
	"net/http"
	"net/netip"
	"slices"
	"strconv"
	"strings"

	"github.com/cespare/xxhash/v2"

	"github.com/portcullis/portcullis/internal/snapshot"
)

// Consistent hashing as Envoy's RING_HASH and MAGLEV load balancers, with Envoy's hash
// function (xxHash64) for request keys, ring points ("<address>_<n>") and Maglev
// permutations (seeds 0 and 1), so a key lands on the endpoint Envoy would choose for
// the same endpoint set.

const (
	defaultRingSize   = 1024    // Istio's minimumRingSize default
	maxRingSize       = 8 << 20 // Envoy's maximum_ring_size default
	defaultMaglevSize = 65537   // Envoy's table_size default
)

// hashTable maps a 64-bit key to an endpoint index: a sorted ring, or a Maglev table.
type hashTable struct {
	gen    uint64 // clusterState.health it was built for
	ring   []ringPoint
	maglev []int32
}

type ringPoint struct {
	hash uint64
	host int
}

// lookup finds h's endpoint; attempt > 0 (a retry avoiding previous endpoints) moves on
// as Envoy: the next ring points, or a Maglev hash with its high bits flipped.
func (t *hashTable) lookup(h uint64, attempt uint32) int {
	if t.maglev != nil {
		if attempt > 0 {
			h ^= ^uint64(0) - uint64(attempt) + 1
		}
		return int(t.maglev[h%uint64(len(t.maglev))])
	}
	if len(t.ring) == 0 {
		return -1
	}
	i, _ := slices.BinarySearchFunc(t.ring, h, func(p ringPoint, h uint64) int {
		switch {
		case p.hash < h:
			return -1
		case p.hash > h:
			return 1
		}
		return 0
	})
	return t.ring[(i+int(attempt))%len(t.ring)].host
}

// pickHash hashes k's key (generating the cookie when the policy says so) and looks it up
// in the table of usable endpoints; a request without a key gets a random hash, as Envoy.
func (b *balancer) pickHash(k *Key, panic bool) int {
	h, ok, attempt := uint64(0), false, uint32(0)
	if k != nil {
		attempt = k.attempt
		if !k.hashed {
			k.hash, k.has = requestHash(b.hash, k)
			k.hashed = true
		}
		h, ok = k.hash, k.has
	}
	if !ok {
		h = rand.Uint64()
	}
	gen := b.st.health.Load()
	t := b.table.Load()
	if t == nil || t.gen != gen {
		t = b.build(gen, panic)
		b.table.Store(t)
	}
	return t.lookup(h, attempt)
}

// build makes the ring or Maglev table of the usable endpoints.
func (b *balancer) build(gen uint64, panic bool) *hashTable {
	var idx []int
	for i := range b.hosts {
		if b.usable(i, panic) {
			idx = append(idx, i)
		}
	}
	t := &hashTable{gen: gen}
	if len(idx) == 0 {
		return t
	}
	if b.hash.Maglev {
		size := b.hash.TableSize
		if size == 0 {
			size = defaultMaglevSize
		}
		t.maglev = b.maglevTable(idx, size)
		return t
	}
	size := b.hash.RingSize
	if size == 0 {
		size = defaultRingSize
	}
	t.ring = b.ring(idx, size)
	return t
}

// ring is Envoy's ring construction: each endpoint gets points in proportion to its
// normalized weight, scaled so the lightest gets at least its share of minSize entries.
func (b *balancer) ring(idx []int, minSize uint64) []ringPoint {
	sum := 0.0
	for _, i := range idx {
		sum += float64(b.weight(i))
	}
	minW := math.MaxFloat64
	for _, i := range idx {
		minW = min(minW, float64(b.weight(i))/sum)
	}
	scale := min(math.Ceil(minW*float64(minSize))/minW, maxRingSize)
	ring := make([]ringPoint, 0, int(math.Ceil(scale)))
	target, n := 0.0, 0.0
	var buf []byte
	for _, i := range idx {
		target += scale * float64(b.weight(i)) / sum
		for j := 0; n < target; j++ {
			buf = append(append(append(buf[:0], b.hosts[i].addr...), '_'), strconv.Itoa(j)...)
			ring = append(ring, ringPoint{hash: xxhash.Sum64(buf), host: i})
			n++
		}
	}
	slices.SortFunc(ring, func(a, b ringPoint) int {
		switch {
		case a.hash < b.hash:
			return -1
		case a.hash > b.hash:
			return 1
		}
		return 0
	})
	return ring
}

// maglevTable is Maglev's population with Envoy's weighting: an endpoint of weight w takes
// a turn in an iteration when its accumulated target allows it, so entries follow weights.
func (b *balancer) maglevTable(idx []int, size uint64) []int32 {
	type entry struct {
		host                 int
		offset, skip, next   uint64
		weight, targetWeight float64
	}
	sum, maxW := 0.0, 0.0
	for _, i := range idx {
		sum += float64(b.weight(i))
	}
	es := make([]entry, len(idx))
	for j, i := range idx {
		w := float64(b.weight(i)) / sum
		maxW = max(maxW, w)
		d := xxhash.NewWithSeed(1)
		_, _ = d.WriteString(b.hosts[i].addr)
		es[j] = entry{host: i, offset: xxhash.Sum64String(b.hosts[i].addr) % size, skip: d.Sum64()%(size-1) + 1, weight: w, targetWeight: w}
	}
	table := make([]int32, size)
	for i := range table {
		table[i] = -1
	}
	filled := uint64(0)
	for it := 1.0; filled < size; it++ {
		for j := range es {
			if filled == size {
				break
			}
			e := &es[j]
			if it*e.weight < e.targetWeight {
				continue
			}
			e.targetWeight += maxW
			c := (e.offset + e.skip*e.next) % size
			for table[c] >= 0 {
				e.next++
				c = (e.offset + e.skip*e.next) % size
			}
			table[c] = int32(e.host)
			e.next++
			filled++
		}
	}
	return table
}

// requestHash is Envoy's hash policy for the consistentHash key; false when the request
// has no value for it.
func requestHash(ch *snapshot.ConsistentHash, k *Key) (uint64, bool) {
	r := k.R
	switch {
	case ch.SourceIP:
		if ip, ok := sourceIP(k); ok {
			return xxhash.Sum64String(ip.String()), true
		}
	case r == nil:
	case ch.Header != "":
		if strings.EqualFold(ch.Header, "host") || ch.Header == ":authority" {
			return xxhash.Sum64String(r.Host), r.Host != ""
		}
		vs := r.Header.Values(ch.Header)
		switch len(vs) {
		case 0:
		case 1:
			return xxhash.Sum64String(vs[0]), true
		default: // independent of the values' order, as Envoy
			vs = slices.Sorted(slices.Values(vs))
			h := uint64(0)
			for _, v := range vs {
				d := xxhash.NewWithSeed(h)
				_, _ = d.WriteString(v)
				h = d.Sum64()
			}
			return h, true
		}
	case ch.QueryParameter != "":
		if q := r.URL.Query(); q.Has(ch.QueryParameter) {
			return xxhash.Sum64String(q.Get(ch.QueryParameter)), true
		}
	case ch.Cookie != nil:
		if c, err := r.Cookie(ch.Cookie.Name); err == nil && c.Value != "" {
			return xxhash.Sum64String(c.Value), true
		}
		if ch.Cookie.HasTTL {
			v := generatedCookie(r)
			k.SetCookie = setCookie(ch.Cookie, v)
			return xxhash.Sum64String(v), true
		}
	}
	return 0, false
}

// sourceIP is Envoy's downstream remote address: with Hops > 0 the Hops-th address from
// the right of X-Forwarded-For (when it has that many), else the peer's.
func sourceIP(k *Key) (netip.Addr, bool) {
	peer := k.Src
	if k.R != nil {
		peer = k.R.RemoteAddr
		if k.Hops > 0 {
			var xff []string
			for _, v := range k.R.Header.Values("X-Forwarded-For") {
				xff = append(xff, strings.Split(v, ",")...)
			}
			if n := len(xff); n >= k.Hops {
				if a, err := netip.ParseAddr(strings.TrimSpace(xff[n-k.Hops])); err == nil {
					return a.Unmap(), true
				}
			}
		}
	}
	if ap, err := netip.ParseAddrPort(peer); err == nil {
		return ap.Addr().Unmap(), true
	}
	return netip.Addr{}, false
}

// generatedCookie is Envoy's generated cookie value: the hex xxHash64 of the connection's
// remote and local addresses, so requests racing on one connection get the same cookie.
func generatedCookie(r *http.Request) string {
	local := ""
	if a, ok := r.Context().Value(http.LocalAddrContextKey).(net.Addr); ok {
		local = a.String()
	}
	return fmt.Sprintf("%016x", xxhash.Sum64String(r.RemoteAddr+local))
}

// setCookie formats the Set-Cookie value Envoy sends for a generated cookie:
// name="value"; Max-Age=ttl (when not 0); Path=path; attributes; HttpOnly.
func setCookie(c *snapshot.HashCookie, value string) string {
	var sb strings.Builder
	sb.WriteString(c.Name + `="` + value + `"`)
	if c.TTLSeconds != 0 {
		sb.WriteString("; Max-Age=" + strconv.FormatInt(c.TTLSeconds, 10))
	}
	if c.Path != "" {
		sb.WriteString("; Path=" + c.Path)
	}
	for _, a := range c.Attributes {
		sb.WriteString("; " + a.Name)
		if a.Value != "" {
			sb.WriteString("=" + a.Value)
		}
	}
	sb.WriteString("; HttpOnly")
	return sb.String()
}

// addSetCookie adds t's generated hash cookie to an upstream response's header, as Envoy
// adds it to the upstream's response headers (never to a local reply).
func addSetCookie(h http.Header, t *Target) {
	if t.SetCookie != "" {
		h.Add("Set-Cookie", t.SetCookie)
	}
}
