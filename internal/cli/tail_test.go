package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/warden-authz/warden/audit"
	"github.com/warden-authz/warden/internal/auditurl"
)

// TestTailFollowOneFormat: audit tail --follow prints the events that
// arrive while it follows in the format of the ones it printed first: a
// table with one header, or JSON lines with --json, never a mix.
func TestTailFollowOneFormat(t *testing.T) {
	t.Parallel()
	for _, asJSON := range []bool{false, true} {
		t.Run(fmt.Sprintf("json=%t", asJSON), func(t *testing.T) {
			t.Parallel()
			url := "sqlite:" + filepath.Join(t.TempDir(), "audit.db")
			st, err := auditurl.Open(url)
			if err != nil {
				t.Fatal(err)
			}
			defer st.Close()
			record := func(subject string) {
				t.Helper()
				id, err := audit.NewID()
				if err != nil {
					t.Fatal(err)
				}
				e := audit.Event{ID: id, Time: time.Now(), Subject: subject, Action: "read", Resource: "doc", Status: audit.StatusDenied, Reason: "r"}
				if err := st.Record(context.Background(), &e); err != nil {
					t.Fatal(err)
				}
			}
			record("before1")
			record("before2")

			args := []string{"--audit", url, "--follow", "--interval", "10ms"}
			if asJSON {
				args = append(args, "--json")
			}
			cmd := newAuditTail()
			cmd.SetArgs(args)
			out := &lockedBuffer{}
			cmd.SetOut(out)
			cmd.SetErr(out)
			ctx, cancel := context.WithCancel(context.Background())
			done := make(chan error, 1)
			go func() { done <- cmd.ExecuteContext(ctx) }()
			waitFor(t, "the first events", func() bool { return strings.Contains(out.String(), "before2") })
			record("after1")
			record("after2")
			waitFor(t, "the followed events", func() bool { return strings.Contains(out.String(), "after2") })
			cancel()
			if err := <-done; err != nil {
				t.Fatal(err)
			}

			lines := strings.Split(strings.TrimSpace(out.String()), "\n")
			if len(lines) != 4+btoi(!asJSON) {
				t.Fatalf("%d lines, want the 4 events%s:\n%s", len(lines), map[bool]string{false: " and a header", true: ""}[asJSON], out)
			}
			for i, line := range lines {
				var e audit.Event
				isJSON := json.Unmarshal([]byte(line), &e) == nil
				switch {
				case asJSON && !isJSON:
					t.Errorf("line %d is not a JSON event: %q", i+1, line)
				case !asJSON && isJSON:
					t.Errorf("line %d is JSON in a table: %q", i+1, line)
				case !asJSON && i == 0 && !strings.HasPrefix(line, "TIME"):
					t.Errorf("the table starts %q, not with its header", line)
				case !asJSON && i > 0 && (strings.HasPrefix(line, "TIME") || len(strings.Fields(line)) != 6):
					t.Errorf("row %d is not a table row: %q", i, line)
				}
			}
		})
	}
}

func btoi(b bool) int {
	if b {
		return 1
	}
	return 0
}
