package translate

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/portcullis/portcullis/internal/decode"
)

// FuzzTranslate: whatever the decoder accepts, Translate must not panic, must be
// deterministic, and must never emit a string that would put CR, LF or NUL on the wire. Seeds are the golden inputs; run longer with
// `go test ./internal/translate -fuzz FuzzTranslate -fuzztime 30s`.
func FuzzTranslate(f *testing.F) {
	ins, _ := filepath.Glob("testdata/*.in.yaml")
	for _, in := range ins {
		data, err := os.ReadFile(in)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		b := decode.Decode(data, "fuzz.yaml")
		s1, d1 := Translate(b, Options{})
		s2, d2 := Translate(b, Options{})
		if string(render(t, s1, d1)) != string(render(t, s2, d2)) {
			t.Fatal("non-deterministic output")
		}
		if err := unsafeOnWire(s1); err != nil {
			t.Fatal(err)
		}
	})
}
