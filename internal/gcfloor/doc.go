// Package gcfloor gives the garbage collector a heap floor: after every collection it sets
// GOGC so that the next collection starts when the heap reaches the larger of the floor
// and what the configured GOGC would allow (live heap × (1 + GOGC/100)). A gateway's live
// heap is small (tens of MB) while it allocates steadily per request, so with GOGC=100
// alone it collects many times a second; each cycle takes its share of the one core a
// worker has and delays the requests in flight — the tail of the latency distribution.
// With a floor the collector runs a few times less often at small heaps and exactly as
// before once the live heap is large (many connections, many hosts), where the floor no
// longer binds. A soft memory limit (GOMEMLIMIT) still caps the heap.
//
// It is the technique of a GC "ballast" or a GOGC tuner, without the ballast's memory:
// only the goal moves. It re-arms itself from a finalizer run after each collection.
//
// The package also returns memory when the process goes quiet (Releaser, quiet.go): the
// heap a burst grew is collected and handed back once nothing much is allocated for a
// second, instead of staying resident at the goal until the runtime's two-minute forced
// collection and its slow background scavenger get to it.
//
// Imports: standard library.
package gcfloor
