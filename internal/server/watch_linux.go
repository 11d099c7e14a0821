package server

import (
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"syscall"
)

// watchDir watches dir with inotify directly rather than through fsnotify,
// because fsnotify does not export IN_CLOSE_WRITE, and a write is
// finished only when its writer closes the file. One inotify instance
// reports writes and closes in the order they happened, which is what
// deciding that a file has settled needs.
func watchDir(dir string) (*dirWatch, error) {
	fd, err := syscall.InotifyInit1(syscall.IN_CLOEXEC | syscall.IN_NONBLOCK)
	if err != nil {
		return nil, fmt.Errorf("inotify: %w", err)
	}
	const mask = syscall.IN_MODIFY | syscall.IN_CLOSE_WRITE | syscall.IN_CREATE |
		syscall.IN_MOVED_TO | syscall.IN_MOVED_FROM | syscall.IN_DELETE | syscall.IN_ATTRIB |
		syscall.IN_DELETE_SELF | syscall.IN_MOVE_SELF | syscall.IN_ONLYDIR
	if _, err := syscall.InotifyAddWatch(fd, dir, mask); err != nil {
		syscall.Close(fd)
		return nil, fmt.Errorf("inotify: %w", err)
	}
	// A non-blocking descriptor makes a pollable *os.File, so Close
	// interrupts a pending Read.
	f := os.NewFile(uintptr(fd), "inotify")
	w := &dirWatch{events: make(chan fileEvent), errors: make(chan error), reportsClose: true}
	done := make(chan struct{})
	w.close = func() error {
		close(done)
		return f.Close()
	}
	go func() {
		defer close(w.events)
		send := func(ev fileEvent) bool {
			select {
			case w.events <- ev:
				return true
			case <-done:
				return false
			}
		}
		report := func(err error) bool {
			select {
			case w.errors <- err:
				return true
			case <-done:
				return false
			}
		}
		buf := make([]byte, 64<<10)
		for {
			n, err := f.Read(buf)
			if err != nil {
				if !errors.Is(err, os.ErrClosed) {
					report(fmt.Errorf("inotify: %w", err))
				}
				return
			}
			for _, ev := range parseInotify(dir, buf[:n]) {
				if ev.op == 0 {
					if !report(fmt.Errorf("inotify: the watched directory %s was removed or moved; the policy reloads only on SIGHUP", dir)) {
						return
					}
					continue
				}
				if ev.op == opLost && !report(errors.New("inotify: event queue overflow; the next reload waits the full settle time")) {
					return
				}
				if !send(ev) {
					return
				}
			}
		}
	}()
	return w, nil
}

// inotifyEventSize is sizeof(struct inotify_event): wd, mask, cookie and
// len, each 32 bits, followed by len bytes of NUL-padded name.
const inotifyEventSize = 16

// parseInotify decodes the events in one read. An event about the
// directory itself going away has op 0; events that mean nothing for
// settling (IN_IGNORED alone) are left out.
func parseInotify(dir string, b []byte) []fileEvent {
	var out []fileEvent
	for len(b) >= inotifyEventSize {
		mask := binary.NativeEndian.Uint32(b[4:8])
		n := int(binary.NativeEndian.Uint32(b[12:16]))
		if inotifyEventSize+n > len(b) {
			break // the kernel never splits an event; be safe anyway
		}
		name := b[inotifyEventSize : inotifyEventSize+n]
		for len(name) > 0 && name[len(name)-1] == 0 {
			name = name[:len(name)-1]
		}
		b = b[inotifyEventSize+n:]
		ev := fileEvent{}
		if len(name) > 0 {
			ev.name = filepath.Join(dir, string(name))
		}
		switch {
		case mask&syscall.IN_Q_OVERFLOW != 0:
			ev = fileEvent{op: opLost}
		case mask&(syscall.IN_DELETE_SELF|syscall.IN_MOVE_SELF) != 0:
			// op 0: the directory is gone.
		case mask&syscall.IN_CLOSE_WRITE != 0:
			ev.op = opClose
		case mask&syscall.IN_MODIFY != 0:
			ev.op = opWrite
		case mask&syscall.IN_CREATE != 0:
			ev.op = opCreate
		case mask&(syscall.IN_MOVED_TO|syscall.IN_MOVED_FROM|syscall.IN_DELETE) != 0:
			ev.op = opReplace
		case mask&syscall.IN_ATTRIB != 0:
			ev.op = opAttrib
		default:
			continue
		}
		out = append(out, ev)
	}
	return out
}
