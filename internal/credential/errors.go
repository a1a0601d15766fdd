package credential

import (
	"errors"
	"strconv"

	"github.com/portcullis/portcullis/internal/diag"
)

// Reason classifies why a credential was rejected. It is a small, fixed set so metrics can
// use it as a label.
type Reason string

const (
	ReasonNotFound    Reason = "not_found"     // secret or file absent
	ReasonMissingKey  Reason = "missing_key"   // a required data key is absent or empty
	ReasonBadCert     Reason = "bad_cert"      // certificate PEM/DER does not parse
	ReasonBadKey      Reason = "bad_key"       // private key does not parse
	ReasonKeyMismatch Reason = "key_mismatch"  // key does not match the certificate
	ReasonBadChain    Reason = "bad_chain"     // chain does not build leaf -> intermediates
	ReasonExpired     Reason = "expired"       // a certificate of the chain has expired
	ReasonNotYetValid Reason = "not_yet_valid" // a certificate of the chain is not yet valid
	ReasonMissingCA   Reason = "missing_ca"    // client verification needs a CA bundle
	ReasonBadCA       Reason = "bad_ca"        // CA bundle does not parse
	ReasonBadCRL      Reason = "bad_crl"       // CRL does not parse or is not signed by the CA
)

// Origin locates one input of a credential: a key of a Secret, or a file.
type Origin struct {
	Namespace string // secret
	Name      string // secret
	DataKey   string // secret data key, e.g. "cert"; "" when the whole secret is meant
	File      string // file-mount path (then the secret fields are empty)
}

func (o Origin) String() string {
	if o.File != "" {
		return "file " + o.File
	}
	s := "secret " + o.Namespace + "/" + o.Name
	if o.DataKey != "" {
		s += " key " + strconv.Quote(o.DataKey)
	}
	return s
}

// Error is one validation failure of one input, e.g.
// `secret istio-system/frontend-credential key "cert": no PEM certificate found`.
type Error struct {
	Origin Origin
	Reason Reason
	Detail string
	Err    error // underlying cause, may be nil
}

func (e *Error) Error() string {
	msg := e.Origin.String() + ": " + e.Detail
	if e.Err != nil {
		msg += ": " + e.Err.Error()
	}
	return msg
}

func (e *Error) Unwrap() error { return e.Err }

// Diagnostic converts the error for `portcullis validate`.
func (e *Error) Diagnostic() diag.Diagnostic {
	d := diag.Diagnostic{Severity: diag.Error, Message: e.Detail}
	if e.Err != nil {
		d.Message += ": " + e.Err.Error()
	}
	if e.Origin.File != "" {
		d.File = e.Origin.File
		return d
	}
	d.Kind, d.Namespace, d.Name = "Secret", e.Origin.Namespace, e.Origin.Name
	if e.Origin.DataKey != "" {
		d.Field = "data." + e.Origin.DataKey
	}
	return d
}

// Errors flattens an error (possibly errors.Join of several) into its *Error parts.
func Errors(err error) []*Error {
	if err == nil {
		return nil
	}
	var out []*Error
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		for _, e := range j.Unwrap() {
			out = append(out, Errors(e)...)
		}
		return out
	}
	var e *Error
	if errors.As(err, &e) {
		return []*Error{e}
	}
	return nil
}

// FirstReason is the reason of the first *Error in err ("" if none).
func FirstReason(err error) Reason {
	if es := Errors(err); len(es) > 0 {
		return es[0].Reason
	}
	return ""
}
