package accesslog

import (
	"fmt"
	"regexp"
)

// TextFields are the names of the text format's fields, in order (Envoy's operators).
func TextFields() []string {
	return []string{
		"START_TIME", "METHOD", "PATH", "PROTOCOL", "RESPONSE_CODE", "RESPONSE_FLAGS",
		"RESPONSE_CODE_DETAILS", "CONNECTION_TERMINATION_DETAILS", "UPSTREAM_TRANSPORT_FAILURE_REASON",
		"BYTES_RECEIVED", "BYTES_SENT", "DURATION", "X-ENVOY-UPSTREAM-SERVICE-TIME",
		"X-FORWARDED-FOR", "USER-AGENT", "X-REQUEST-ID", "AUTHORITY", "UPSTREAM_HOST",
		"UPSTREAM_CLUSTER", "UPSTREAM_LOCAL_ADDRESS", "DOWNSTREAM_LOCAL_ADDRESS",
		"DOWNSTREAM_REMOTE_ADDRESS", "REQUESTED_SERVER_NAME", "ROUTE_NAME",
	}
}

var textLine = regexp.MustCompile(`^\[(\S+)\] "(\S+) (\S+) (\S+)" (\d+) (\S+) (\S+) (\S+) "([^"]*)" (\d+) (\d+) (\d+) (\S+) "([^"]*)" "([^"]*)" "([^"]*)" "([^"]*)" "([^"]*)" (\S+) (\S+) (\S+) (\S+) (\S+) (\S+)$`)

// ParseText splits one text-format line (without its newline) into its fields, by
// TextFields name. Tools and tests read logs with it.
func ParseText(line string) (map[string]string, error) {
	m := textLine.FindStringSubmatch(line)
	if m == nil {
		return nil, fmt.Errorf("not an access log line: %q", line)
	}
	names := TextFields()
	out := make(map[string]string, len(names))
	for i, name := range names {
		out[name] = m[i+1]
	}
	return out, nil
}
