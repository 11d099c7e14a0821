package server_test

import (
	"encoding/json"
	"os"
	"regexp"
	"strings"
	"testing"
)

// curlLine is one `$ curl -s URL [--json 'BODY']` line of the README's
// console blocks, with the output shown under it.
var curlLine = regexp.MustCompile(`^\$ curl -s '?localhost:8181([^' ]+)'?(?: --json '(.*)')?$`)

// TestREADMECurl replays the README's curl session against the service
// serving the bundled example, and compares every answer with the one the
// README shows, so the pasted output cannot drift from the code. Event
// ids, times and latencies differ from run to run; for audit answers the
// test compares everything else.
func TestREADMECurl(t *testing.T) {
	t.Parallel()
	readme, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	policy, err := os.ReadFile("../../examples/publishing/policy.toml")
	if err != nil {
		t.Fatal(err)
	}
	f := start(t, string(policy), nil)
	lines := strings.Split(string(readme), "\n")
	checked := 0
	for i := 0; i+1 < len(lines); i++ {
		m := curlLine.FindStringSubmatch(lines[i])
		if m == nil {
			continue
		}
		path, body, want := m[1], m[2], lines[i+1]
		method := "GET"
		var header []string
		if m[2] != "" || strings.Contains(lines[i], "--json") {
			method, header = "POST", []string{"Content-Type", "application/json"}
		}
		if strings.HasPrefix(path, "/v1/audit") {
			// A person types the query seconds later; the test must wait
			// for the audit writer explicitly.
			if err := f.srv.Flush(t.Context()); err != nil {
				t.Fatal(err)
			}
		}
		r := f.do(t, method, path, body, header...)
		got := strings.TrimSpace(string(r.body))
		if strings.HasPrefix(path, "/v1/audit") {
			got, want = stripVolatile(t, got), stripVolatile(t, want)
		}
		if got != want {
			t.Errorf("README line %d: %s\nanswers %s\nbut the README shows %s", i+1, lines[i], got, want)
		}
		checked++
	}
	if checked < 4 {
		t.Fatalf("found only %d curl examples in the README; has its format changed?", checked)
	}
}

// stripVolatile blanks the fields of audit events that differ between runs.
func stripVolatile(t *testing.T, body string) string {
	t.Helper()
	var page map[string]any
	if err := json.Unmarshal([]byte(body), &page); err != nil {
		t.Fatalf("audit answer %s: %v", body, err)
	}
	events, _ := page["events"].([]any)
	for _, e := range events {
		ev := e.(map[string]any)
		for _, k := range []string{"id", "time", "latency_ns"} {
			if _, ok := ev[k]; !ok {
				t.Fatalf("audit event without %q: %s", k, body)
			}
			ev[k] = "…"
		}
	}
	if _, ok := page["next"]; ok {
		page["next"] = "…"
	}
	out, _ := json.Marshal(page)
	return string(out)
}
