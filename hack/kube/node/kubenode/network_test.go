package main

import (
	"fmt"
	"net/netip"
	"testing"
)

// TestAllocIPReusesLate: addresses are handed out in turn, a released one only after the
// others, and the allocation wraps around past the last usable address.
func TestAllocIPReusesLate(t *testing.T) {
	cidr := netip.MustParsePrefix("10.244.0.0/29") // .1 gateway, .2-.6 pods, .7 broadcast
	p := &provider{cfg: config{podCIDR: cidr}, gateway: cidr.Addr().Next(), usedIPs: map[netip.Addr]bool{}}
	var got []string
	for range 3 {
		a, err := p.allocIP()
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, a.String())
	}
	delete(p.usedIPs, netip.MustParseAddr("10.244.0.2"))
	for range 3 {
		a, err := p.allocIP()
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, a.String())
	}
	want := "[10.244.0.2 10.244.0.3 10.244.0.4 10.244.0.5 10.244.0.6 10.244.0.2]"
	if s := fmt.Sprint(got); s != want {
		t.Errorf("allocated %s, want %s", s, want)
	}
	if _, err := p.allocIP(); err == nil {
		t.Error("allocated from an exhausted CIDR")
	}
}
