package listener

import (
	"crypto/hmac"
	"crypto/sha256"
	"crypto/tls"
	"encoding/binary"
	"strconv"
	"time"
)

// MaxTicketAge bounds how long after its session was established a session ticket may
// resume it. crypto/tls tells TLS 1.3 clients a fixed 7-day ticket lifetime and accepts
// tickets for as long (its maxSessionTicketLifetime, not configurable); a day is what
// forward-secrecy guidance (and scanners such as testssl) ask for. The ticket keys rotate
// faster still (dataplane TicketKeyRotation, default 12h, two epochs accepted).
const MaxTicketAge = 24 * time.Hour

// Tickets is the input of session ticket key derivation. Keys rotate by epoch: a
// config built in epoch E issues tickets under E's key and still accepts E-1's, so a
// ticket lives at most two epochs and old keys stop decrypting anything (forward secrecy).
type Tickets struct {
	Secret []byte // random per process; never leaves it
	Epoch  uint64 // current rotation period number
	// Now is the clock of the handshakes (tls.Config.Time): ticket creation and age. Nil
	// is time.Now; tests set it to age tickets without waiting.
	Now func() time.Time
	// TLS13 issues and accepts session tickets on TLS 1.3 connections too. Off, TLS 1.3
	// connections get no tickets (and resume none): crypto/tls tells TLS 1.3 clients a
	// fixed 7-day ticket lifetime it has no setting for, which audits (testssl: "valid for
	// 604800 seconds (>daily)", LOW) report although MaxTicketAge refuses tickets after a
	// day. TLS 1.2 tickets carry no lifetime hint and stay on.
	TLS13 bool
}

func (tk Tickets) now() time.Time {
	if tk.Now != nil {
		return tk.Now()
	}
	return time.Now()
}

// unwrap returns cfg's UnwrapSession: decrypt the ticket with cfg's keys as crypto/tls
// would, then refuse (a full handshake follows) a session older than MaxTicketAge.
func (tk Tickets) unwrap(cfg *tls.Config) func([]byte, tls.ConnectionState) (*tls.SessionState, error) {
	return func(identity []byte, cs tls.ConnectionState) (*tls.SessionState, error) {
		ss, err := cfg.DecryptTicket(identity, cs)
		if ss == nil || err != nil {
			return nil, nil // not ours, or undecryptable: a full handshake, as crypto/tls does
		}
		created, ok := sessionCreated(ss)
		if !ok || tk.now().Sub(created) > MaxTicketAge {
			return nil, nil
		}
		return ss, nil
	}
}

// sessionCreated reads when a server-side session was established. SessionState keeps
// it unexported, but its encoding (SessionState.Bytes, documented in crypto/tls's
// ticket.go and kept backward compatible because Go versions share ticket keys) starts
// with uint16 version, uint8 type (1 = server), uint16 cipher_suite, uint64 created_at.
// crypto/tls keeps the original time when it re-issues a resumed TLS 1.2 session's
// ticket, so a session cannot be stretched by resuming it.
func sessionCreated(ss *tls.SessionState) (time.Time, bool) {
	b, err := ss.Bytes()
	if err != nil || len(b) < 13 || b[2] != 1 {
		return time.Time{}, false
	}
	return time.Unix(int64(binary.BigEndian.Uint64(b[5:13])), 0), true
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
