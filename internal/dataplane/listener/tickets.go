package listener

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/binary"
	"strconv"
)

// Tickets is the input of session ticket key derivation. Keys rotate by epoch: a
// config built in epoch E issues tickets under E's key and still accepts E-1's, so a
// ticket lives at most two epochs and old keys stop decrypting anything (forward secrecy).
type Tickets struct {
	Secret []byte // random per process; never leaves it
	Epoch  uint64 // current rotation period number
}

// keys returns the ticket keys of one server: the current epoch's first (it encrypts).
func (tk Tickets) keys(parts ...string) [][32]byte {
	cur := append([]string{strconv.FormatUint(tk.Epoch, 10)}, parts...)
	prev := append([]string{strconv.FormatUint(tk.Epoch-1, 10)}, parts...)
	return [][32]byte{ticketKey(tk.Secret, cur...), ticketKey(tk.Secret, prev...)}
}

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
