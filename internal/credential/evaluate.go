package credential

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"log/slog"
	"time"

	"github.com/portcullis/portcullis/internal/snapshot"
)

// evaluate brings one entry up to date with its inputs: publish a new good version, keep
// the last good one when the new input is invalid, or remove it when its input is gone.
// Each outcome is logged and observed once, not on every Sync.
func (s *Store) evaluate(e *entry, secrets map[string]map[string][]byte, now time.Time, usedCAs map[string]bool) {
	in, err := gather(e.ref, secrets)
	e.source, e.hash = in.source, ""
	if err != nil {
		if HasReason(err, ReasonNotFound) {
			s.remove(e, err)
			return
		}
		s.reject(e, "input:"+err.Error(), err)
		return
	}
	h := in.hash()
	e.hash = h
	if e.served != nil && e.served.Version == h {
		e.lastErr, e.reported = nil, h
		return
	}
	p, ok := s.parsed[h]
	if !ok {
		s.parses++
		p.cred, p.err = parse(in, h, func(ca part) (*caBundle, error) { return s.caFor(ca, usedCAs) })
		s.parsed[h] = p
	}
	if p.err != nil {
		s.reject(e, h, p.err)
		return
	}
	if p.cred.CAFingerprint != "" {
		usedCAs[p.cred.CAFingerprint] = true
	}
	if err := checkValidity(p.cred, now); err != nil {
		// Validity depends on the clock, so the same version is re-checked on later Syncs.
		s.reject(e, h+":"+err.Error(), err)
		return
	}
	e.served, e.lastErr, e.lastGood, e.reported = p.cred, nil, now, h
	c := p.cred
	s.log.Info("credential pushed", append(logAttrs(e.ref),
		"version", c.Version, "serial", c.Serial, "subject", c.Subject,
		"not_after", c.NotAfter.UTC().Format(time.RFC3339), "source", c.Source)...)
	if s.obs != nil {
		s.obs.Pushed(e.name)
		if c.Certificate != nil {
			s.obs.Expiry(e.name, c.NotAfter)
		}
	}
}

// caFor returns the shared parsed pool for these CA bytes; only successes are cached (a
// failure's message names the secret it came from).
func (s *Store) caFor(p part, used map[string]bool) (*caBundle, error) {
	sum := sha256.Sum256(p.data)
	fp := hex.EncodeToString(sum[:])
	if b, ok := s.cas[fp]; ok {
		used[fp] = true
		return b, nil
	}
	s.caParses++
	b, err := parseCA(p)
	if err != nil {
		return nil, err
	}
	s.cas[fp] = b
	used[fp] = true
	return b, nil
}

// reject records err; a last good version keeps being served.
func (s *Store) reject(e *entry, outcome string, err error) {
	e.lastErr = err
	if e.reported == outcome {
		return // already reported
	}
	e.reported = outcome
	level, msg := slog.LevelWarn, "credential rejected"
	attrs := append(logAttrs(e.ref), "error", err.Error())
	if e.served != nil {
		attrs = append(attrs, "serving_version", e.served.Version)
		msg = "credential rejected, serving last good version"
	}
	s.log.Log(context.Background(), level, msg, attrs...)
	if s.obs != nil {
		s.obs.Rejected(e.name, string(FirstReason(err)))
	}
}

// remove stops serving a credential whose input is gone (fail closed: deleting a secret
// is how operators revoke it).
func (s *Store) remove(e *entry, err error) {
	e.lastErr = err
	outcome := "gone:" + err.Error()
	if e.reported == outcome && e.served == nil {
		return
	}
	e.reported = outcome
	if e.served != nil {
		s.log.Warn("credential removed", append(logAttrs(e.ref), "version", e.served.Version, "error", err.Error())...)
		e.served = nil
		s.forget(e)
	} else {
		s.log.Warn("credential rejected", append(logAttrs(e.ref), "error", err.Error())...)
	}
	if s.obs != nil {
		s.obs.Rejected(e.name, string(ReasonNotFound))
	}
}

// HasReason reports whether any *Error in err has reason r.
func HasReason(err error, r Reason) bool {
	for _, e := range Errors(err) {
		if e.Reason == r {
			return true
		}
	}
	return false
}

// Load builds and validates one credential without a Store or caches, e.g. for a one-shot
// check. The error lists every failing input (see Errors).
func Load(ref snapshot.CredentialRef, secrets map[string]map[string][]byte, now time.Time) (*Credential, error) {
	in, err := gather(ref, secrets)
	if err != nil {
		return nil, err
	}
	c, err := parse(in, in.hash(), parseCA)
	if err != nil {
		return nil, err
	}
	if err := checkValidity(c, now); err != nil {
		return nil, err
	}
	return c, nil
}
