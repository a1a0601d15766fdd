package upstream

import (
	"fmt"
	"net/http"
	"strings"

	"golang.org/x/net/http/httpguts"
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

// refusedUpgrade returns the error ReverseProxy would answer resp with, a 101 to a request
// that asked for another protocol (or none) or naming one that is not printable ASCII. On
// those paths ReverseProxy calls its error handler without closing the response body —
// the upstream connection, left open until the collector finalizes it. Returned from
// ModifyResponse, the same error makes ReverseProxy close the body first.
func refusedUpgrade(resp *http.Response) error {
	if resp.StatusCode != http.StatusSwitchingProtocols || resp.Request == nil {
		return nil
	}
	want, got := upgradeType(resp.Request.Header), upgradeType(resp.Header)
	if !asciiPrint(got) {
		return fmt.Errorf("backend tried to switch to invalid protocol %q", got)
	}
	if !strings.EqualFold(want, got) {
		return fmt.Errorf("backend tried to switch protocol %q when %q was requested", got, want)
	}
	return nil
}

// upgradeType is ReverseProxy's: the Upgrade field when Connection names it.
func upgradeType(h http.Header) string {
	if !httpguts.HeaderValuesContainsToken(h["Connection"], "Upgrade") {
		return ""
	}
	return h.Get("Upgrade")
}

// refusedUpgradeType reports whether r asks for a protocol upgrade the gateway does not
// allow. Istio's gateway enables one upgrade type, "websocket" (the connection manager's
// upgradeConfigs); Envoy answers any other with 403 and closes the connection (response
// details upgrade_failed). An h2c upgrade is not refused: it is dropped (dropH2CUpgrade)
// and the request served as HTTP/1.1, as Envoy's codec does.
func refusedUpgradeType(r *http.Request) bool {
	typ := upgradeType(r.Header)
	if typ == "" || strings.EqualFold(typ, "websocket") {
		return false
	}
	for tok := range strings.SplitSeq(typ, ",") {
		if strings.EqualFold(strings.TrimSpace(tok), "h2c") {
			return false
		}
	}
	return true
}
