package cli_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/warden-authz/warden"
	"github.com/warden-authz/warden/internal/cli"
	"github.com/warden-authz/warden/internal/workload"
)

func writeWorkload(tb testing.TB, w workload.Workload, n int) (policy string, requests []byte) {
	tb.Helper()
	policy = filepath.Join(tb.TempDir(), w.Name+".toml")
	if err := os.WriteFile(policy, []byte(workload.TOML(w.Source)), 0o600); err != nil {
		tb.Fatal(err)
	}
	var buf bytes.Buffer
	for i := range n {
		r := w.Requests[i%len(w.Requests)]
		fmt.Fprintf(&buf, `{"subject":%q,"resource":%q,"action":%q}`+"\n", r.Subject, r.Resource, r.Action)
	}
	return policy, buf.Bytes()
}

// TestBatchAgreesWithDecide: every batch answer is the decision the library
// gives for the same request, in input order.
func TestBatchAgreesWithDecide(t *testing.T) {
	t.Parallel()
	for _, w := range []workload.Workload{workload.RBAC("rbac-medium", 10000, 1000), workload.Glob(20)} {
		t.Run(w.Name, func(t *testing.T) {
			t.Parallel()
			policy, in := writeWorkload(t, w, 3000)
			p, err := warden.Load(policy)
			if err != nil {
				t.Fatal(err)
			}
			var out, errOut bytes.Buffer
			if code := cli.Run([]string{"check", "--batch", "-c", policy}, bytes.NewReader(in), &out, &errOut); code != 0 {
				t.Fatalf("exit %d: %s", code, errOut.String())
			}
			lines := strings.Split(strings.TrimSuffix(out.String(), "\n"), "\n")
			if len(lines) != 3000 {
				t.Fatalf("%d output lines, want 3000", len(lines))
			}
			allowed := 0
			for i, line := range lines {
				r := w.Requests[i%len(w.Requests)]
				want, err := p.Decide(warden.Request{Subject: r.Subject, Resource: r.Resource, Action: r.Action})
				if err != nil {
					t.Fatal(err)
				}
				var got warden.Decision
				if err := json.Unmarshal([]byte(line), &got); err != nil {
					t.Fatalf("line %d: %v: %s", i+1, err, line)
				}
				if got.Allowed != want.Allowed || got.Rule != want.Rule || got.Item != want.Item || got.Effect != want.Effect {
					t.Fatalf("line %d: batch %+v, Decide %+v", i+1, got, want)
				}
				if got.Allowed {
					allowed++
				}
			}
			if allowed == 0 || allowed == len(lines) {
				t.Errorf("%d of %d allowed: the workload does not exercise both outcomes", allowed, len(lines))
			}
		})
	}
}

// BenchmarkBatchRBACLarge runs `warden check --batch` over 100,000 requests
// against RBAC large (100,000 users, 10,000 roles), loading included.
func BenchmarkBatchRBACLarge(b *testing.B) {
	policy, in := writeWorkload(b, workload.RBAC("rbac-large", 100000, 10000), 100000)
	b.SetBytes(int64(len(in)))
	for b.Loop() {
		var out, errOut bytes.Buffer
		if code := cli.Run([]string{"check", "--batch", "-c", policy}, bytes.NewReader(in), &out, &errOut); code != 0 {
			b.Fatalf("exit %d: %s", code, errOut.String())
		}
	}
}
