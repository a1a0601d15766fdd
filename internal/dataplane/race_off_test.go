//go:build !race

package dataplane

// raceOn: the race detector is on; it changes what escapes, so allocation counts differ.
const raceOn = false
