//go:build linux || darwin || freebsd || netbsd || openbsd || dragonfly

package jsonl

import (
	"errors"
	"os"
	"syscall"
)

// lockFile takes an exclusive flock on f without waiting: a second File
// appending to the same file would interleave with this one's lines and
// cut its torn-line recovery from under it. The lock goes with the
// descriptor, so closing f releases it, and a crash too.
func lockFile(f *os.File) error {
	rc, err := f.SyscallConn()
	if err != nil {
		return err
	}
	var lerr error
	if err := rc.Control(func(fd uintptr) {
		for {
			lerr = syscall.Flock(int(fd), syscall.LOCK_EX|syscall.LOCK_NB)
			if !errors.Is(lerr, syscall.EINTR) {
				return
			}
		}
	}); err != nil {
		return err
	}
	return lerr
}
