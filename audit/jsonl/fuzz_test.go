package jsonl_test

import (
	"bytes"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"strconv"
	"testing"

	"github.com/warden-authz/warden/audit"
	"github.com/warden-authz/warden/audit/jsonl"
)

// FuzzOpen feeds arbitrary file contents to Open and Query. Open must cut
// exactly the bytes after the last newline; Query must return one event
// per line or an error naming a line that exists; and what it returns must
// survive being written and read again unchanged.
func FuzzOpen(f *testing.F) {
	const good = `{"id":"01955193-de00-7000-8000-000000000000","time":"2025-03-01T12:00:00Z","subject":"a","action":"r","resource":"x","allowed":true,"status":"allowed","reason":"ok","latency_ns":1,"fields":{"n":9007199254740993,"s":"\u2028"}}`
	for _, seed := range []string{
		"",
		"\n",
		good + "\n",
		good + "\n" + good[:30],
		good + "\n" + good + "\n",
		good + "\ngarbage\n" + good + "\n",
		good + "\n\n" + good + "\n",
		"{}\n",
		"{} {}\n",
		`{"time":"2025-13-01T00:00:00Z"}` + "\n",
		`{"fields":{"n":1e999,"a":[1,{"b":null}]}}` + "\n",
		`{"subject":"\ud800"}` + "\n",
		"{\"subject\":\"\xff\"}\n",
		`{"subject":"\udcff\u0000\udc80x","reason":"\ud83d\udc80"}` + "\n",
		`{"ID":"upper","Subject":"case"}` + "\n",
		"\r\n" + good + "\r\n",
		`{"id":"a"}` + "\n" + `{"id":"a"}` + "\n",
		`{"id":"r","revision":18446744073709551615}` + "\n" + `{"id":"s","revision":-1}` + "\n" + `{"id":"t","revision":1e3}` + "\n",
	} {
		f.Add([]byte(seed))
	}
	lineRE := regexp.MustCompile(`^jsonl: .*\.jsonl:(\d+): `)
	f.Fuzz(func(t *testing.T, data []byte) {
		dir := t.TempDir()
		path := filepath.Join(dir, "fuzz.jsonl")
		if err := os.WriteFile(path, data, 0o600); err != nil {
			t.Fatal(err)
		}
		file, err := jsonl.Open(path)
		if err != nil {
			t.Fatalf("Open of a regular file failed: %v", err)
		}
		defer file.Close()
		kept := bytes.LastIndexByte(data, '\n') + 1
		if file.Recovered() != int64(len(data)-kept) {
			t.Fatalf("Recovered() = %d, want %d", file.Recovered(), len(data)-kept)
		}
		lines := bytes.Count(data[:kept], []byte("\n"))
		got, err := file.Query(t.Context(), audit.Query{Limit: audit.MaxLimit})
		if err != nil {
			m := lineRE.FindStringSubmatch(err.Error())
			if m == nil {
				t.Fatalf("error names no line: %v", err)
			}
			if n, _ := strconv.Atoi(m[1]); n < 1 || n > lines {
				t.Fatalf("error names line %d of %d: %v", n, lines, err)
			}
			return
		}
		if lines <= audit.MaxLimit && len(got) != lines {
			t.Fatalf("%d lines gave %d events: some were skipped", lines, len(got))
		}
		for i := 1; i < len(got); i++ {
			if got[i].ID < got[i-1].ID {
				t.Fatalf("events out of id order: %q before %q", got[i-1].ID, got[i].ID)
			}
		}
		// What was read writes back unchanged, or is refused.
		again := open(t, filepath.Join(dir, "again.jsonl"))
		if err := again.WriteBatch(t.Context(), got); err != nil {
			return
		}
		back := all(t, again)
		if !reflect.DeepEqual(got, back) {
			t.Fatalf("read, written and read again:\n%+v\nbecame\n%+v", got, back)
		}
	})
}
