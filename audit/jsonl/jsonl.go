// Package jsonl stores audit events in an append-only JSON Lines file
// (SPEC 8.2): one audit.Event, in its JSON form, per line.
//
// A File is an audit.BatchSink and an audit.Querier. It suits a single
// process that wants a plain, greppable log. Query decodes every line of
// the file, some microseconds each (BenchmarkQuery), so a large log that
// is queried often belongs in an indexed store.
//
// # Durability
//
// WriteBatch encodes the whole batch, appends it with one write and fsyncs
// the file before it returns; Record is a batch of one. So an event is
// acknowledged only once it is on disk, and a crash can lose only events
// whose call had not returned, which were never acknowledged. When Open
// creates the file it also fsyncs the directory, so the file itself
// survives a crash. An fsync costs far more than encoding an event, so
// throughput comes from batches (compare BenchmarkRecord with
// BenchmarkWriteBatch): feed a File through a batching writer such as
// audit.Async rather than calling Record for every decision.
//
// # Recovery
//
// A crash in the middle of a write can leave the last line torn: the file
// does not end in a newline. Open cuts the file back to just after its
// last newline and Recovered reports how many bytes it cut. Those bytes
// are always the unacknowledged tail: every acknowledged batch ended in a
// newline and was synced before anything after it was written.
//
// Nothing else is repaired or skipped. A line that does not decode, in the
// middle of the file, makes Query fail with an error naming the file and
// the line, so damage is seen rather than hidden.
//
// A write that fails part way (disk full, file too large) is undone: the
// file is cut back to the end of the last complete line, so a torn line
// never ends up in the middle, and later writes go on. If that cut fails,
// or an fsync fails (after which the kernel may have dropped the written
// pages, so the file's contents are unknown), the File refuses every
// further write; opening the file again recovers it, keeping whatever
// complete lines of the failed write reached the disk.
//
// # What is refused
//
// An event is written exactly as given, or refused with an error that
// wraps ErrRefused and not written; one refused event refuses its whole
// batch, and the error gives its index. Refused are the events JSON
// cannot carry unchanged: strings with invalid UTF-8 (which encoding/json
// would silently replace with U+FFFD), Fields values with no JSON form
// (channels, functions, NaN), times outside the years 0 to 9999, and
// events whose line would be longer than MaxLineBytes.
//
// Fields come back as encoding/json decodes them with UseNumber: objects
// as map[string]any, arrays as []any, and numbers as json.Number, so a
// large integer keeps every digit.
//
// # Concurrency
//
// A File is safe for concurrent use. Writes take turns; a Query does not
// wait for them: it reads the part of the file that held complete, synced
// lines when it started. On Linux and the BSDs, Open also takes an
// exclusive advisory lock (flock), so a second File on the same path, in
// this process or another, fails instead of cutting a line from under the
// first.
package jsonl

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"unicode/utf8"

	"github.com/warden-authz/warden/audit"
)

// ErrRefused is wrapped by the error of a Record or WriteBatch that
// refused an event it cannot store unchanged (see "What is refused").
// Retrying cannot help: a batching writer should set the event aside and
// write the rest of the batch.
var ErrRefused = audit.ErrRefused

// MaxLineBytes is the longest line a File writes or reads: a bound on the
// memory one event may take. Strings grow when escaped, up to six times
// for control characters.
const MaxLineBytes = 64 << 20

// File is an audit log in a JSON Lines file. Make one with Open; the zero
// File is not usable, and its methods return errors.
type File struct {
	path      string
	f         *os.File
	recovered int64

	// end is the size of the part of the file that holds complete,
	// synced lines: what a Query reads, and where a failed write is cut
	// back to.
	end atomic.Int64
	// closed lets Query refuse without waiting for a write's fsync.
	closed atomic.Bool

	mu sync.Mutex // serializes writes, Close, and err
	// err, once set, fails every write: the file is closed, or its
	// contents are unknown after a failed write.
	err error
}

var (
	_ audit.BatchSink = (*File)(nil)
	_ audit.Querier   = (*File)(nil)
)

// Open opens the JSON Lines file at path for appending, creating it with
// mode 0600 if it does not exist; an existing file keeps its mode. It
// cuts off a torn last line (see Recovered). The File holds the file open
// until Close.
func Open(path string) (*File, error) {
	fd, created, err := openFile(path)
	if err != nil {
		return nil, fmt.Errorf("jsonl: %w", err)
	}
	f := &File{path: path, f: fd}
	if err := f.recover(created); err != nil {
		fd.Close()
		return nil, err
	}
	return f, nil
}

// openFile opens path for reading and appending, creating it if need be,
// and says whether it did.
func openFile(path string) (*os.File, bool, error) {
	fd, err := os.OpenFile(path, os.O_RDWR|os.O_APPEND|os.O_CREATE|os.O_EXCL, 0o600)
	if err == nil {
		return fd, true, nil
	}
	if !errors.Is(err, fs.ErrExist) {
		return nil, false, err
	}
	fd, err = os.OpenFile(path, os.O_RDWR|os.O_APPEND, 0)
	return fd, false, err
}

// recover locks the opened file, checks it, and cuts off a torn last
// line.
func (f *File) recover(created bool) error {
	if err := lockFile(f.f); err != nil {
		return fmt.Errorf("jsonl: %s is in use by another File: %w", f.path, err)
	}
	st, err := f.f.Stat()
	if err != nil {
		return fmt.Errorf("jsonl: %w", err)
	}
	if !st.Mode().IsRegular() {
		return fmt.Errorf("jsonl: %s is not a regular file (%s)", f.path, st.Mode().Type())
	}
	size := st.Size()
	end, err := lastLineEnd(f.f, size)
	if err != nil {
		return fmt.Errorf("jsonl: %s: looking for a torn last line: %w", f.path, err)
	}
	if end < size {
		if err := f.f.Truncate(end); err != nil {
			return fmt.Errorf("jsonl: %s: cutting off a torn last line: %w", f.path, err)
		}
		if err := f.f.Sync(); err != nil {
			return fmt.Errorf("jsonl: %w", err)
		}
		f.recovered = size - end
	}
	if created {
		if err := syncDir(filepath.Dir(f.path)); err != nil {
			return fmt.Errorf("jsonl: %s: making the new file durable: %w", f.path, err)
		}
	}
	f.end.Store(end)
	return nil
}

// lastLineEnd returns the offset just after the last newline in the first
// size bytes of r, or 0 if there is none.
func lastLineEnd(r io.ReaderAt, size int64) (int64, error) {
	buf := make([]byte, min(size, 64<<10))
	for end := size; end > 0; {
		start := max(0, end-int64(len(buf)))
		chunk := buf[:end-start]
		if _, err := r.ReadAt(chunk, start); err != nil {
			return 0, err
		}
		if i := bytes.LastIndexByte(chunk, '\n'); i >= 0 {
			return start + int64(i) + 1, nil
		}
		end = start
	}
	return 0, nil
}

// syncDir makes a new directory entry durable. Windows cannot fsync a
// directory, and does not need to.
func syncDir(dir string) error {
	if runtime.GOOS == "windows" {
		return nil
	}
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}

// Recovered returns how many bytes of a torn last line Open cut off: 0
// when the file ended cleanly.
func (f *File) Recovered() int64 {
	if f == nil {
		return 0
	}
	return f.recovered
}

// errNotOpen is the error of every method of a zero or nil File.
var errNotOpen = errors.New("jsonl: File not made by Open")

// Record appends one event and fsyncs; it is WriteBatch of one event.
func (f *File) Record(ctx context.Context, e *audit.Event) error {
	if e == nil {
		return fmt.Errorf("jsonl: %w: nil event", ErrRefused)
	}
	var buf bytes.Buffer
	if err := encode(&buf, newEncoder(&buf), e); err != nil {
		return fmt.Errorf("jsonl: event %q: %w: %w", e.ID, ErrRefused, err)
	}
	return f.append(ctx, buf.Bytes())
}

// WriteBatch appends events in order with one write, then fsyncs: when it
// returns nil, every event is on disk. On error the batch is not stored;
// only a crash during the write (or a failure to undo one, see the
// package doc) can leave some of its complete lines in the file.
func (f *File) WriteBatch(ctx context.Context, events []audit.Event) error {
	if len(events) == 0 {
		return nil
	}
	var buf bytes.Buffer
	buf.Grow(len(events) * 384) // a typical event's line, so most batches encode without regrowing
	enc := newEncoder(&buf)
	for i := range events {
		if err := encode(&buf, enc, &events[i]); err != nil {
			return fmt.Errorf("jsonl: event %d of the batch (id %q): %w: %w", i, events[i].ID, ErrRefused, err)
		}
	}
	return f.append(ctx, buf.Bytes())
}

func newEncoder(buf *bytes.Buffer) *json.Encoder {
	enc := json.NewEncoder(buf)
	enc.SetEscapeHTML(false) // "<" is safe in a log, and "\u003c" is hard to grep
	return enc
}

// encode appends the line of e to buf through enc, which writes to buf,
// or, when e cannot be written unchanged, leaves buf as it was and says
// why.
func encode(buf *bytes.Buffer, enc *json.Encoder, e *audit.Event) error {
	start := buf.Len()
	c := outLine{Event: *e}
	c.Time = c.Time.UTC() // the same instant; one zone makes the file sortable by eye
	if e.Fields != nil {
		// Written by audit.EncodeFields, which keeps invalid UTF-8 (as
		// \udcXX escapes) where encoding/json would replace it.
		f, err := audit.EncodeFields(e.Fields)
		if err != nil {
			return err
		}
		c.Fields = f
	}
	if err := enc.Encode(&c); err != nil {
		return err
	}
	line := buf.Bytes()[start:]
	var err error
	switch {
	case len(line) > MaxLineBytes:
		err = fmt.Errorf("%d bytes encoded, over the limit of %d", len(line), MaxLineBytes)
	case !utf8.Valid(line) || replacedInvalidUTF8(line):
		err = fmt.Errorf("%s holds invalid UTF-8, which JSON cannot carry unchanged", invalidField(e))
	}
	if err != nil {
		buf.Truncate(start)
	}
	return err
}

// outLine is an event as a line: its Fields shadow the event's, so they
// are written by audit.EncodeFields, in the same place.
type outLine struct {
	audit.Event
	Fields json.RawMessage `json:"fields,omitempty"`
}

// replacedInvalidUTF8 reports whether encoding/json replaced invalid
// UTF-8 in a string: it writes each invalid byte as the escape \ufffd,
// while a real U+FFFD in valid input is written as itself. Escapes are
// stepped over whole, so the text `\ufffd` (encoded `\\ufffd`) does not
// count.
func replacedInvalidUTF8(line []byte) bool {
	for i := 0; i < len(line); i++ {
		if line[i] != '\\' {
			continue
		}
		if bytes.HasPrefix(line[i+1:], []byte("ufffd")) {
			return true
		}
		i++ // the escaped byte; the hex of \uXXXX holds no backslash
	}
	return false
}

// invalidField names the first field of e that holds invalid UTF-8.
func invalidField(e *audit.Event) string {
	for _, f := range []struct{ name, s string }{
		{"ID", e.ID}, {"Subject", e.Subject}, {"Action", e.Action}, {"Resource", e.Resource},
		{"Status", string(e.Status)}, {"Rule", e.Rule}, {"Reason", e.Reason},
		{"PolicyVersion", e.PolicyVersion}, {"Error", e.Error},
	} {
		if !utf8.ValidString(f.s) {
			return f.name
		}
	}
	return "Fields"
}

// append writes p, whole lines, at the end of the file and fsyncs.
func (f *File) append(ctx context.Context, p []byte) error {
	if f == nil || f.f == nil {
		return errNotOpen
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.err != nil {
		return f.err
	}
	// Checked after the wait for the lock: a caller that gave up while
	// waiting must not be stored after all.
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("jsonl: %w", err)
	}
	end := f.end.Load()
	if _, err := f.f.Write(p); err != nil {
		return f.undo(end, fmt.Errorf("jsonl: %w", err))
	}
	if err := f.f.Sync(); err != nil {
		err = f.undo(end, fmt.Errorf("jsonl: %w", err))
		if f.err == nil {
			f.err = fmt.Errorf("jsonl: %s: refusing writes since an fsync failed (reopen it): %w", f.path, err)
		}
		return err
	}
	f.end.Store(end + int64(len(p)))
	return nil
}

// undo cuts the file back to end after a failed write. If it cannot, the
// file may hold part of a line, and it refuses further writes.
func (f *File) undo(end int64, cause error) error {
	if err := f.f.Truncate(end); err != nil {
		f.err = fmt.Errorf("jsonl: %s: refusing writes since a failed write could not be undone (reopen it): %w", f.path, err)
		return errors.Join(cause, f.err)
	}
	return cause
}

// Close closes the file. Every acknowledged event is already on disk, so
// there is nothing to flush. Writes after Close fail.
func (f *File) Close() error {
	if f == nil || f.f == nil {
		return errNotOpen
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if errors.Is(f.err, os.ErrClosed) {
		return f.err
	}
	f.err = fmt.Errorf("jsonl: %s: %w", f.path, os.ErrClosed)
	f.closed.Store(true)
	if err := f.f.Close(); err != nil {
		return fmt.Errorf("jsonl: %w", err)
	}
	return nil
}

// Query returns the events q selects, oldest (lowest id) first. It reads
// the whole file, decoding every line; a line that does not decode is an
// error naming its line number, never skipped.
func (f *File) Query(ctx context.Context, q audit.Query) ([]audit.Event, error) {
	m, err := q.Compile()
	if err != nil {
		return nil, err
	}
	if f == nil || f.f == nil {
		return nil, errNotOpen
	}
	if f.closed.Load() {
		return nil, fmt.Errorf("jsonl: %s: %w", f.path, os.ErrClosed)
	}
	// Lines are appended in the order writers got the lock, not in id
	// order, so the page is the limit smallest ids of all matches. Most
	// files are nearly in id order, so keeping up to twice the limit and
	// sorting when full stays cheap.
	limit := m.Limit()
	var out []audit.Event
	err = scan(ctx, io.NewSectionReader(f.f, 0, f.end.Load()), func(l *line) error {
		if !m.Match(&l.Event) {
			return nil
		}
		e, err := l.event()
		if err != nil {
			return err
		}
		out = append(out, e)
		if len(out) >= 2*limit {
			out = firstByID(out, limit)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("jsonl: %s:%w", f.path, err)
	}
	return firstByID(out, limit), nil
}

// firstByID sorts events by id and keeps the first n. The sort is stable,
// so events that share an id keep their file order.
func firstByID(events []audit.Event, n int) []audit.Event {
	slices.SortStableFunc(events, func(a, b audit.Event) int { return strings.Compare(a.ID, b.ID) })
	if len(events) <= n {
		return events
	}
	clear(events[n:]) // let the dropped events' strings go
	return events[:n]
}

// scan decodes r line by line and calls fn with each line, whose Fields
// are not decoded yet: fn calls event on the lines it keeps, so the lines
// a query skips cost no maps. An error names the line: "N: what".
func scan(ctx context.Context, r io.Reader, fn func(*line) error) error {
	br := bufio.NewReaderSize(r, 64<<10)
	var long []byte // the line, when it is longer than br's buffer
	var l line
	for n := 1; ; n++ {
		if n%4096 == 0 {
			if err := ctx.Err(); err != nil {
				return fmt.Errorf("%d: %w", n, err)
			}
		}
		text, err := br.ReadSlice('\n')
		for err == bufio.ErrBufferFull {
			if len(long) == 0 {
				long = append(long[:0], text...)
			}
			if len(long) > MaxLineBytes {
				return fmt.Errorf("%d: line longer than %d bytes", n, MaxLineBytes)
			}
			text, err = br.ReadSlice('\n')
			long = append(long, text...)
			text = long
		}
		switch {
		case err == io.EOF && len(text) == 0:
			return nil
		case err == io.EOF:
			return fmt.Errorf("%d: last line has no newline", n)
		case err != nil:
			return fmt.Errorf("%d: %w", n, err)
		}
		long = long[:0]
		if err := l.decode(text[:len(text)-1]); err != nil {
			return fmt.Errorf("%d: %w", n, err)
		}
		if err := fn(&l); err != nil {
			return fmt.Errorf("%d: %w", n, err)
		}
	}
}

// line is one decoded line. Its Fields shadow the event's, so they stay
// JSON until event is called.
type line struct {
	audit.Event
	Fields json.RawMessage `json:"fields,omitempty"`
}

// decode decodes one line, without its newline. It is strict, since every
// line was written by encode: a line that is not one JSON object of an
// event, in valid UTF-8, is damage, and says so.
func (l *line) decode(text []byte) error {
	if len(text) == 0 {
		return errors.New("empty line")
	}
	if text[0] != '{' {
		return errors.New("not a JSON object")
	}
	if !utf8.Valid(text) {
		return errors.New("invalid UTF-8") // json.Unmarshal would replace it silently
	}
	*l = line{Fields: l.Fields[:0]} // reuse the buffer; Unmarshal copies into it
	if err := json.Unmarshal(text, l); err != nil {
		return err
	}
	// Checked here, not when the fields are decoded, so a damaged line
	// is an error whether or not a query selects it.
	if len(l.Fields) > 0 && l.Fields[0] != '{' && string(l.Fields) != "null" {
		return errors.New("fields is not a JSON object")
	}
	l.Event.Time = l.Event.Time.UTC()
	return nil
}

// event returns the line's event with its Fields decoded, sharing nothing
// with l.
func (l *line) event() (audit.Event, error) {
	e := l.Event
	if len(l.Fields) == 0 {
		return e, nil
	}
	var err error
	e.Fields, err = audit.DecodeFields(l.Fields) // numbers keep every digit, bytes their value
	return e, err
}
