package cli

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/warden-authz/warden/internal/workload"
	"github.com/warden-authz/warden/store"
	"github.com/warden-authz/warden/store/sqlite"
	"github.com/warden-authz/warden/types"
)

// The service's runtime-data figures, measured on a real `warden serve`
// process over loopback HTTP with the SQLite store (docs/performance.md,
// "Runtime data through the service").

// postData sends one write batch and returns its latency.
func postData(b *testing.B, c *http.Client, url, body string) time.Duration {
	req, _ := http.NewRequest("POST", url+"/v1/data", strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer admin-secret")
	req.Header.Set("Content-Type", "application/json")
	t0 := time.Now()
	resp, err := c.Do(req)
	if err != nil {
		b.Fatal(err)
	}
	got, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	d := time.Since(t0)
	if resp.StatusCode != 200 {
		b.Fatalf("write: %d %s", resp.StatusCode, got)
	}
	return d
}

// BenchmarkServeWrite measures durable writes through POST /v1/data on
// SQLite: a batch of one (p50, p99), and batches of 1,000 new users into
// 10 teams (records/s).
func BenchmarkServeWrite(b *testing.B) {
	dir := b.TempDir()
	policy := writeServeFile(b, dir, "policy.toml", dataServePolicy)
	token := writeServeFile(b, dir, "admin.token", "admin-secret\n")
	p := startServe(b, dir, "-c", policy, "--audit", "off", "--store", "sqlite:"+filepath.Join(dir, "data.db"), "--admin-token-file", token)
	waitForLong(b, "the store to load", time.Minute, func() bool { return readyRevision(p.url) >= 0 })
	c := &http.Client{Timeout: time.Minute}
	n := 0
	b.Run("one", func(b *testing.B) {
		var lat []time.Duration
		for b.Loop() {
			n++
			lat = append(lat, postData(b, c, p.url, fmt.Sprintf(`{"writes":[{"op":"add","membership":{"member":"one%d","group":"team:%d"}}]}`, n, n%10)))
		}
		slices.Sort(lat)
		b.ReportMetric(float64(lat[len(lat)/2].Microseconds())/1000, "p50-ms")
		b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds())/1000, "p99-ms")
	})
	b.Run("batch1000", func(b *testing.B) {
		var total time.Duration
		for b.Loop() {
			var w strings.Builder
			w.WriteString(`{"writes":[`)
			for i := range 1000 {
				if i > 0 {
					w.WriteByte(',')
				}
				n++
				fmt.Fprintf(&w, `{"op":"add","membership":{"member":"user%d@example.com","group":"team:%d"}}`, n, n%10)
			}
			w.WriteString(`]}`)
			total += postData(b, c, p.url, w.String())
		}
		b.ReportMetric(float64(b.N*1000)/total.Seconds(), "records/s")
	})
}

// bench2MServeEnv names the SQLite file BenchmarkServeStart2M serves,
// built on its first run.
const bench2MServeEnv = "WARDEN_BENCH_SERVE_2M"

// BenchmarkServeStart2M starts `warden serve` on RBAC large (100,000
// users, 10,000 roles, 10,000 rules) with a store of 1,000,000
// memberships and 1,000,000 grants, and reports the time from the
// process's start to /readyz ready at the store's revision, and the heap
// and resident memory it then holds. Skipped unless bench2MServeEnv names
// the file.
func BenchmarkServeStart2M(b *testing.B) {
	path := os.Getenv(bench2MServeEnv)
	if path == "" {
		b.Skipf("set %s to a file path (built on the first run) to run it", bench2MServeEnv)
	}
	dir := b.TempDir()
	policy := writeServeFile(b, dir, "policy.toml", workload.TOML(workload.RBAC("rbac-large", 100000, 10000).Source)+"[rules.shares]\ndynamic = true\n")
	latest := build2MServe(b, path)
	for b.Loop() {
		t0 := time.Now()
		p := startServe(b, dir, "-c", policy, "--audit", "off", "--store", "sqlite:"+path)
		waitForLong(b, "the store to load", 5*time.Minute, func() bool { return readyRevision(p.url) == int64(latest) })
		b.ReportMetric(time.Since(t0).Seconds(), "ready-s")
		m := metrics(b, p.url)
		b.ReportMetric(m["go_memstats_heap_inuse_bytes"]/(1<<20), "heap-MiB")
		b.ReportMetric(m["process_resident_memory_bytes"]/(1<<20), "rss-MiB")
		p.cmd.Process.Kill()
		p.cmd.Wait()
	}
}

// build2MServe fills the store at path, unless it is already full: a
// million users in the 10,000 roles, and a million documents each
// granted to one of the 100,000 users.
func build2MServe(b *testing.B, path string) store.Revision {
	s, err := sqlite.Open(path)
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	ctx := context.Background()
	rev, err := s.Revision(ctx)
	if err != nil {
		b.Fatal(err)
	}
	if rev > 0 {
		return rev
	}
	t0 := time.Now()
	const n, batch = 1_000_000, store.MaxBatch
	for kind := range 2 {
		for i := 0; i < n; i += batch {
			ws := make([]store.Write, 0, batch)
			for j := i; j < i+batch; j++ {
				if kind == 0 {
					ws = append(ws, store.Write{Op: store.OpAdd, Membership: &store.Membership{Member: "m" + strconv.Itoa(j), Group: "group" + strconv.Itoa(j%10000)}})
				} else {
					ws = append(ws, store.Write{Op: store.OpAdd, Grant: &store.Grant{Rule: "rules.shares", Effect: types.EffectAllow, Subject: "user" + strconv.Itoa(j%100000), Resource: "doc" + strconv.Itoa(j), Action: "read"}})
				}
			}
			if rev, err = s.Write(ctx, store.Batch{Writes: ws}); err != nil {
				b.Fatal(err)
			}
		}
	}
	b.Logf("built 2,000,000 records in %v", time.Since(t0).Round(time.Second))
	return rev
}

// metrics reads the unlabelled samples of a server's /metrics.
func metrics(b *testing.B, url string) map[string]float64 {
	resp, err := http.Get(url + "/metrics")
	if err != nil {
		b.Fatal(err)
	}
	defer resp.Body.Close()
	text, _ := io.ReadAll(resp.Body)
	out := map[string]float64{}
	for _, line := range strings.Split(string(text), "\n") {
		name, value, ok := strings.Cut(line, " ")
		if !ok || strings.HasPrefix(line, "#") || strings.Contains(name, "{") {
			continue
		}
		if v, err := strconv.ParseFloat(value, 64); err == nil {
			out[name] = v
		}
	}
	return out
}
