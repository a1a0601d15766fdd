package feature

import (
	"crypto/tls"
	"fmt"
	"path/filepath"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	"github.com/portcullis/portcullis/internal/certs"
)

// Under a bounded load of mTLS requests on keep-alive and on new connections to both
// hosts, inventory's server certificate is rotated several times, its client CA twice
// and its route once. No request fails, each rotation's serial is served, and the
// frontend (its certificate and its keep-alive connection) is never affected.
//
// A client CA rotation is done the way it can be done without failures: publish a bundle
// of old and new CA, move the clients to certificates of the new CA, then drop the old.
func TestRotationUnderLoad(t *testing.T) {
	e := newEnv(t, setup{})
	feSerial := e.serverSerial(fe)
	feKA := e.newClient(fe, fe, true)
	feKA.mustOK(t, "/", "frontend")

	pkis := []string{e.pki} // client PKIs of inventory, oldest first
	clientCfg := func(pki string) *tls.Config { return e.tlsConfig(inv, pki, inv) }
	var workers []*rollingWorker
	for _, keepAlive := range []bool{true, true, false, false} {
		workers = append(workers, newRollingWorker(e, keepAlive, clientCfg(e.pki)))
	}
	fns := []func() error{worker(feKA, "/", "frontend"), worker(e.newClient(fe, fe, false), "/", "frontend")}
	for _, w := range workers {
		fns = append(fns, w.run)
	}
	load := startLoad(t, 2*time.Millisecond, fns...)

	cacert := e.secretData(inv)["cacert"] // the client CA bundle in force
	rotateServer := func() {
		if err := certs.IssueServer(e.pki, inv, certs.Options{}); err != nil {
			t.Fatal(err)
		}
		d := e.secretData(inv)
		d["cacert"] = cacert
		e.putSecret(inv, d, renameOver)
		serial := e.serverSerial(inv)
		t.Logf("server certificate %s served after %v", serial, e.servesSerial(inv, serial))
	}
	caBundle := func(pkis ...string) []byte {
		var b []byte
		for _, p := range pkis {
			b = append(b, read(t, certs.PathsFor(p, inv).Chain)...)
		}
		return b
	}
	rotateClientCA := func(i int) {
		next := filepath.Join(e.dir, fmt.Sprintf("pki-client-ca-%d", i))
		generatePKI(t, next, inv)
		prev := pkis[len(pkis)-1]
		pkis = append(pkis, next)
		d := e.secretData(inv)
		d["cacert"] = caBundle(prev, next) // 1. trust both
		e.putSecret(inv, d, renameOver)
		probe := e.newClientTLS(inv, clientCfg(next), false)
		took := eventually(t, within, "old+new CA bundle in force", func() error { _, err := probe.get("/"); return err })
		cfg := clientCfg(next) // 2. move the clients
		e.clientPKI[inv] = next
		for _, w := range workers {
			w.want.Store(cfg)
		}
		eventually(t, 10*time.Second, "clients moved to the new CA", func() error {
			for _, w := range workers {
				if w.on.Load() != cfg {
					return fmt.Errorf("a worker still uses the old certificate")
				}
			}
			return nil
		})
		d["cacert"] = caBundle(next) // 3. drop the old CA
		cacert = d["cacert"]
		e.putSecret(inv, d, renameOver)
		old := e.newClientTLS(inv, clientCfg(prev), false)
		took2 := eventually(t, within, "old CA dropped", func() error {
			if _, err := old.get("/"); err == nil {
				return fmt.Errorf("old-CA client still accepted")
			}
			return nil
		})
		t.Logf("client CA %d: bundle in force after %v, old CA refused %v after it was dropped", i, took, took2)
	}

	rotateServer()
	rotateClientCA(1)
	rotateServer()
	e.write("virtualservices.yaml", virtualService("frontend", fe, route("/", "frontend"))+"---\n"+
		virtualService("inventory", inv, route("/", "inventory-v2")))
	probe := e.newClientTLS(inv, clientCfg(pkis[len(pkis)-1]), false)
	t.Logf("route changed after %v", eventually(t, within, "route changed", func() error {
		_, err := probe.ok("/items", "inventory-v2")
		return err
	}))
	rotateClientCA(2)
	rotateServer()

	n := load.finish(t)
	t.Logf("%d requests, none failed", n)
	if r := feKA.mustOK(t, "/", "frontend"); r.serial != feSerial || feKA.dials.Load() != 1 {
		t.Errorf("frontend affected: serial %s (want %s), keep-alive dials %d (want 1)", r.serial, feSerial, feKA.dials.Load())
	}
}

// rollingWorker requests inventory with the client certificate it is told to use,
// switching (and closing its old connections) between two requests.
type rollingWorker struct {
	e         *env
	keepAlive bool
	want, on  atomic.Pointer[tls.Config]
	cur       *client
}

func newRollingWorker(e *env, keepAlive bool, cfg *tls.Config) *rollingWorker {
	w := &rollingWorker{e: e, keepAlive: keepAlive}
	w.want.Store(cfg)
	return w
}

func (w *rollingWorker) run() error {
	if cfg := w.want.Load(); cfg != w.on.Load() {
		if w.cur != nil {
			w.cur.tr.CloseIdleConnections()
		}
		w.cur = w.e.newClientTLS(inv, cfg, w.keepAlive)
		w.on.Store(cfg)
	}
	r, err := w.cur.get("/items")
	if err != nil {
		return err
	}
	if r.code != 200 || !slices.Contains([]string{"inventory /items", "inventory-v2 /items"}, r.body) {
		return fmt.Errorf("inventory: %d %q", r.code, r.body)
	}
	return nil
}
