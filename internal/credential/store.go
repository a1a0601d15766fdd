package credential

import (
	"log/slog"
	"maps"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/portcullis/portcullis/internal/snapshot"
)

// Observer is told about credential events (the metrics package implements it). name is
// "namespace/name" for secrets and the certificate path for file mounts; reason is a Reason.
type Observer interface {
	Pushed(name string)
	Rejected(name, reason string)
	Expiry(name string, notAfter time.Time)
}

// Remover is optionally implemented by an Observer that wants to forget a credential
// (e.g. delete its expiry gauge) when it is removed or no longer referenced.
type Remover interface {
	Removed(name string)
}

// Store holds the credentials the current snapshot references. Sync updates it; Get is
// lock-free for the handshake path.
type Store struct {
	log   *slog.Logger
	clock func() time.Time
	obs   Observer

	current atomic.Pointer[map[string]*Credential] // immutable once stored

	mu          sync.Mutex // serializes Sync; guards the fields below
	entries     map[string]*entry
	parsed      map[string]parsed    // input hash -> parse result (parse once per version)
	cas         map[string]*caBundle // sha256 of CA bytes -> shared parsed pool
	lastRefs    []snapshot.CredentialRef
	lastUsers   map[string][]string
	lastSecrets map[string]map[string][]byte
	parses      int // parse calls, for tests
	caParses    int // CA bundle parses, for tests

	subMu   sync.Mutex
	subs    map[int]func()
	nextSub int
}

type parsed struct {
	cred *Credential
	err  error
}

// entry is the state of one referenced credential.
type entry struct {
	ref      snapshot.CredentialRef
	name     string // observer/display name
	source   string
	users    []string
	served   *Credential // last good version, nil when none (never good, or removed)
	lastErr  error
	lastGood time.Time
	hash     string // input hash last evaluated ("" when the input could not be gathered)
	reported string // last outcome logged and observed, so each is reported once
}

// New returns an empty store. logger and obs may be nil; clock nil means time.Now.
func New(logger *slog.Logger, clock func() time.Time, obs Observer) *Store {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	if clock == nil {
		clock = time.Now
	}
	s := &Store{log: logger, clock: clock, obs: obs, entries: map[string]*entry{},
		parsed: map[string]parsed{}, cas: map[string]*caBundle{}, subs: map[int]func(){}}
	empty := map[string]*Credential{}
	s.current.Store(&empty)
	return s
}

// Get returns the served credential for a CredentialRef.Key(). Lock-free.
func (s *Store) Get(key string) (*Credential, bool) {
	c, ok := (*s.current.Load())[key]
	return c, ok
}

// OnChange registers fn to be called (synchronously, from the goroutine running Sync)
// after the set of served credentials changed. It returns a function that unregisters fn.
func (s *Store) OnChange(fn func()) (cancel func()) {
	s.subMu.Lock()
	defer s.subMu.Unlock()
	id := s.nextSub
	s.nextSub++
	s.subs[id] = fn
	return func() {
		s.subMu.Lock()
		defer s.subMu.Unlock()
		delete(s.subs, id)
	}
}

// Sync makes the store serve exactly the credentials refs reference, built from secrets
// ("namespace/name" -> data) or from files. The maps must not be modified afterwards.
func (s *Store) Sync(refs []snapshot.CredentialRef, secrets map[string]map[string][]byte) {
	s.sync(refs, nil, secrets)
}

// SyncSnapshot is Sync for every credential snap references, recording which servers
// use each one (shown by Status).
func (s *Store) SyncSnapshot(snap *snapshot.Snapshot, secrets map[string]map[string][]byte) {
	var refs []snapshot.CredentialRef
	users := map[string][]string{}
	if snap != nil {
		for _, l := range snap.Listeners {
			for _, srv := range l.Servers {
				if srv.TLS == nil {
					continue
				}
				refs = append(refs, srv.TLS.Credential)
				k := srv.TLS.Credential.Key()
				users[k] = append(users[k], srv.Name)
			}
		}
		for _, c := range snap.Clusters {
			if c.TLS != nil && c.TLS.Credential != nil {
				refs = append(refs, *c.TLS.Credential) // upstream TLS (DestinationRule)
				k := c.TLS.Credential.Key()
				users[k] = append(users[k], c.Name)
			}
		}
	}
	s.sync(refs, users, secrets)
}

// Resync re-evaluates the last Sync's inputs: re-reads file mounts and re-checks validity
// against the clock (a not-yet-valid certificate becomes servable).
func (s *Store) Resync() {
	s.mu.Lock()
	refs, users, secrets := s.lastRefs, s.lastUsers, s.lastSecrets
	s.mu.Unlock()
	s.sync(refs, users, secrets)
}

func (s *Store) sync(refs []snapshot.CredentialRef, users map[string][]string, secrets map[string]map[string][]byte) {
	s.mu.Lock()
	changed := s.syncLocked(refs, users, secrets)
	s.mu.Unlock()
	if changed {
		s.notify()
	}
}

func (s *Store) syncLocked(refs []snapshot.CredentialRef, users map[string][]string, secrets map[string]map[string][]byte) bool {
	s.lastRefs, s.lastUsers, s.lastSecrets = refs, users, secrets
	// One entry per key; a credential used for client verification anywhere needs its CA.
	want := map[string]snapshot.CredentialRef{}
	for _, r := range refs {
		k := r.Key()
		if prev, ok := want[k]; ok && prev.NeedCA {
			r.NeedCA = true
		}
		want[k] = r
	}
	for k, e := range s.entries {
		if _, ok := want[k]; !ok {
			s.log.Info("credential dropped", "name", e.name, "key", k, "reason", "no longer referenced")
			s.forget(e)
			delete(s.entries, k)
		}
	}
	usedHashes, usedCAs := map[string]bool{}, map[string]bool{}
	now := s.clock()
	for k, r := range want {
		e := s.entries[k]
		if e == nil {
			e = &entry{name: displayName(r)}
			s.entries[k] = e
		}
		e.ref, e.users = r, sortedCopy(users[k])
		s.evaluate(e, secrets, now, usedCAs)
		if e.hash != "" {
			usedHashes[e.hash] = true
		}
		if e.served != nil {
			usedHashes[e.served.Version] = true
		}
	}
	// Keep caches bounded by what is in use.
	for h, p := range s.parsed {
		if !usedHashes[h] {
			delete(s.parsed, h)
		} else if p.cred != nil && p.cred.CAFingerprint != "" {
			usedCAs[p.cred.CAFingerprint] = true
		}
	}
	for fp := range s.cas {
		if !usedCAs[fp] {
			delete(s.cas, fp)
		}
	}
	return s.publish()
}

// publish swaps in a new immutable map if the served set changed.
func (s *Store) publish() bool {
	next := map[string]*Credential{}
	for k, e := range s.entries {
		if e.served != nil {
			next[k] = e.served
		}
	}
	if maps.Equal(next, *s.current.Load()) {
		return false
	}
	s.current.Store(&next)
	return true
}

func (s *Store) notify() {
	s.subMu.Lock()
	fns := make([]func(), 0, len(s.subs))
	ids := make([]int, 0, len(s.subs))
	for id := range s.subs {
		ids = append(ids, id)
	}
	sort.Ints(ids)
	for _, id := range ids {
		fns = append(fns, s.subs[id])
	}
	s.subMu.Unlock()
	for _, fn := range fns {
		fn()
	}
}

func (s *Store) forget(e *entry) {
	if r, ok := s.obs.(Remover); ok && s.obs != nil {
		r.Removed(e.name)
	}
}

// displayName is the observer name: "namespace/name" or the certificate file.
func displayName(r snapshot.CredentialRef) string {
	if r.Files != nil {
		if r.CAOnly {
			return r.Files.CACerts
		}
		return r.Files.Certificate
	}
	return r.Secret
}

// logAttrs names a credential in logs the way Istio's SDS does (name=frontend-credential).
func logAttrs(r snapshot.CredentialRef) []any {
	if r.Files != nil {
		return []any{"name", displayName(r), "key", r.Key()}
	}
	ns, name, _ := strings.Cut(r.Secret, "/")
	return []any{"name", name, "namespace", ns, "key", r.Key()}
}

func sortedCopy(s []string) []string {
	if len(s) == 0 {
		return nil
	}
	out := append([]string(nil), s...)
	sort.Strings(out)
	return out
}
