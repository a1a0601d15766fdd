package cli

import (
	"fmt"
	"net"
	"strconv"
	"strings"
)

// parsePortMap parses repeated GATEWAYPORT=HOST:PORT values.
func parsePortMap(values []string) (map[uint32]string, error) {
	out := make(map[uint32]string, len(values))
	for _, v := range values {
		port, addr, ok := strings.Cut(v, "=")
		if !ok {
			return nil, fmt.Errorf("--port-map %q: want GATEWAYPORT=HOST:PORT", v)
		}
		n, err := strconv.ParseUint(port, 10, 16)
		if err != nil || n == 0 {
			return nil, fmt.Errorf("--port-map %q: %q is not a port number", v, port)
		}
		if _, _, err := net.SplitHostPort(addr); err != nil {
			return nil, fmt.Errorf("--port-map %q: %v", v, err)
		}
		if _, dup := out[uint32(n)]; dup {
			return nil, fmt.Errorf("--port-map %q: port %d mapped twice", v, n)
		}
		out[uint32(n)] = addr
	}
	return out, nil
}

// parseLabels parses "k=v,k2=v2" (repeatable).
func parseLabels(values []string) (map[string]string, error) {
	out := map[string]string{}
	for _, v := range values {
		for _, kv := range strings.Split(v, ",") {
			kv = strings.TrimSpace(kv)
			if kv == "" {
				continue
			}
			k, val, ok := strings.Cut(kv, "=")
			if !ok || k == "" {
				return nil, fmt.Errorf("--labels %q: want key=value", kv)
			}
			out[k] = val
		}
	}
	return out, nil
}
