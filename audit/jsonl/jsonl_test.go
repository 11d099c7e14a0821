package jsonl_test

import (
	"bytes"
	"context"
	"errors"
	"math"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/warden-authz/warden/audit"
	"github.com/warden-authz/warden/audit/audittest"
	"github.com/warden-authz/warden/audit/jsonl"
)

// open opens path and closes it when the test ends.
func open(tb testing.TB, path string) *jsonl.File {
	tb.Helper()
	f, err := jsonl.Open(path)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() {
		if err := f.Close(); err != nil && !errors.Is(err, os.ErrClosed) {
			tb.Error(err)
		}
	})
	return f
}

func tempPath(tb testing.TB) string { return filepath.Join(tb.TempDir(), "audit.jsonl") }

// event returns a plain event with the i-th of a run of increasing ids.
func event(tb testing.TB, subject string) audit.Event {
	tb.Helper()
	id, err := audit.NewID()
	if err != nil {
		tb.Fatal(err)
	}
	return audit.Event{
		ID: id, Time: time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC), Subject: subject,
		Action: "articles:read", Resource: "articles:animals:42", Allowed: true,
		Status: audit.StatusAllowed, Rule: "r1", Reason: "rule r1 allows", Latency: 1500,
	}
}

func all(tb testing.TB, f *jsonl.File) []audit.Event {
	tb.Helper()
	got, err := f.Query(context.Background(), audit.Query{Limit: audit.MaxLimit})
	if err != nil {
		tb.Fatal(err)
	}
	return got
}

func subjects(events []audit.Event) string {
	var s []string
	for _, e := range events {
		s = append(s, e.Subject)
	}
	return strings.Join(s, " ")
}

func TestConformance(t *testing.T) {
	t.Parallel()
	audittest.Run(t, func(t *testing.T) audit.Sink { return open(t, tempPath(t)) })
}

// One event is one line, in its JSON form without HTML escaping, with the
// time in UTC, in a file only its owner can read.
func TestFileFormat(t *testing.T) {
	t.Parallel()
	path := tempPath(t)
	f := open(t, path)
	e := event(t, "alice")
	e.Reason = "<b>\"x\" & y</b>\nsecond line\r\u2028"
	e.Time = time.Date(2025, 3, 1, 17, 30, 0, 0, time.FixedZone("IST", 5*3600+1800))
	if err := f.Record(t.Context(), &e); err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if n := bytes.Count(data, []byte("\n")); n != 1 || data[len(data)-1] != '\n' {
		t.Errorf("%d newlines, want the one that ends the line:\n%s", n, data)
	}
	for _, want := range []string{`"reason":"<b>\"x\" & y</b>\nsecond line\r\u2028"`, `"time":"2025-03-01T12:00:00Z"`, `{"id":"` + e.ID + `"`} {
		if !bytes.Contains(data, []byte(want)) {
			t.Errorf("line lacks %s:\n%s", want, data)
		}
	}
	if runtime.GOOS != "windows" {
		st, err := os.Stat(path)
		if err != nil {
			t.Fatal(err)
		}
		if st.Mode().Perm() != 0o600 {
			t.Errorf("mode %v, want 0600", st.Mode().Perm())
		}
	}
}

// Strings that would break a line-per-event format stay on one line.
func TestOneEventOneLine(t *testing.T) {
	t.Parallel()
	path := tempPath(t)
	f := open(t, path)
	nasty := []string{"\n", "\r", "\r\n", "\u2028", "\u2029", "\u0085", "\x00", "}\n{\"id\":\"forged\"}\n", "\\n", strings.Repeat("\n", 1000)}
	for _, s := range nasty {
		e := event(t, s)
		e.Reason, e.Fields = s, map[string]any{s: s}
		if err := f.Record(t.Context(), &e); err != nil {
			t.Fatalf("Record(%q): %v", s, err)
		}
	}
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if n := bytes.Count(data, []byte("\n")); n != len(nasty) {
		t.Errorf("%d lines for %d events", n, len(nasty))
	}
	if got := all(t, f); len(got) != len(nasty) {
		t.Errorf("%d events back, want %d", len(got), len(nasty))
	}
}

// A crash mid-write leaves a torn last line; Open cuts it, and the file
// goes on as if it had never been written.
func TestTornLastLine(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		torn string
	}{
		{"half-a-line", `{"id":"0195519`},
		{"all-but-the-newline", `{"id":"x","time":"2025-03-01T12:00:00Z","subject":"ghost"}`},
		{"a-few-bytes-of-many-lines", `{"id":"a"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			path := tempPath(t)
			f, err := jsonl.Open(path)
			if err != nil {
				t.Fatal(err)
			}
			before := []audit.Event{event(t, "a"), event(t, "b"), event(t, "c")}
			if err := f.WriteBatch(t.Context(), before); err != nil {
				t.Fatal(err)
			}
			if err := f.Close(); err != nil {
				t.Fatal(err)
			}
			appendFile(t, path, tc.torn)

			f = open(t, path)
			if f.Recovered() != int64(len(tc.torn)) {
				t.Errorf("Recovered() = %d, want %d", f.Recovered(), len(tc.torn))
			}
			d, e := event(t, "d"), event(t, "e")
			if err := f.Record(t.Context(), &d); err != nil {
				t.Fatal(err)
			}
			if err := f.WriteBatch(t.Context(), []audit.Event{e}); err != nil {
				t.Fatal(err)
			}
			if got := subjects(all(t, f)); got != "a b c d e" {
				t.Errorf("subjects %q, want %q", got, "a b c d e")
			}
		})
	}
}

// A file that is nothing but a torn line is emptied.
func TestTornOnlyLine(t *testing.T) {
	t.Parallel()
	path := tempPath(t)
	if err := os.WriteFile(path, []byte(`{"id":"x"`), 0o600); err != nil {
		t.Fatal(err)
	}
	f := open(t, path)
	if f.Recovered() != 9 {
		t.Errorf("Recovered() = %d, want 9", f.Recovered())
	}
	if got := all(t, f); len(got) != 0 {
		t.Errorf("%d events, want none", len(got))
	}
	if st, err := os.Stat(path); err != nil || st.Size() != 0 {
		t.Errorf("size after recovery: %v, %v", st.Size(), err)
	}
}

func appendFile(t *testing.T, path, s string) {
	t.Helper()
	w, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.WriteString(s); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
}

// Damage in the middle is reported with its line number, never skipped,
// and does not stop appends.
func TestDamagedLine(t *testing.T) {
	t.Parallel()
	good := `{"id":"01955193-de00-7000-8000-000000000000","time":"2025-03-01T12:00:00Z","subject":"a","action":"r","resource":"x","allowed":true,"status":"allowed","reason":"ok","latency_ns":1}`
	for _, tc := range []struct{ name, line, want string }{
		{"empty", "", "empty line"},
		{"not-an-object", `["id"]`, "not a JSON object"},
		{"cut-short", good[:40], "unexpected end of JSON input"},
		{"trailing-data", good + ` {}`, "after top-level value"},
		{"invalid-utf8", strings.Replace(good, `"a"`, "\"\xff\"", 1), "invalid UTF-8"},
		{"wrong-type", strings.Replace(good, `"latency_ns":1`, `"latency_ns":"1"`, 1), "latency_ns"},
		{"bad-time", strings.Replace(good, `2025-03-01T12:00:00Z`, `yesterday`, 1), "time"},
		{"nul-bytes", "\x00\x00\x00", "not a JSON object"},
		{"fields-not-an-object", strings.Replace(good, `"latency_ns":1`, `"latency_ns":1,"fields":[1]`, 1), "fields is not a JSON object"},
		{"fields-bad-value", strings.Replace(good, `"latency_ns":1`, `"latency_ns":1,"fields":{"a":tru}`, 1), "invalid character"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			path := tempPath(t)
			if err := os.WriteFile(path, []byte(good+"\n"+good+"\n"+tc.line+"\n"+good+"\n"), 0o600); err != nil {
				t.Fatal(err)
			}
			f := open(t, path)
			e := event(t, "new")
			if err := f.Record(t.Context(), &e); err != nil {
				t.Fatal(err)
			}
			// Whether or not the query selects the damaged line.
			for _, q := range []audit.Query{{}, {Subject: "nobody"}} {
				_, err := f.Query(t.Context(), q)
				if err == nil || !strings.Contains(err.Error(), path+":3: ") || !strings.Contains(err.Error(), tc.want) {
					t.Errorf("Query(%+v) error %v, want one naming %s:3 and saying %q", q, err, path, tc.want)
				}
			}
		})
	}
}

// Open fails, without panicking, on what it cannot append to.
func TestOpenErrors(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	file := filepath.Join(dir, "file")
	if err := os.WriteFile(file, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	cases := []struct{ name, path string }{
		{"directory", dir},
		{"through-a-file", filepath.Join(file, "audit.jsonl")},
		{"missing-directory", filepath.Join(dir, "missing", "audit.jsonl")},
	}
	if runtime.GOOS != "windows" {
		cases = append(cases, struct{ name, path string }{"device", os.DevNull})
	}
	if os.Geteuid() != 0 && runtime.GOOS != "windows" {
		// Root ignores permission bits, so these run only for other users.
		ro := filepath.Join(dir, "read-only")
		if err := os.WriteFile(ro, nil, 0o400); err != nil {
			t.Fatal(err)
		}
		rodir := filepath.Join(dir, "read-only-dir")
		if err := os.Mkdir(rodir, 0o500); err != nil {
			t.Fatal(err)
		}
		cases = append(cases,
			struct{ name, path string }{"read-only-file", ro},
			struct{ name, path string }{"read-only-directory", filepath.Join(rodir, "audit.jsonl")})
	} else {
		t.Log("running as root: the read-only file and directory cases are skipped (root may write them)")
	}
	for _, c := range cases {
		f, err := jsonl.Open(c.path)
		if err == nil {
			f.Close()
			t.Errorf("%s: Open(%s) succeeded", c.name, c.path)
		} else if !strings.HasPrefix(err.Error(), "jsonl: ") {
			t.Errorf("%s: error %q lacks the package name", c.name, err)
		}
	}
}

// A second File on the same path would interleave lines and cut the
// first one's recovery short, so it is refused until the first closes.
func TestOneFilePerPath(t *testing.T) {
	// Not parallel: the crash tests fork subprocesses, and between fork
	// and exec a child holds a copy of every descriptor, so the flock can
	// outlive Close for a moment and the reopen below fail spuriously.
	// Sequential tests run before parallel ones resume.
	switch runtime.GOOS {
	case "linux", "darwin", "freebsd", "netbsd", "openbsd", "dragonfly":
	default:
		t.Skip("no flock on " + runtime.GOOS)
	}
	path := tempPath(t)
	first, err := jsonl.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	if second, err := jsonl.Open(path); err == nil {
		second.Close()
		t.Fatal("a second Open of the same file succeeded")
	}
	if err := first.Close(); err != nil {
		t.Fatal(err)
	}
	open(t, path)
}

// After Close, and on a File not made by Open, every method fails.
func TestClosed(t *testing.T) {
	t.Parallel()
	f, err := jsonl.Open(tempPath(t))
	if err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	var zero jsonl.File
	for _, f := range []*jsonl.File{f, &zero} {
		e := event(t, "late")
		if err := f.Record(t.Context(), &e); err == nil {
			t.Error("Record succeeded")
		}
		if err := f.WriteBatch(t.Context(), []audit.Event{e}); err == nil {
			t.Error("WriteBatch succeeded")
		}
		if _, err := f.Query(t.Context(), audit.Query{}); err == nil {
			t.Error("Query succeeded")
		}
		if err := f.Close(); err == nil {
			t.Error("Close succeeded twice")
		}
	}
}

// What JSON cannot carry unchanged is refused, and nothing of the batch
// is written.
func TestRefused(t *testing.T) {
	t.Parallel()
	bad := func(change func(*audit.Event)) audit.Event {
		e := event(t, "x")
		change(&e)
		return e
	}
	for _, tc := range []struct {
		name string
		e    audit.Event
		want string
	}{
		{"nan", bad(func(e *audit.Event) { e.Fields = map[string]any{"a": math.NaN()} }), "NaN"},
		{"channel", bad(func(e *audit.Event) { e.Fields = map[string]any{"a": make(chan int)} }), "chan"},
		{"year-10000", bad(func(e *audit.Event) { e.Time = time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC) }), "year"},
		{"too-long", bad(func(e *audit.Event) { e.Reason = strings.Repeat("\x01", jsonl.MaxLineBytes/6+1) }), "over the limit"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			path := tempPath(t)
			f := open(t, path)
			err := f.Record(t.Context(), &tc.e)
			if !errors.Is(err, jsonl.ErrRefused) || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("Record: error %v, want ErrRefused saying %q", err, tc.want)
			}
			if tc.name != "too-long" { // once is enough for 64 MB
				err = f.WriteBatch(t.Context(), []audit.Event{event(t, "fine"), tc.e})
				if !errors.Is(err, jsonl.ErrRefused) || !strings.Contains(err.Error(), "event 1 of the batch") {
					t.Errorf("WriteBatch: error %v, want one naming event 1", err)
				}
			}
			if st, err := os.Stat(path); err != nil || st.Size() != 0 {
				t.Errorf("a refused event left %d bytes (%v)", st.Size(), err)
			}
		})
	}
}

// Look-alikes of what is refused are ordinary text and round-trip.
func TestNotRefused(t *testing.T) {
	t.Parallel()
	f := open(t, tempPath(t))
	for _, s := range []string{"\uFFFD", `\ufffd`, `\\ufffd`, `\uFFFD`, "\\\uFFFD"} {
		e := event(t, s)
		e.Fields = map[string]any{s: s}
		if err := f.Record(t.Context(), &e); err != nil {
			t.Errorf("Record(%q): %v", s, err)
			continue
		}
		got, err := f.Query(t.Context(), audit.Query{Subject: s})
		if err != nil || len(got) != 1 || got[0].Fields[s] != s {
			t.Errorf("Query(%q) = %v, %v", s, got, err)
		}
	}
}

// A caller that gave up is not stored.
func TestCanceled(t *testing.T) {
	t.Parallel()
	f := open(t, tempPath(t))
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	e := event(t, "x")
	if err := f.Record(ctx, &e); !errors.Is(err, context.Canceled) {
		t.Errorf("Record: %v, want context.Canceled", err)
	}
	if got := all(t, f); len(got) != 0 {
		t.Errorf("%d events stored", len(got))
	}
}

// Lines out of id order, many more than the limit, still give the first
// page by id: the file is appended in lock order, not id order.
func TestQueryOutOfOrder(t *testing.T) {
	t.Parallel()
	f := open(t, tempPath(t))
	ref := &audit.Memory{}
	events := make([]audit.Event, 1000)
	for i := range events {
		events[i] = event(t, []string{"a", "b", "c"}[i%3])
	}
	var batch []audit.Event
	for i := len(events) - 1; i >= 0; i-- { // newest first
		batch = append(batch, events[i])
		ref.Record(t.Context(), &events[i])
	}
	if err := f.WriteBatch(t.Context(), batch); err != nil {
		t.Fatal(err)
	}
	for _, q := range []audit.Query{{Limit: 10}, {Subject: "b", Limit: 7}, {After: events[500].ID, Limit: 3}, {}} {
		want, _ := ref.Query(t.Context(), q)
		got, err := f.Query(t.Context(), q)
		if err != nil {
			t.Fatal(err)
		}
		if len(got) != len(want) {
			t.Fatalf("%+v: %d events, want %d", q, len(got), len(want))
		}
		for i := range want {
			if got[i].ID != want[i].ID {
				t.Fatalf("%+v: event %d is %s, want %s", q, i, got[i].ID, want[i].ID)
			}
		}
	}
}

// Lines far longer than the read buffer round-trip.
func TestLongLine(t *testing.T) {
	t.Parallel()
	f := open(t, tempPath(t))
	e := event(t, "long")
	e.Reason = strings.Repeat("é\n", 1<<20) // 4 MB once encoded
	small := event(t, "after")
	if err := f.WriteBatch(t.Context(), []audit.Event{e, small}); err != nil {
		t.Fatal(err)
	}
	got := all(t, f)
	if len(got) != 2 || got[0].Reason != e.Reason || got[1].Subject != "after" {
		t.Errorf("got %d events; long reason intact: %v", len(got), len(got) > 0 && got[0].Reason == e.Reason)
	}
}

// A file written before events had a revision reads as it did, each event
// at revision 0; lines with one read it back exactly, the largest included;
// a revision that is not a whole number from 0 up is damage.
func TestRevision(t *testing.T) {
	t.Parallel()
	path := tempPath(t)
	old := event(t, "alice")
	// The line this package wrote for old before Event had a Revision.
	line := `{"id":"` + old.ID + `","time":"2025-03-01T12:00:00Z","subject":"alice","action":"articles:read",` +
		`"resource":"articles:animals:42","allowed":true,"status":"allowed","rule":"r1","reason":"rule r1 allows","latency_ns":1500}` + "\n"
	if err := os.WriteFile(path, []byte(line), 0o600); err != nil {
		t.Fatal(err)
	}
	f := open(t, path)
	var want []audit.Event
	want = append(want, old)
	for _, rev := range []uint64{1, 4711, math.MaxUint64} {
		e := event(t, "bob")
		e.Revision = rev
		if err := f.Record(t.Context(), &e); err != nil {
			t.Fatal(err)
		}
		want = append(want, e)
	}
	got := all(t, f)
	if len(got) != len(want) {
		t.Fatalf("%d events, want %d", len(got), len(want))
	}
	for i := range want {
		if got[i].ID != want[i].ID || got[i].Revision != want[i].Revision {
			t.Errorf("event %d: id %s revision %d, want id %s revision %d", i, got[i].ID, got[i].Revision, want[i].ID, want[i].Revision)
		}
	}
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.HasPrefix(data, []byte(line)) {
		t.Errorf("the old line changed:\n%s", data)
	}
	if !bytes.Contains(data, []byte(`"revision":18446744073709551615`)) {
		t.Errorf("no revision written in full:\n%s", data)
	}

	for _, bad := range []string{`-1`, `1.5`, `"7"`, `18446744073709551616`} {
		path := tempPath(t)
		text := strings.Replace(line, `"latency_ns":1500}`, `"latency_ns":1500,"revision":`+bad+`}`, 1)
		if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
			t.Fatal(err)
		}
		f := open(t, path)
		if got, err := f.Query(t.Context(), audit.Query{}); err == nil || !strings.Contains(err.Error(), ":1:") {
			t.Errorf("revision %s: %d events, %v; want an error naming line 1", bad, len(got), err)
		}
	}
}
