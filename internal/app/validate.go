package app

import (
	"io"
	"log/slog"
	"time"

	"github.com/portcullis/portcullis/internal/credential"
	"github.com/portcullis/portcullis/internal/diag"
	"github.com/portcullis/portcullis/internal/snapshot"
	"github.com/portcullis/portcullis/internal/source/file"
	"github.com/portcullis/portcullis/internal/status"
)

// Validate loads the configuration as `run` would and returns every diagnostic: decode
// errors, translation findings and credential failures. The error is for problems that
// prevent validation altogether (a path that does not exist).
func Validate(o Options) ([]diag.Diagnostic, error) {
	_, _, ds, _, err := loadOffline(o)
	return ds, err
}

// ValidateStatus is Validate plus the Gateway API status the configuration would get.
func ValidateStatus(o Options) ([]diag.Diagnostic, []status.Update, error) {
	_, _, ds, st, err := loadOffline(o)
	return ds, st, err
}

// loadOffline loads, translates and reads the credentials of o's files once, as `run`
// would, without serving: the snapshot, the credential store and every diagnostic.
func loadOffline(o Options) (*snapshot.Snapshot, *credential.Store, []diag.Diagnostic, []status.Update, error) {
	o.Defaults()
	b, err := file.Load(file.Options{Paths: o.ConfigPaths, CredentialsDir: o.CredentialsDir, Namespace: o.Namespace})
	if err != nil {
		return nil, nil, nil, nil, err
	}
	gw := gatewayAPI(b, o)
	b = gw.Bundle
	snap, ds := translateWith(b, o, gw.HTTP2Hosts)
	store := credential.New(discardLogger(), time.Now, nil)
	secrets, secretDiags := secretData(b)
	store.Sync(credentialRefs(snap), secrets)
	ds = append(ds, secretDiags...)
	ds = append(ds, store.Diagnostics()...)
	diag.Sort(ds)
	return snap, store, ds, gw.Status, nil
}

func discardLogger() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }
