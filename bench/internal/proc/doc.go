// Package proc reads a process's CPU time and memory from /proc, so the benchmark charges
// each target exactly the CPU it used during a measured window.
//
// Imports: standard library only.
package proc
