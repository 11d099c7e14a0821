package cli

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// contextBody is the request of the memory reproduction: a body just
// under 1 MiB whose context has 70,000 keys, which decodes to about 7 MiB.
func contextBody(n int) []byte {
	var b bytes.Buffer
	b.WriteString(`{"subject":"alice","resource":"doc:1","action":"read","context":{`)
	for i := range n {
		if i > 0 {
			b.WriteByte(',')
		}
		fmt.Fprintf(&b, `"k%d":"v"`, i)
	}
	b.WriteString("}}")
	return b.Bytes()
}

// rss returns the resident set size of process pid, in bytes.
func rss(pid int) (int64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, err
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			kb, err := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			return kb << 10, err
		}
	}
	return 0, fmt.Errorf("no VmRSS in /proc/%d/status", pid)
}

// TestServeMemoryBound is the reproduction of unbounded growth: 8 clients
// loop POST /v1/check with a 1 MiB body whose context has 70,000 keys,
// with SQLite audit. With every bound set small, the RSS of the real
// `warden serve` process stays under MemoryBound's figure for its flags
// (docs/serve.md). WARDEN_RSS_SECONDS sets how long the load runs (4 by
// default); WARDEN_RSS_DEFAULTS=1 runs with the default bounds, whose
// figure is the 512 MiB target.
func TestServeMemoryBound(t *testing.T) {
	t.Parallel()
	if testing.Short() {
		t.Skip("starts a process and loads it")
	}
	if raceOn {
		t.Skip("the race detector multiplies memory use")
	}
	if _, err := os.Stat("/proc/self/status"); err != nil {
		t.Skip("needs /proc to read RSS")
	}
	seconds := 4
	if v := os.Getenv("WARDEN_RSS_SECONDS"); v != "" {
		seconds, _ = strconv.Atoi(v)
	}
	bounds := memoryFlags{RequestMemory: 8 << 20, AuditQueueBytes: 8 << 20, MaxConns: 16, SQLite: true}
	args := []string{"--request-memory", "8MiB", "--audit-queue-bytes", "8MiB", "--max-connections", "16"}
	if os.Getenv("WARDEN_RSS_DEFAULTS") == "1" {
		bounds = defaultMemoryFlags(true)
		args = nil
	}
	limit := MemoryBound(bounds)
	dir := t.TempDir()
	policy := writeServeFile(t, dir, "policy.toml", servePolicy)
	p := startServe(t, dir, append([]string{"-c", policy, "--audit", "sqlite:" + filepath.Join(dir, "a.db")}, args...)...)
	body := contextBody(70000)

	ctx, cancel := context.WithTimeout(context.Background(), time.Duration(seconds)*time.Second)
	defer cancel()
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 8}}
	var ok, failed atomic.Int64
	var wg sync.WaitGroup
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for ctx.Err() == nil {
				req, _ := http.NewRequestWithContext(ctx, "POST", p.url+"/v1/check", bytes.NewReader(body))
				req.Header.Set("Content-Type", "application/json")
				resp, err := client.Do(req)
				if err != nil {
					continue
				}
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if resp.StatusCode == 200 {
					ok.Add(1)
				} else {
					failed.Add(1)
				}
			}
		}()
	}
	var peak int64
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for ctx.Err() == nil {
		<-tick.C
		r, err := rss(p.cmd.Process.Pid)
		if err != nil {
			t.Fatal(err)
		}
		peak = max(peak, r)
	}
	wg.Wait()
	if ok.Load() == 0 || failed.Load() != 0 {
		t.Fatalf("%d answered 200, %d not: the bounds must make requests wait, not fail\n%s", ok.Load(), failed.Load(), p.stderr.String())
	}
	t.Logf("%d requests of %d bytes in %ds; peak RSS %.1f MiB, bound %.1f MiB", ok.Load(), len(body), seconds, float64(peak)/(1<<20), float64(limit)/(1<<20))
	if peak > limit {
		t.Errorf("peak RSS %d bytes is over the bound of %d for %+v", peak, limit, bounds)
	}
}
