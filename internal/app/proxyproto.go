package app

import (
	"github.com/portcullis/portcullis/internal/dataplane"
)

// downstreamProxyProtocol is the listeners' downstream PROXY protocol setting (design
// 0029): nil unless --proxy-protocol-from names trusted peers.
func downstreamProxyProtocol(o Options) *dataplane.ProxyProtocol {
	if len(o.ProxyProtocolFrom) == 0 {
		return nil
	}
	return &dataplane.ProxyProtocol{Trusted: o.ProxyProtocolFrom, Timeout: o.ProxyProtocolTimeout}
}
