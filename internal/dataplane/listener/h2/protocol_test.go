package h2

import (
	"io"
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"golang.org/x/net/http2"
)

func okHandler(w http.ResponseWriter, r *http.Request) {
	_, _ = io.Copy(io.Discard, r.Body)
	_, _ = io.WriteString(w, "ok")
}

func TestMalformedRequestsAreReset(t *testing.T) {
	e := newEnv(t, http.HandlerFunc(okHandler))
	tests := []struct {
		name   string
		fields []string
	}{
		{"no :path", []string{":method", "GET", ":scheme", "https", ":authority", "h2.test"}},
		{"no :method", []string{":scheme", "https", ":authority", "h2.test", ":path", "/"}},
		{"bad :scheme", []string{":method", "GET", ":scheme", "ftp", ":authority", "h2.test", ":path", "/"}},
		{"duplicate :method", append(get("/"), ":method", "POST")},
		{"pseudo after regular", []string{":method", "GET", "x-a", "1", ":scheme", "https", ":path", "/"}},
		{"unknown pseudo", get("/", ":foo", "bar")},
		{"response pseudo", get("/", ":status", "200")},
		{":protocol not offered", get("/", ":protocol", "websocket")},
		{"upper-case name", get("/", "X-Upper", "1")},
		{"connection header", get("/", "connection", "close")},
		{"transfer-encoding", get("/", "transfer-encoding", "chunked")},
		{"keep-alive", get("/", "keep-alive", "1")},
		{"upgrade", get("/", "upgrade", "h2c")},
		{"te other than trailers", get("/", "te", "gzip")},
		{"invalid value", get("/", "x-a", "a\nb")},
		{"CONNECT with :path", []string{":method", "CONNECT", ":authority", "h2.test:443", ":path", "/"}},
		{"CONNECT without :authority", []string{":method", "CONNECT"}},
		{"userinfo in :authority", []string{":method", "GET", ":scheme", "https", ":authority", "u@h2.test", ":path", "/"}},
		{"bad content-length", append(get("/"), "content-length", "x")},
	}
	r := e.raw(t)
	id := uint32(1)
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r.t = t
			defer func() { r.t = nil }()
			r.headers(id, false, tc.fields...)
			if f := r.rst(id); f.ErrCode != http2.ErrCodeProtocol {
				t.Errorf("reset with %v, want PROTOCOL_ERROR", f.ErrCode)
			}
			// The connection still serves.
			r.headers(id+2, true, get("/")...)
			if s := r.status(id + 2); s != "200" {
				t.Errorf("next request: %s", s)
			}
			id += 4
		})
	}
}

func TestHeaderLimits(t *testing.T) {
	e := newEnv(t, http.HandlerFunc(okHandler), func(s *Server) { s.MaxHeaderBytes = 8 << 10 })
	t.Run("header list too large is answered 431", func(t *testing.T) {
		r := e.raw(t)
		v := strings.Repeat("a", 4<<10)
		r.headers(1, true, get("/", "x-a", v, "x-b", v, "x-c", v, "x-d", v)...)
		if s := r.status(1); s != "431" {
			t.Errorf("status %s, want 431", s)
		}
		r.headers(3, true, get("/")...) // HPACK state still in step
		if s := r.status(3); s != "200" {
			t.Errorf("next request: %s", s)
		}
	})
	t.Run("CONTINUATION flood ends the connection", func(t *testing.T) {
		r := e.raw(t)
		_ = r.fr.WriteHeaders(http2.HeadersFrameParam{StreamID: 1, BlockFragment: r.block(get("/")...), EndHeaders: false})
		for i := 0; i < 5000; i++ {
			_ = r.fr.WriteContinuation(1, false, nil)
		}
		_ = r.bw.Flush() // may fail once the server has closed
		if g := r.goAway(); g.ErrCode != http2.ErrCodeEnhanceYourCalm {
			t.Errorf("GOAWAY %v, want ENHANCE_YOUR_CALM", g.ErrCode)
		}
	})
	t.Run("header block bytes bounded", func(t *testing.T) {
		r := e.raw(t)
		_ = r.fr.WriteHeaders(http2.HeadersFrameParam{StreamID: 1, BlockFragment: r.block(get("/")...), EndHeaders: false})
		v := strings.Repeat("b", 3<<10)
		junk := r.block("x-a", v, "x-b", v, "x-c", v, "x-d", v)
		for i := 0; i < 4; i++ {
			_ = r.fr.WriteContinuation(1, false, junk)
		}
		_ = r.bw.Flush()
		if g := r.goAway(); g.ErrCode != http2.ErrCodeProtocol {
			t.Errorf("GOAWAY %v, want PROTOCOL_ERROR", g.ErrCode)
		}
	})
}

func TestConcurrencyLimits(t *testing.T) {
	release := make(chan struct{})
	e := newEnv(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		<-release
	}), func(s *Server) { s.MaxConcurrentStreams = 4 })
	defer close(release)
	t.Run("streams beyond the limit are refused", func(t *testing.T) {
		r := e.raw(t)
		for id := uint32(1); id <= 7; id += 2 {
			r.headers(id, true, get("/")...)
		}
		r.headers(9, true, get("/")...)
		if f := r.rst(9); f.ErrCode != http2.ErrCodeRefusedStream {
			t.Errorf("reset with %v, want REFUSED_STREAM", f.ErrCode)
		}
	})
	t.Run("rapid reset: handlers of reset streams are bounded", func(t *testing.T) {
		r := e.raw(t)
		for id := uint32(1); id < 200; id += 2 {
			_ = r.fr.WriteHeaders(http2.HeadersFrameParam{StreamID: id, BlockFragment: r.block(get("/")...), EndStream: true, EndHeaders: true})
			_ = r.fr.WriteRSTStream(id, http2.ErrCodeCancel)
		}
		_ = r.bw.Flush()
		if g := r.goAway(); g.ErrCode != http2.ErrCodeEnhanceYourCalm {
			t.Errorf("GOAWAY %v, want ENHANCE_YOUR_CALM", g.ErrCode)
		}
	})
}

func TestFlowControlViolations(t *testing.T) {
	e := newEnv(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		<-r.Context().Done() // never reads the body
	}))
	t.Run("DATA beyond the windows", func(t *testing.T) {
		r := e.raw(t)
		r.headers(1, false, append([]string{":method", "POST"}, get("/")[2:]...)...)
		chunk := make([]byte, 16<<10)
		for sent := 0; sent <= streamRecvWindow; sent += len(chunk) {
			_ = r.fr.WriteData(1, false, chunk)
		}
		_ = r.bw.Flush()
		f := r.next(func(f http2.Frame) bool {
			switch f.(type) {
			case *http2.GoAwayFrame, *http2.RSTStreamFrame:
				return true
			}
			return false
		})
		var code http2.ErrCode
		switch f := f.(type) {
		case *http2.GoAwayFrame:
			code = f.ErrCode
		case *http2.RSTStreamFrame:
			code = f.ErrCode
		}
		if code != http2.ErrCodeFlowControl {
			t.Errorf("got %v, want FLOW_CONTROL_ERROR", code)
		}
	})
	t.Run("connection window overflow", func(t *testing.T) {
		r := e.raw(t)
		_ = r.fr.WriteWindowUpdate(0, 1<<31-1)
		r.flush()
		if g := r.goAway(); g.ErrCode != http2.ErrCodeFlowControl {
			t.Errorf("GOAWAY %v, want FLOW_CONTROL_ERROR", g.ErrCode)
		}
	})
	t.Run("stream window overflow", func(t *testing.T) {
		r := e.raw(t)
		r.headers(1, true, get("/")...)
		_ = r.fr.WriteWindowUpdate(1, 1<<31-1)
		r.flush()
		if f := r.rst(1); f.ErrCode != http2.ErrCodeFlowControl {
			t.Errorf("reset with %v, want FLOW_CONTROL_ERROR", f.ErrCode)
		}
	})
	t.Run("initial window setting overflow", func(t *testing.T) {
		r := e.raw(t)
		r.headers(1, true, get("/")...)
		_ = r.fr.WriteWindowUpdate(1, 1<<31-1-65535)
		_ = r.fr.WriteSettings(http2.Setting{ID: http2.SettingInitialWindowSize, Val: 1<<31 - 1})
		r.flush()
		if g := r.goAway(); g.ErrCode != http2.ErrCodeFlowControl {
			t.Errorf("GOAWAY %v, want FLOW_CONTROL_ERROR", g.ErrCode)
		}
	})
}

func TestProtocolErrors(t *testing.T) {
	e := newEnv(t, http.HandlerFunc(okHandler))
	tests := []struct {
		name  string
		send  func(r *raw)
		wantC http2.ErrCode
	}{
		{"even stream id", func(r *raw) { r.headers(2, true, get("/")...) }, http2.ErrCodeProtocol},
		{"DATA on an idle stream", func(r *raw) { _ = r.fr.WriteData(5, true, []byte("x")); r.flush() }, http2.ErrCodeProtocol},
		{"RST_STREAM on an idle stream", func(r *raw) { _ = r.fr.WriteRSTStream(7, http2.ErrCodeCancel); r.flush() }, http2.ErrCodeProtocol},
		{"PUSH_PROMISE", func(r *raw) {
			_ = r.fr.WritePushPromise(http2.PushPromiseParam{StreamID: 1, PromiseID: 2, BlockFragment: r.block(get("/")...), EndHeaders: true})
			r.flush()
		}, http2.ErrCodeProtocol},
		{"frame larger than advertised", func(r *raw) {
			_ = r.fr.WriteRawFrame(http2.FrameType(0x21), 0, 0, make([]byte, maxReadFrameSize+1))
			_ = r.bw.Flush() // the server may close first
		}, http2.ErrCodeFrameSize},
		{"stray CONTINUATION", func(r *raw) { _ = r.fr.WriteContinuation(1, true, nil); r.flush() }, http2.ErrCodeProtocol},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := e.raw(t)
			tc.send(r)
			if g := r.goAway(); g.ErrCode != tc.wantC {
				t.Errorf("GOAWAY %v, want %v", g.ErrCode, tc.wantC)
			}
		})
	}
	t.Run("unknown frames and PRIORITY are ignored", func(t *testing.T) {
		r := e.raw(t)
		_ = r.fr.WriteRawFrame(http2.FrameType(0x42), 0, 1, []byte("??"))
		_ = r.fr.WritePriority(1, http2.PriorityParam{StreamDep: 0, Weight: 9})
		r.headers(1, true, get("/")...)
		if s := r.status(1); s != "200" {
			t.Errorf("status %s", s)
		}
	})
}

func TestControlFloods(t *testing.T) {
	e := newEnv(t, http.HandlerFunc(okHandler))
	t.Run("PING flood: acks or GOAWAY, never unbounded", func(t *testing.T) {
		r := e.raw(t)
		for i := 0; i < 20000; i++ {
			_ = r.fr.WritePing(false, [8]byte{byte(i)})
		}
		go func() { _ = r.bw.Flush() }() // the server may stop reading until we read
		acks := 0
		r.next(func(f http2.Frame) bool {
			switch f := f.(type) {
			case *http2.PingFrame:
				acks++
				return acks == 20000
			case *http2.GoAwayFrame:
				return f.ErrCode == http2.ErrCodeEnhanceYourCalm
			}
			return false
		})
	})
	t.Run("empty DATA flood", func(t *testing.T) {
		r := e.raw(t)
		r.headers(1, false, append([]string{":method", "POST"}, get("/")[2:]...)...)
		for i := 0; i < 200; i++ {
			_ = r.fr.WriteData(1, false, nil)
		}
		_ = r.bw.Flush()
		if g := r.goAway(); g.ErrCode != http2.ErrCodeEnhanceYourCalm {
			t.Errorf("GOAWAY %v, want ENHANCE_YOUR_CALM", g.ErrCode)
		}
	})
	t.Run("SETTINGS ACK without SETTINGS", func(t *testing.T) {
		r := e.raw(t)
		_ = r.fr.WriteSettingsAck()
		_ = r.fr.WriteSettingsAck()
		r.flush()
		if g := r.goAway(); g.ErrCode != http2.ErrCodeProtocol {
			t.Errorf("GOAWAY %v, want PROTOCOL_ERROR", g.ErrCode)
		}
	})
}

func TestResponseHeaderFields(t *testing.T) {
	e := newEnv(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Length", "2")
		w.Header().Set("Connection", "close")
		w.Header().Set("X-Mixed-Case", "v")
		_, _ = io.WriteString(w, "ok")
	}))
	r := e.raw(t)
	r.headers(1, true, get("/")...)
	f := r.next(func(f http2.Frame) bool { _, ok := f.(*http2.MetaHeadersFrame); return ok }).(*http2.MetaHeadersFrame)
	var names []string
	for _, hf := range f.RegularFields() {
		if hf.Name != "date" {
			names = append(names, hf.Name+"="+hf.Value)
		}
	}
	slices.Sort(names)
	if diff := cmp.Diff([]string{"content-length=2", "x-mixed-case=v"}, names); diff != "" {
		t.Errorf("fields (-want +got)\n%s", diff)
	}
}
