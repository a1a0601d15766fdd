// Package testnet holds loopback endpoints for data-plane tests of L4 streams: an echo
// server and an address whose connects wait (for connect timeouts).
//
// Imports: standard library only.
package testnet
