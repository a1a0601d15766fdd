package listener

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/binary"
)

// ticketKey derives one Server's session ticket key from the per-process secret and the
// parts that must match for a session to resume: the server name (a ticket issued for one
// host never decrypts on another, so resumption can never skip that host's client
// certificate check) and its client-auth policy and credential version (a CA or
// certificate change makes every older ticket undecryptable, forcing a full handshake
// against the new material).
//
// Parts are length-prefixed so that no two different part lists collide.
func ticketKey(secret []byte, parts ...string) [32]byte {
	m := hmac.New(sha256.New, secret)
	var n [8]byte
	for _, p := range parts {
		binary.BigEndian.PutUint64(n[:], uint64(len(p)))
		m.Write(n[:])
		m.Write([]byte(p))
	}
	var k [32]byte
	copy(k[:], m.Sum(nil))
	return k
}
