package translate

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"

	"github.com/portcullis/portcullis/internal/snapshot"
)

// version is the first 16 hex digits of the SHA-256 of the JSON of Listeners, Clusters, Security and Telemetry:
// equal content, equal version, whatever the order the inputs arrived in.
func version(s *snapshot.Snapshot) string {
	body := struct {
		Listeners []snapshot.Listener `json:"listeners"`
		Clusters  []snapshot.Cluster  `json:"clusters"`
		Security  *snapshot.Security  `json:"security,omitempty"`
		Telemetry *snapshot.Telemetry `json:"telemetry,omitempty"`
	}{s.Listeners, s.Clusters, s.Security, s.Telemetry}
	data, err := json.Marshal(body)
	if err != nil {
		// Plain data with string-keyed maps cannot fail to marshal; keep a stable value anyway.
		return "unversioned"
	}
	sum := sha256.Sum256(data)
	return hex.EncodeToString(sum[:])[:16]
}
