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
// batch, and the error gives its index. Every string is stored
// faithfully: NUL as \u0000, and each byte of invalid UTF-8 as the escape
// \udcXX (as audit.EncodeFields writes Fields), which valid text never
// holds, so it reads back as the same byte where encoding/json would have
// written U+FFFD. Refused are only Fields values with no JSON form
// (channels, functions, NaN), times outside the years 0 to 9999, and
// events whose line would be longer than MaxLineBytes.
//
// Fields come back as audit.DecodeFields reads them: objects as
// map[string]any, arrays as []any, and numbers as json.Number, so a large
// integer keeps every digit.
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
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"github.com/warden-authz/warden/audit"
	"github.com/warden-authz/warden/internal/faithful"
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
	buf, err := appendLine(make([]byte, 0, 384), e)
	if err != nil {
		return fmt.Errorf("jsonl: event %q: %w: %w", e.ID, ErrRefused, err)
	}
	return f.append(ctx, buf)
}

// WriteBatch appends events in order with one write, then fsyncs: when it
// returns nil, every event is on disk. On error the batch is not stored;
// only a crash during the write (or a failure to undo one, see the
// package doc) can leave some of its complete lines in the file.
func (f *File) WriteBatch(ctx context.Context, events []audit.Event) error {
	if len(events) == 0 {
		return nil
	}
	// A typical event's line is about 350 bytes, so most batches encode
	// without regrowing.
	buf := make([]byte, 0, len(events)*384)
	for i := range events {
		var err error
		if buf, err = appendLine(buf, &events[i]); err != nil {
			return fmt.Errorf("jsonl: event %d of the batch (id %q): %w: %w", i, events[i].ID, ErrRefused, err)
		}
	}
	return f.append(ctx, buf)
}

// appendLine appends the line of e, newline included, to b; or, when e
// cannot be written unchanged, returns b as it was and says why.
//
// The line is the event's JSON form, its keys and omitted empty values
// as encoding/json writes an audit.Event (without HTML escapes; Fields
// whenever they are not nil, {} included), except that every string goes
// through internal/faithful, which writes each byte of invalid UTF-8 as
// the escape \udcXX where encoding/json would write U+FFFD. For events in
// valid UTF-8 the line is byte for byte what this package wrote through
// encoding/json before (TestLineMatchesEncodingJSON), so older files read
// the same and tools that read them with encoding/json still can.
func appendLine(b []byte, e *audit.Event) ([]byte, error) {
	start := len(b)
	t := e.Time.UTC() // the same instant; one zone makes the file sortable by eye
	if y := t.Year(); y < 0 || y > 9999 {
		return b, fmt.Errorf("time %v: year outside of range [0,9999]", e.Time)
	}
	b = append(b, `{"id":`...)
	b = faithful.AppendString(b, e.ID)
	b = append(b, `,"time":"`...)
	b = t.AppendFormat(b, time.RFC3339Nano)
	b = append(b, `","subject":`...)
	b = faithful.AppendString(b, e.Subject)
	b = append(b, `,"action":`...)
	b = faithful.AppendString(b, e.Action)
	b = append(b, `,"resource":`...)
	b = faithful.AppendString(b, e.Resource)
	b = append(b, `,"allowed":`...)
	b = strconv.AppendBool(b, e.Allowed)
	b = append(b, `,"status":`...)
	b = faithful.AppendString(b, string(e.Status))
	if e.Rule != "" {
		b = append(b, `,"rule":`...)
		b = faithful.AppendString(b, e.Rule)
	}
	b = append(b, `,"reason":`...)
	b = faithful.AppendString(b, e.Reason)
	b = append(b, `,"latency_ns":`...)
	b = strconv.AppendInt(b, int64(e.Latency), 10)
	if e.PolicyVersion != "" {
		b = append(b, `,"policy_version":`...)
		b = faithful.AppendString(b, e.PolicyVersion)
	}
	if e.Revision != 0 {
		b = append(b, `,"revision":`...)
		b = strconv.AppendUint(b, e.Revision, 10)
	}
	if e.Error != "" {
		b = append(b, `,"error":`...)
		b = faithful.AppendString(b, e.Error)
	}
	if e.Fields != nil {
		// As audit.EncodeFields writes them, straight into the line.
		b = append(b, `,"fields":`...)
		var err error
		if b, err = faithful.Append(b, e.Fields); err != nil {
			return b[:start], err
		}
	}
	b = append(b, "}\n"...)
	if n := len(b) - start; n > MaxLineBytes {
		return b[:start], fmt.Errorf("%d bytes encoded, over the limit of %d", n, MaxLineBytes)
	}
	return b, nil
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

// line is one decoded line: the event without its Fields, which stay
// JSON until event is called.
type line struct {
	audit.Event
	Fields json.RawMessage
}

// lineJSON is a line as encoding/json reads it: its strings are read by
// internal/faithful (text), so the \udcXX escapes appendLine writes come
// back as the bytes they stand for.
type lineJSON struct {
	ID            text            `json:"id"`
	Time          time.Time       `json:"time"`
	Subject       text            `json:"subject"`
	Action        text            `json:"action"`
	Resource      text            `json:"resource"`
	Allowed       bool            `json:"allowed"`
	Status        text            `json:"status"`
	Rule          text            `json:"rule"`
	Reason        text            `json:"reason"`
	Latency       time.Duration   `json:"latency_ns"`
	PolicyVersion text            `json:"policy_version"`
	Revision      uint64          `json:"revision"` // absent in lines written before it existed: 0
	Error         text            `json:"error"`
	Fields        json.RawMessage `json:"fields"`
}

// text is a string in a line, read by internal/faithful.
type text string

// UnmarshalJSON reads a JSON string as internal/faithful does. null leaves
// it as it is, as encoding/json does for a string.
func (t *text) UnmarshalJSON(b []byte) error {
	if string(b) == "null" {
		return nil
	}
	if len(b) < 2 || b[0] != '"' {
		return fmt.Errorf("a string field holds %s, not a string", describe(b))
	}
	if bytes.IndexByte(b, '\\') < 0 {
		*t = text(b[1 : len(b)-1]) // no escapes: the text is the string
		return nil
	}
	v, err := faithful.Decode(b)
	if err != nil {
		return err
	}
	str, ok := v.(string)
	if !ok {
		return fmt.Errorf("a string field holds %T", v) // encoding/json passes one whole value
	}
	*t = text(str)
	return nil
}

// describe names the kind of the JSON value b.
func describe(b []byte) string {
	switch {
	case len(b) == 0:
		return "nothing"
	case b[0] == '{':
		return "an object"
	case b[0] == '[':
		return "an array"
	case b[0] == 't' || b[0] == 'f':
		return "a boolean"
	}
	return "a number"
}

// decode decodes one line, without its newline. It is strict, since every
// line was written by appendLine: a line that is not one JSON object of an
// event, in valid UTF-8, is damage, and says so.
func (l *line) decode(b []byte) error {
	if len(b) == 0 {
		return errors.New("empty line")
	}
	if b[0] != '{' {
		return errors.New("not a JSON object")
	}
	if !utf8.Valid(b) {
		return errors.New("invalid UTF-8") // appendLine escapes it; raw, it is damage
	}
	j := lineJSON{Fields: l.Fields[:0]} // reuse the buffer; Unmarshal copies into it
	if err := json.Unmarshal(b, &j); err != nil {
		return err
	}
	// Checked here, not when the fields are decoded, so a damaged line
	// is an error whether or not a query selects it.
	if len(j.Fields) > 0 && j.Fields[0] != '{' && string(j.Fields) != "null" {
		return errors.New("fields is not a JSON object")
	}
	*l = line{
		Event: audit.Event{
			ID: string(j.ID), Time: j.Time.UTC(), Subject: string(j.Subject), Action: string(j.Action),
			Resource: string(j.Resource), Allowed: j.Allowed, Status: audit.Status(j.Status), Rule: string(j.Rule),
			Reason: string(j.Reason), Latency: j.Latency, PolicyVersion: string(j.PolicyVersion), Revision: j.Revision,
			Error: string(j.Error),
		},
		Fields: j.Fields,
	}
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
