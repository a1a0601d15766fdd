package credential

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io/fs"
	"os"
	"strings"

	"github.com/portcullis/portcullis/internal/snapshot"
)

// Data keys Istio accepts, in both layouts.
const (
	keyCert, keyKey, keyCA, keyCRL             = "cert", "key", "cacert", "crl"
	keyTLSCert, keyTLSKey, keyTLSCA, keyTLSCRL = "tls.crt", "tls.key", "ca.crt", "ca.crl"
	caSecretSuffix                             = "-cacert"
)

// part is one raw input of a credential and where it came from.
type part struct {
	origin Origin
	data   []byte
}

func (p part) present() bool { return len(p.data) > 0 }

// input is everything one credential is built from, before parsing.
type input struct {
	ref                snapshot.CredentialRef
	source             string
	cert, key, ca, crl part
	// caErr: client verification needs a CA and there is none. Reported with the
	// certificate's own problems by parse, so one validate run shows them all.
	caErr error
}

// hash is the content hash of the input: the parse cache key and the credential version.
// It covers the bytes actually used (not unrelated keys of the secret) and NeedCA.
func (in input) hash() string {
	h := sha256.New()
	for _, p := range []part{in.cert, in.key, in.ca, in.crl} {
		h.Write([]byte(p.origin.String()))
		h.Write([]byte{0})
		var n [8]byte
		l := uint64(len(p.data))
		for i := range n {
			n[i] = byte(l >> (8 * i))
		}
		h.Write(n[:])
		h.Write(p.data)
	}
	if in.ref.NeedCA {
		h.Write([]byte{1})
	}
	return hex.EncodeToString(h.Sum(nil))[:16]
}

// gather collects the inputs of ref from secrets ("ns/name" -> data) or the file system.
func gather(ref snapshot.CredentialRef, secrets map[string]map[string][]byte) (input, error) {
	if ref.Files != nil {
		return gatherFiles(ref)
	}
	return gatherSecret(ref, secrets)
}

func gatherSecret(ref snapshot.CredentialRef, secrets map[string]map[string][]byte) (input, error) {
	ns, name, _ := strings.Cut(ref.Secret, "/")
	in := input{ref: ref, source: "secret " + ref.Secret}
	at := func(k string, d map[string][]byte) part {
		return part{origin: Origin{Namespace: ns, Name: name, DataKey: k}, data: d[k]}
	}
	data, ok := secrets[ref.Secret]
	if !ok && ref.CAOnly {
		// Only the CA is wanted (Istio's "<name>-cacert" resource): the companion secret
		// alone is enough.
		data, ok = secrets[ref.Secret+caSecretSuffix]
		if ok {
			data = map[string][]byte{}
		}
	}
	if !ok {
		return in, &Error{Origin: Origin{Namespace: ns, Name: name}, Reason: ReasonNotFound, Detail: "secret not found"}
	}
	switch {
	case ref.CAOnly:
		// SIMPLE upstream TLS: the certificate and key of the secret, if any, are unused.
	case has(data, keyCert, keyKey):
		in.cert, in.key = at(keyCert, data), at(keyKey, data)
	case has(data, keyTLSCert, keyTLSKey):
		in.cert, in.key = at(keyTLSCert, data), at(keyTLSKey, data)
	default:
		return in, missingPair(ns, name, data)
	}
	if !ref.NeedCA {
		return in, nil // SIMPLE TLS ignores any CA, as Istio does
	}
	// The CA comes from "<name>-cacert" when that secret exists, else from the secret itself.
	caData, caName := data, name
	if d, ok := secrets[ref.Secret+caSecretSuffix]; ok {
		caData, caName = d, name+caSecretSuffix
		in.source += " (ca from secret " + ns + "/" + caName + ")"
	}
	atCA := func(k string) part {
		return part{origin: Origin{Namespace: ns, Name: caName, DataKey: k}, data: caData[k]}
	}
	switch {
	case has(caData, keyCA):
		in.ca, in.crl = atCA(keyCA), atCA(keyCRL)
	case has(caData, keyTLSCA):
		in.ca, in.crl = atCA(keyTLSCA), atCA(keyTLSCRL)
	default:
		in.caErr = &Error{Origin: Origin{Namespace: ns, Name: caName, DataKey: keyCA}, Reason: ReasonMissingCA,
			Detail: `client verification needs a CA bundle in key "cacert" or "ca.crt"` + caHint(caName, name, ns)}
	}
	return in, nil
}

func caHint(caName, name, ns string) string {
	if caName != name {
		return ""
	}
	return " (or a secret " + ns + "/" + name + caSecretSuffix + ")"
}

// has reports whether every key is present with a non-empty value.
func has(d map[string][]byte, keys ...string) bool {
	for _, k := range keys {
		if len(d[k]) == 0 {
			return false
		}
	}
	return true
}

// missingPair names the key that is missing from a secret lacking a cert/key pair.
func missingPair(ns, name string, d map[string][]byte) error {
	miss := func(k string) error {
		return &Error{Origin: Origin{Namespace: ns, Name: name, DataKey: k}, Reason: ReasonMissingKey, Detail: "missing or empty"}
	}
	switch {
	case len(d[keyCert]) > 0:
		return miss(keyKey)
	case len(d[keyKey]) > 0:
		return miss(keyCert)
	case len(d[keyTLSCert]) > 0:
		return miss(keyTLSKey)
	case len(d[keyTLSKey]) > 0:
		return miss(keyTLSCert)
	}
	return &Error{Origin: Origin{Namespace: ns, Name: name}, Reason: ReasonMissingKey,
		Detail: `no certificate: expected keys "cert" and "key", or "tls.crt" and "tls.key"`}
}

func gatherFiles(ref snapshot.CredentialRef) (input, error) {
	f := ref.Files
	in := input{ref: ref, source: "files cert=" + f.Certificate + " key=" + f.PrivateKey}
	read := func(path string, required bool) (part, error) {
		p := part{origin: Origin{File: path}}
		if path == "" {
			if required {
				return p, &Error{Origin: p.origin, Reason: ReasonMissingKey, Detail: "path not set"}
			}
			return p, nil
		}
		b, err := os.ReadFile(path)
		switch {
		case errors.Is(err, fs.ErrNotExist):
			return p, &Error{Origin: p.origin, Reason: ReasonNotFound, Detail: "file not found"}
		case err != nil:
			return p, &Error{Origin: p.origin, Reason: ReasonNotFound, Detail: "cannot read", Err: err}
		case len(b) == 0 && required:
			return p, &Error{Origin: p.origin, Reason: ReasonMissingKey, Detail: "file is empty"}
		}
		p.data = b
		return p, nil
	}
	var errs []error
	var err error
	if ref.CAOnly {
		in.source = "files"
	} else {
		if in.cert, err = read(f.Certificate, true); err != nil {
			errs = append(errs, err)
		}
		if in.key, err = read(f.PrivateKey, true); err != nil {
			errs = append(errs, err)
		}
	}
	if ref.NeedCA {
		in.source += " ca=" + f.CACerts
		if f.CACerts == "" {
			in.caErr = &Error{Origin: Origin{File: f.Certificate}, Reason: ReasonMissingCA,
				Detail: "client verification needs caCertificates"}
		} else if in.ca, err = read(f.CACerts, true); err != nil {
			errs = append(errs, err)
		}
		if in.crl, err = read(f.CRL, false); err != nil {
			errs = append(errs, err)
		}
	}
	return in, errors.Join(errs...)
}
