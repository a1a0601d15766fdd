package h2

import (
	"strings"

	"golang.org/x/net/http/httpguts"
	"golang.org/x/net/http2"
	"golang.org/x/net/http2/hpack"
)

// headerBlock is the decoded header block being read (reader-owned, reused).
type headerBlock struct {
	fields    []hpack.HeaderField // regular fields
	remain    uint32              // header list bytes still allowed
	truncated bool                // over the limit: answered 431 (decoding continues)
	invalid   bool                // a field x/net's Framer refuses: the stream is reset
	badPseudo bool                // unknown, duplicate or mixed pseudo fields: likewise
	regular   bool                // a regular field was seen (pseudo fields must precede)
	pseudo    int                 // pseudo fields seen
	method    string
	scheme    string
	authority string
	path      string
	protocol  string
	seen      uint8 // bit set of pseudo fields seen, for duplicates
}

// Pseudo fields, as bits of headerBlock.seen.
const (
	seenMethod = 1 << iota
	seenScheme
	seenAuthority
	seenPath
	seenProtocol // extended CONNECT: not offered, the request is refused
	seenStatus   // a response field: the request is refused
)

// malformed reports a block the Framer of x/net refuses when it reads it (invalid
// names or values, pseudo fields after regular ones or unknown, duplicated, mixed):
// a stream error before any stream state is looked at.
func (b *headerBlock) malformed() bool { return b.invalid || b.badPseudo }

// onField is the hpack emit function: it validates each field as x/net's Framer does
// (readMetaFrame, checkPseudos: names lower case and valid, values valid, pseudo
// fields first, known and not duplicated) and bounds the list to MaxHeaderBytes +
// 4 KiB. As there, an invalid field stops the accounting (the block is refused
// anyway) and so does the limit; pseudo-field errors are found without stopping it.
func (c *conn) onField(hf hpack.HeaderField) {
	b := &c.blk
	if b.invalid || b.truncated {
		return
	}
	pseudo := strings.HasPrefix(hf.Name, ":")
	switch {
	case !httpguts.ValidHeaderFieldValue(hf.Value):
		b.invalid = true
	case pseudo && b.regular:
		b.invalid = true
	case !pseudo && !validWireName(hf.Name):
		b.invalid = true
	}
	if !pseudo {
		b.regular = true
	}
	if b.invalid {
		return
	}
	if size := hf.Size(); size > b.remain {
		b.truncated, b.remain = true, 0
		return
	} else {
		b.remain -= size
	}
	if !pseudo {
		b.fields = append(b.fields, hf)
		return
	}
	var bit uint8
	switch hf.Name {
	case ":method":
		bit, b.method = seenMethod, hf.Value
	case ":scheme":
		bit, b.scheme = seenScheme, hf.Value
	case ":authority":
		bit, b.authority = seenAuthority, hf.Value
	case ":path":
		bit, b.path = seenPath, hf.Value
	case ":protocol":
		bit, b.protocol = seenProtocol, hf.Value
	case ":status":
		bit = seenStatus
	default:
		b.badPseudo = true
		return
	}
	if b.seen&bit != 0 {
		b.badPseudo = true
	}
	b.seen |= bit
	b.pseudo++
	if b.seen&seenStatus != 0 && b.seen&^seenStatus != 0 {
		b.badPseudo = true // request and response fields mixed
	}
}

// validWireName: a valid field name without upper-case letters (RFC 9113 8.2.1).
func validWireName(v string) bool {
	if len(v) == 0 {
		return false
	}
	for i := 0; i < len(v); i++ {
		if !httpguts.IsTokenRune(rune(v[i])) || ('A' <= v[i] && v[i] <= 'Z') {
			return false
		}
	}
	return true
}

// readHeaderBlock decodes the block HEADERS starts, reading its CONTINUATION frames.
// The decoder sees every fragment even when the block is refused, so the HPACK state
// stays in step with the client's. Limits (CONTINUATION flood, CVE-2024-27316): the
// fragments may total at most twice the header list limit, in at most 16 + limit/1 KiB
// frames; past that the connection fails.
func (c *conn) readHeaderBlock(hf *http2.HeadersFrame) error {
	limit := c.srv.maxHeaderList()
	c.blk = headerBlock{fields: c.blk.fields[:0], remain: limit}
	maxFrames := 16 + int(limit>>10)
	frag, ended := hf.HeaderBlockFragment(), hf.HeadersEnded()
	total := 0
	for frames := 1; ; frames++ {
		// x/net's bounds (readMetaFrame): a fragment over twice the header list bytes
		// still allowed (none once over the limit), or any CONTINUATION after an invalid
		// field (whose size is no longer counted), fails the connection.
		if int64(len(frag)) > 2*int64(c.blk.remain) || (frames > 1 && c.blk.invalid) {
			return connErr(http2.ErrCodeProtocol)
		}
		total += len(frag)
		if total > 2*int(limit) {
			return connErr(http2.ErrCodeProtocol)
		}
		if _, err := c.hdec.Write(frag); err != nil {
			return connErr(http2.ErrCodeCompression)
		}
		if ended {
			break
		}
		if frames >= maxFrames {
			return connErr(http2.ErrCodeEnhanceYourCalm)
		}
		f, err := c.fr.ReadFrame()
		if err != nil {
			return err
		}
		cf, ok := f.(*http2.ContinuationFrame) // the Framer enforces the order
		if !ok {
			return connErr(http2.ErrCodeProtocol)
		}
		frag, ended = cf.HeaderBlockFragment(), cf.HeadersEnded()
	}
	if err := c.hdec.Close(); err != nil {
		return connErr(http2.ErrCodeCompression)
	}
	return nil
}

// canonical returns the canonical key of a lower-case wire name, cached per
// connection (bounded as net/http's canonHeader cache).
func (c *conn) canonical(name string) string {
	if k, ok := c.canon[name]; ok {
		return k
	}
	k := httpCanonical(name)
	if size := len(name) + len(k) + 64; c.canonSize+size <= 2048 {
		if c.canon == nil { // dropped while the connection was parked
			c.canon = make(map[string]string)
		}
		c.canon[name] = k
		c.canonSize += size
	}
	return k
}
