//go:build !(linux || darwin || freebsd || netbsd || openbsd || dragonfly)

package jsonl

import "os"

// lockFile does nothing where flock is missing: there, keeping to one
// File per path is the caller's job.
func lockFile(*os.File) error { return nil }
