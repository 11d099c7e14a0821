package server

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/fsnotify/fsnotify"
)

// DefaultSettle is how long the policy file must stay unchanged before it
// is loaded where the platform cannot report that its writer closed it
// (Config.Settle). It is long enough for a writer that pauses mid-file
// (a script writing a file in pieces, a copy over a slow mount) and short
// enough that an edit still takes effect within seconds.
const DefaultSettle = 2 * time.Second

// fileOp is what happened to a name in the watched directory, reduced to
// what deciding whether the policy file has settled needs.
type fileOp uint8

const (
	// opWrite: the content changed; the writer may still hold it open.
	opWrite fileOp = iota + 1
	// opCreate: the name was created, by open(2) if it is a regular file,
	// so its creator holds it open.
	opCreate
	// opClose: a writer closed it.
	opClose
	// opReplace: the name now points at another file, or at none (renamed
	// over, renamed away, removed): whatever it names is whole.
	opReplace
	// opAttrib: permissions or times changed; a writer's state is unchanged.
	opAttrib
	// opLost: the kernel dropped events; anything may have happened.
	opLost
)

// fileEvent is one change in the watched directory; name is "" for opLost.
type fileEvent struct {
	name string
	op   fileOp
}

// dirWatch reports the changes in one directory, in the order they
// happened. reportsClose says whether every opWrite and opCreate is
// followed by an opClose once its writer closes the file (inotify's
// IN_CLOSE_WRITE); without it, a file has settled only when it has been
// left alone for long enough.
type dirWatch struct {
	events       chan fileEvent
	errors       chan error
	reportsClose bool
	close        func() error
}

// watchPortable watches dir with fsnotify, which reports no closes on any
// platform in the version warden uses (its close-write operation is not
// exported), so a file settles by the settle time alone.
func watchPortable(dir string) (*dirWatch, error) {
	fw, err := fsnotify.NewWatcher()
	if err != nil {
		return nil, err
	}
	if err := fw.Add(dir); err != nil {
		fw.Close()
		return nil, err
	}
	w := &dirWatch{events: make(chan fileEvent), errors: make(chan error)}
	done := make(chan struct{})
	w.close = func() error {
		close(done)
		return fw.Close()
	}
	go func() {
		defer close(w.events)
		for {
			select {
			case ev, ok := <-fw.Events:
				if !ok {
					return
				}
				out := fileEvent{name: ev.Name, op: opReplace}
				switch {
				case ev.Has(fsnotify.Remove), ev.Has(fsnotify.Rename), ev.Has(fsnotify.Create):
				case ev.Has(fsnotify.Write):
					out.op = opWrite
				case ev.Has(fsnotify.Chmod):
					out.op = opAttrib
				}
				select {
				case w.events <- out:
				case <-done:
					return
				}
			case err, ok := <-fw.Errors:
				if !ok {
					return
				}
				select {
				case w.errors <- err:
				case <-done:
					return
				}
				if errors.Is(err, fsnotify.ErrEventOverflow) {
					select {
					case w.events <- fileEvent{op: opLost}:
					case <-done:
						return
					}
				}
			case <-done:
				return
			}
		}
	}()
	return w, nil
}

// fileStamp identifies a version of a file well enough to notice that it
// changed: the same file (device and inode where the platform has them),
// with the same size and modification time. The stamp of a missing file
// has a nil fi.
type fileStamp struct{ fi os.FileInfo }

func stampOf(path string) fileStamp {
	fi, err := os.Stat(path)
	if err != nil {
		return fileStamp{}
	}
	return fileStamp{fi}
}

func (a fileStamp) same(b fileStamp) bool {
	if a.fi == nil || b.fi == nil {
		return a.fi == nil && b.fi == nil
	}
	return os.SameFile(a.fi, b.fi) && a.fi.Size() == b.fi.Size() && a.fi.ModTime().Equal(b.fi.ModTime())
}

// settle tracks whether the policy file has settled since it last
// changed: its writer has closed it, where closes are reported, and it has
// not changed for the quiet time since.
type settle struct {
	reportsClose bool
	debounce     time.Duration // quiet time once the writer has closed the file
	settle       time.Duration // quiet time when closes are not known

	pending bool      // changed since the last load
	open    bool      // written or created, and not closed since
	blind   bool      // closes are unknown for this change: events were lost
	seen    fileStamp // the file as it was at the last event
	waited  bool      // the open file has been reported as waiting
}

// note records an event about the policy file (path) and returns how long
// to wait before looking again.
func (st *settle) note(op fileOp, path string) time.Duration {
	st.pending, st.waited = true, false
	switch op {
	case opWrite:
		st.open = st.reportsClose
	case opCreate:
		// A regular file created by open(2) is closed by its creator;
		// a symbolic link or a hard link made in one call is whole.
		fi, err := os.Lstat(path)
		st.open = st.reportsClose && err == nil && fi.Mode().IsRegular()
	case opClose, opReplace:
		st.open = false
	case opLost:
		st.open, st.blind = false, true
	}
	st.seen = stampOf(path)
	return st.quiet()
}

func (st *settle) quiet() time.Duration {
	if st.reportsClose && !st.blind {
		return st.debounce
	}
	return st.settle
}

// verdict is what to do when the quiet time has passed.
type verdict uint8

const (
	vWait       verdict = iota // nothing to load, or a close will come
	vWaitLogged                // a writer still holds the file: say so, once
	vRearm                     // it changed without an event: wait again
	vLoad
)

// ready decides, once the quiet time after the last event has passed,
// whether the file has settled. A file whose writer still holds it open
// waits for the close event. One that changed although no event said so
// (a lost event, a platform that coalesces) waits another quiet time.
func (st *settle) ready(path string) (verdict, time.Duration) {
	switch {
	case !st.pending:
		return vWait, 0
	case st.open:
		if st.waited {
			return vWait, 0
		}
		st.waited = true
		return vWaitLogged, 0
	}
	now := stampOf(path)
	if !now.same(st.seen) {
		st.seen = now
		return vRearm, st.quiet()
	}
	st.pending, st.blind = false, false
	return vLoad, 0
}

// watch reloads the policy when its file has settled after a change. It
// watches the directory, not the file: editors and deployment tools
// replace a file by writing a new one and renaming it over the old, which
// ends a watch on the file itself. Events are filtered by name, including
// Kubernetes' "..data" symlink swap for mounted ConfigMaps.
//
// A file written in place is loaded only once it has settled, so a slow
// writer never has the part it has written so far served: where the
// platform reports closes (Linux), its writer must have closed it and it
// must then stay unchanged for Config.Debounce; elsewhere it must stay
// unchanged for Config.Settle. docs/serve.md explains the choice.
func (s *Server) watch() error {
	path := filepath.Clean(s.cfg.PolicyPath)
	dir := filepath.Dir(path)
	var w *dirWatch
	var err error
	if s.cfg.portableWatch {
		w, err = watchPortable(dir)
	} else {
		w, err = watchDir(dir)
	}
	if err != nil {
		return fmt.Errorf("server: watching %s: %w", dir, err)
	}
	s.watchStop = make(chan struct{})
	s.watchDone = make(chan struct{})
	go func() {
		defer close(s.watchDone)
		defer w.close()
		s.settleLoop(w, path)
	}()
	return nil
}

func (s *Server) settleLoop(w *dirWatch, path string) {
	st := &settle{reportsClose: w.reportsClose, debounce: s.cfg.Debounce, settle: s.cfg.Settle}
	timer := time.NewTimer(time.Hour)
	timer.Stop()
	defer timer.Stop()
	errs := w.errors
	for {
		select {
		case <-s.watchStop:
			return
		case ev, ok := <-w.events:
			if !ok {
				return
			}
			name := filepath.Clean(ev.name)
			if ev.op != opLost && name != path && filepath.Base(name) != "..data" {
				continue
			}
			timer.Reset(st.note(ev.op, path))
		case <-timer.C:
			switch v, d := st.ready(path); v {
			case vWaitLogged:
				s.log.Info("policy file changed but is still open for writing; it loads when its writer closes it (SIGHUP loads it as it is)", "path", path)
			case vRearm:
				timer.Reset(d)
			case vLoad:
				s.log.Debug("policy file changed; reloading", "path", path)
				s.Reload() // logs and reports its own failure
			}
		case err, ok := <-errs:
			if !ok {
				errs = nil
				continue
			}
			s.log.Error("watching the policy file", "path", path, "error", err)
		}
	}
}
