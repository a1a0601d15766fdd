package main

import (
	"net/url"
	"testing"
	"time"
)

func TestContainerLogRender(t *testing.T) {
	var l ctrLog
	_, _ = l.Write([]byte("old run\n"))
	l.restart()
	_, _ = l.Write([]byte("one\ntw"))
	_, _ = l.Write([]byte("o\n"))
	t0 := time.Now()
	l.cur[0].t = t0.Add(-time.Minute) // "one" a minute ago
	_, _ = l.Write([]byte("three"))   // no newline yet
	for _, tc := range []struct {
		query, want string
	}{
		{"", "one\ntwo\nthree"},
		{"tailLines=2", "two\nthree"},
		{"sinceSeconds=30", "two\nthree"},
		{"sinceTime=" + url.QueryEscape(t0.Add(-30*time.Second).UTC().Format(time.RFC3339)), "two\nthree"},
		{"limitBytes=5", "one\nt"},
		{"previous=true", "old run\n"},
	} {
		q, _ := url.ParseQuery(tc.query)
		opts, err := parseLogOpts(q)
		if err != nil {
			t.Fatalf("%s: %v", tc.query, err)
		}
		b, err := l.render(opts, t0)
		if err != nil || string(b) != tc.want {
			t.Errorf("%s: %q %v, want %q", tc.query, b, err, tc.want)
		}
	}
	b, _ := l.render(logOpts{timestamps: true, tail: 1}, t0)
	if want := t0.UTC().Format(time.RFC3339Nano) + " three"; string(b) != want {
		t.Errorf("timestamps: %q, want %q", b, want)
	}
	if _, err := l.render(logOpts{follow: true}, t0); err == nil {
		t.Error("follow accepted")
	}
	if _, err := parseLogOpts(url.Values{"tailLines": {"x"}}); err == nil {
		t.Error("tailLines=x accepted")
	}
}
