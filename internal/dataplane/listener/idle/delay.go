package idle

import "time"

// Delay is how long an idle connection keeps its goroutine and buffers, waiting for more
// input, before it parks (the listener's HTTP/1.1 loop and its HTTP/2 server alike): long
// enough that a client sending requests back to back never parks, short enough that a
// connection left idle holds almost nothing within a fraction of a second.
const Delay = 200 * time.Millisecond
