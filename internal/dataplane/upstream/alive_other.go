//go:build !unix

package upstream

import "syscall"

// idleProbe cannot look at an idle connection here: it is taken as clean. A dead one is
// replayed (see RoundTrip); an unsolicited response is not detected.
type idleProbe struct{}

func newIdleProbe(syscall.RawConn) *idleProbe { return nil }

func (*idleProbe) check() (idleCheck, []byte) { return idleClean, nil }
