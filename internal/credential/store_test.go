package credential

import (
	"bytes"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/portcullis/portcullis/internal/snapshot"
)

const inventory = "istio-system/inventory-credential"

// recorder is an Observer that records events as strings.
type recorder struct {
	mu     sync.Mutex
	events []string
}

func (r *recorder) add(s string)                 { r.mu.Lock(); r.events = append(r.events, s); r.mu.Unlock() }
func (r *recorder) Pushed(name string)           { r.add("pushed " + name) }
func (r *recorder) Rejected(name, reason string) { r.add("rejected " + name + " " + reason) }
func (r *recorder) Removed(name string)          { r.add("removed " + name) }
func (r *recorder) Expiry(name string, na time.Time) {
	r.add("expiry " + name + " " + na.UTC().Format(time.RFC3339))
}
func (r *recorder) take() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	e := r.events
	r.events = nil
	return e
}

type fixture struct {
	store   *Store
	clock   *fakeClock
	obs     *recorder
	logs    *bytes.Buffer
	changes int
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	f := &fixture{clock: newClock(t0), obs: &recorder{}, logs: &bytes.Buffer{}}
	log := slog.New(slog.NewTextHandler(f.logs, &slog.HandlerOptions{
		ReplaceAttr: func(_ []string, a slog.Attr) slog.Attr {
			if a.Key == slog.TimeKey {
				return slog.Attr{}
			}
			return a
		}}))
	f.store = New(log, f.clock.Now, f.obs)
	f.store.OnChange(func() { f.changes++ })
	return f
}

// serving returns the served serial of key ("" when absent).
func (f *fixture) serving(key string) string {
	c, ok := f.store.Get(key)
	if !ok {
		return ""
	}
	return c.Serial
}

func TestStoreLifecycle(t *testing.T) {
	ca := newCA(t, "frontend")
	m1, m2 := newMaterial(t, ca, "frontend.foocorp.com"), newMaterial(t, ca, "frontend.foocorp.com")
	f := newFixture(t)
	refs := []snapshot.CredentialRef{mutual}
	key := mutual.Key()
	serial := func(m material) string { return m.leafCert.SerialNumber.Text(16) }
	na := m1.leafCert.NotAfter.Format(time.RFC3339)
	bad := m2.generic()
	bad["key"] = m1.key // mismatch

	steps := []struct {
		name    string
		secrets map[string]map[string][]byte
		serving string
		events  []string
		changed bool
		lastErr string
	}{
		{"push", map[string]map[string][]byte{frontend: m1.generic()}, serial(m1),
			[]string{"pushed " + frontend, "expiry " + frontend + " " + na}, true, ""},
		{"unchanged", map[string]map[string][]byte{frontend: m1.generic()}, serial(m1), nil, false, ""},
		{"invalid keeps last good", map[string]map[string][]byte{frontend: bad}, serial(m1),
			[]string{"rejected " + frontend + " key_mismatch"}, false, `key "key": key does not match certificate`},
		{"invalid again is not re-reported", map[string]map[string][]byte{frontend: bad}, serial(m1), nil, false, "key does not match"},
		{"rotate", map[string]map[string][]byte{frontend: m2.generic()}, serial(m2),
			[]string{"pushed " + frontend, "expiry " + frontend + " " + na}, true, ""},
		{"deleted fails closed", map[string]map[string][]byte{}, "",
			[]string{"removed " + frontend, "rejected " + frontend + " not_found"}, true, "secret not found"},
		{"still deleted", nil, "", nil, false, "secret not found"},
		{"recreated", map[string]map[string][]byte{frontend: m2.generic()}, serial(m2),
			[]string{"pushed " + frontend, "expiry " + frontend + " " + na}, true, ""},
	}
	for _, s := range steps {
		before := f.changes
		f.store.Sync(refs, s.secrets)
		if got := f.serving(key); got != s.serving {
			t.Errorf("%s: serving serial %q, want %q", s.name, got, s.serving)
		}
		if diff := cmp.Diff(s.events, f.obs.take()); diff != "" {
			t.Errorf("%s: observer events (-want +got):\n%s", s.name, diff)
		}
		if changed := f.changes != before; changed != s.changed {
			t.Errorf("%s: OnChange called = %v, want %v", s.name, changed, s.changed)
		}
		st := f.store.Status()
		if len(st) != 1 || !strings.Contains(st[0].LastError, s.lastErr) || (s.lastErr == "") != (st[0].LastError == "") {
			t.Errorf("%s: status %+v, want last error containing %q", s.name, st, s.lastErr)
		}
	}
	// A rejected update while serving says so in diagnostics.
	f.store.Sync(refs, map[string]map[string][]byte{frontend: bad})
	if ds := f.store.Diagnostics(); len(ds) != 1 || !strings.HasSuffix(ds[0].Message, "(serving last good version "+f.store.Status()[0].Version+")") {
		t.Errorf("diagnostics %v", ds)
	}
	f.obs.take()
	// Unreferenced credentials are dropped.
	f.store.Sync(nil, map[string]map[string][]byte{frontend: m2.generic()})
	if _, ok := f.store.Get(key); ok || len(f.store.Status()) != 0 {
		t.Error("unreferenced credential still present")
	}
	if got := strings.Count(f.logs.String(), `msg="credential pushed"`); got != 3 {
		t.Errorf("%d push log lines, want 3:\n%s", got, f.logs)
	}
}

func TestStorePushLog(t *testing.T) {
	ca := newCA(t, "inventory")
	m := newMaterial(t, ca, "inventory.foocorp.com")
	f := newFixture(t)
	f.store.Sync([]snapshot.CredentialRef{{Secret: inventory}}, map[string]map[string][]byte{inventory: m.generic()})
	c, _ := f.store.Get("secret:" + inventory)
	want := fmt.Sprintf("level=INFO msg=\"credential pushed\" name=inventory-credential namespace=istio-system key=secret:%s version=%s serial=%s subject=\"CN=inventory.foocorp.com\" not_after=%s source=\"secret %s\"\n",
		inventory, c.Version, c.Serial, c.NotAfter.Format(time.RFC3339), inventory)
	if diff := cmp.Diff(want, f.logs.String()); diff != "" {
		t.Errorf("log (-want +got):\n%s", diff)
	}
}

func TestStoreNeverGoodIsAbsentWithError(t *testing.T) {
	f := newFixture(t)
	f.store.Sync([]snapshot.CredentialRef{mutual}, map[string]map[string][]byte{frontend: {"cert": []byte("x"), "key": []byte("y")}})
	if _, ok := f.store.Get(mutual.Key()); ok {
		t.Fatal("invalid credential served")
	}
	ds := f.store.Diagnostics()
	if len(ds) != 2 || ds[0].Field != "data.cert" || ds[1].Field != "data.cacert" || ds[1].Name != "frontend-credential" || ds[1].Namespace != "istio-system" {
		t.Errorf("diagnostics %+v", ds)
	}
	st := f.store.Status()
	if len(st) != 1 || st[0].Serving || st[0].LastError == "" || !st[0].LastGood.IsZero() {
		t.Errorf("status %+v", st)
	}
}

func TestStoreParseOnceAndShareCA(t *testing.T) {
	ca := newCA(t, "foocorp")
	fm, im := newMaterial(t, ca, "frontend.foocorp.com"), newMaterial(t, ca, "inventory.foocorp.com")
	f := newFixture(t)
	simple := snapshot.CredentialRef{Secret: frontend} // same key as mutual: merged, CA needed
	refs := []snapshot.CredentialRef{simple, mutual, {Secret: inventory, NeedCA: true}}
	secrets := map[string]map[string][]byte{frontend: fm.generic(), inventory: im.generic()}
	for range 3 {
		f.store.Sync(refs, secrets)
	}
	if f.store.parses != 2 || f.store.caParses != 1 {
		t.Errorf("parses=%d caParses=%d, want 2 and 1", f.store.parses, f.store.caParses)
	}
	a, _ := f.store.Get(mutual.Key())
	b, _ := f.store.Get("secret:" + inventory)
	if a == nil || b == nil || a.ClientCAs == nil || a.ClientCAs != b.ClientCAs || a.CAFingerprint != b.CAFingerprint {
		t.Fatal("credentials with identical CA bytes do not share one pool")
	}
	// A change of unrelated keys of the secret does not reparse.
	secrets[frontend]["unrelated"] = []byte("x")
	f.store.Sync(refs, secrets)
	if f.store.parses != 2 {
		t.Errorf("parses=%d after unrelated change, want 2", f.store.parses)
	}
	// Caches are bounded to what is in use.
	f.store.Sync(nil, nil)
	if len(f.store.parsed) != 0 || len(f.store.cas) != 0 {
		t.Errorf("caches not pruned: %d parsed, %d CAs", len(f.store.parsed), len(f.store.cas))
	}
}

func TestStoreNotYetValidBecomesValid(t *testing.T) {
	ca := newCA(t, "frontend")
	c, k := ca.leaf(t, "frontend.foocorp.com", t0.Add(time.Hour), t0.Add(48*time.Hour))
	f := newFixture(t)
	f.store.Sync([]snapshot.CredentialRef{mutual}, map[string]map[string][]byte{frontend: {
		"cert": certsPEM(c, ca.inter), "key": keyPEM(t, k), "cacert": ca.chainPEM()}})
	if _, ok := f.store.Get(mutual.Key()); ok {
		t.Fatal("not-yet-valid credential served")
	}
	f.clock.Set(t0.Add(2 * time.Hour))
	f.store.Resync()
	if _, ok := f.store.Get(mutual.Key()); !ok {
		t.Fatal("credential not served once valid")
	}
	if f.store.parses != 1 {
		t.Errorf("parses=%d, want 1", f.store.parses)
	}
}

func TestSyncSnapshotUsers(t *testing.T) {
	ca := newCA(t, "frontend")
	m := newMaterial(t, ca, "frontend.foocorp.com")
	snap := &snapshot.Snapshot{Listeners: []snapshot.Listener{{Name: "https_443", Port: 443, Servers: []snapshot.Server{
		{Name: "default/gw/https-b", TLS: &snapshot.TLS{Mode: snapshot.TLSMutual, Credential: mutual}},
		{Name: "default/gw/https-a", TLS: &snapshot.TLS{Mode: snapshot.TLSSimple, Credential: snapshot.CredentialRef{Secret: frontend}}},
		{Name: "default/gw/http"},
	}}}}
	f := newFixture(t)
	f.store.SyncSnapshot(snap, map[string]map[string][]byte{frontend: m.generic()})
	st := f.store.Status()
	if len(st) != 1 || !st[0].Serving || st[0].CAFingerprint == "" {
		t.Fatalf("status %+v", st)
	}
	if diff := cmp.Diff([]string{"default/gw/https-a", "default/gw/https-b"}, st[0].Users); diff != "" {
		t.Errorf("users (-want +got):\n%s", diff)
	}
}

func TestStoreCACertSecretPrecedence(t *testing.T) {
	ca, other := newCA(t, "frontend"), newCA(t, "other")
	m := newMaterial(t, ca, "frontend.foocorp.com")
	f := newFixture(t)
	refs := []snapshot.CredentialRef{mutual}
	fingerprint := func() string {
		c, ok := f.store.Get(mutual.Key())
		if !ok {
			t.Fatal("not served")
		}
		return c.CAFingerprint
	}
	f.store.Sync(refs, map[string]map[string][]byte{frontend: m.generic(), frontend + "-cacert": {"ca.crt": other.chainPEM()}})
	withSecret := fingerprint()
	f.store.Sync(refs, map[string]map[string][]byte{frontend: m.generic()})
	if fp := fingerprint(); fp == withSecret || fp == "" {
		t.Error("CA did not fall back to the credential's own cacert when the -cacert secret went away")
	}
}
