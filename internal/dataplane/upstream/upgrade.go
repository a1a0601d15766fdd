package upstream

import (
	"net/http"
	"strings"
)

// dropH2CUpgrade removes an h2c upgrade (RFC 7540 §3.2; "Upgrade: h2c", alone or in a
// list) from a request to a backend. A backend that accepted it would answer 101 and turn
// the client's connection into an HTTP/2 tunnel straight to the backend, past every route,
// 421 and header rule of the gateway ("h2c smuggling"). Envoy strips it too. Other
// upgrades (WebSocket) are forwarded.
func dropH2CUpgrade(h http.Header) {
	for _, v := range h["Upgrade"] {
		for tok := range strings.SplitSeq(v, ",") {
			if strings.EqualFold(strings.TrimSpace(tok), "h2c") {
				h.Del("Upgrade")
				h.Del("Connection") // ReverseProxy set it to "Upgrade" for this upgrade only
				h.Del("Http2-Settings")
				return
			}
		}
	}
}
