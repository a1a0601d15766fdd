package main

import (
	"reflect"
	"testing"
)

func TestParseBaselines(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want []baseline
		bad  bool
	}{
		{"", nil, false},
		{"/tmp/pc", []baseline{{"baseline", "/tmp/pc"}}, false},
		{"d84ffec=/tmp/a,aafdc4c=/tmp/b", []baseline{{"d84ffec", "/tmp/a"}, {"aafdc4c", "/tmp/b"}}, false},
		{"a=/x,a=/y", nil, true},
		{"nginx=/x", nil, true},
		{"=/x", nil, true},
		{"/x,/y", nil, true}, // two "baseline" targets
	} {
		got, err := parseBaselines(tc.in)
		if (err != nil) != tc.bad {
			t.Errorf("%q: err = %v, want error %v", tc.in, err, tc.bad)
			continue
		}
		if !tc.bad && !reflect.DeepEqual(got, tc.want) {
			t.Errorf("%q = %v, want %v", tc.in, got, tc.want)
		}
	}
}
