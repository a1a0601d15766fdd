package snapshot

// ConnectionPool is trafficPolicy.connectionPool (Envoy circuit breakers and connection
// settings).
type ConnectionPool struct {
}
