package server_test

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/warden-authz/warden"
	"github.com/warden-authz/warden/audit"
	"github.com/warden-authz/warden/internal/server"
)

// drive sends alice's read of doc:1 from several goroutines until stop
// is closed, and checks every answer with judge. It returns how many
// answers it checked.
func drive(t *testing.T, l *live, stop <-chan struct{}, judge func(status int, body []byte) error) *atomic.Int64 {
	t.Helper()
	var n atomic.Int64
	var wg sync.WaitGroup
	single := []byte(`{"subject":"alice","resource":"doc:1","action":"read"}`)
	batch := []byte(`{"requests":[` + strings.Repeat(string(single)+",", 99) + string(single) + `]}`)
	for g := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				if g == 0 && i%2 == 1 {
					status, body, err := l.post("/v1/check/batch", batch)
					if err != nil {
						t.Errorf("batch: %v", err)
						return
					}
					var out struct{ Decisions []json.RawMessage }
					if status != 200 || json.Unmarshal(body, &out) != nil || len(out.Decisions) != 100 {
						t.Errorf("batch: %d %.200s", status, body)
						return
					}
					// One batch is decided by one policy.
					first := decodeDecision(t, out.Decisions[0]).PolicyVersion
					for _, d := range out.Decisions {
						if err := judge(200, d); err != nil {
							t.Errorf("batch item: %v", err)
							return
						}
						if v := decodeDecision(t, d).PolicyVersion; v != first {
							t.Errorf("one batch decided under %s and %s", first, v)
							return
						}
					}
					n.Add(100)
					continue
				}
				status, body, err := l.post("/v1/check", single)
				if err != nil {
					t.Errorf("check: %v", err)
					return
				}
				if err := judge(status, body); err != nil {
					t.Error(err)
					return
				}
				n.Add(1)
			}
		}()
	}
	t.Cleanup(wg.Wait)
	return &n
}

// TestReloadUnderLoad swaps the policy 100 times while requests run: every
// answer comes whole from the old policy or the new one, and none fails.
func TestReloadUnderLoad(t *testing.T) {
	t.Parallel()
	l := serveLive(t, policyAllow, func(c *server.Config) { c.Audit = &audit.Memory{Limit: 1000} })
	va, vd := version(t, policyAllow), version(t, policyDeny)
	stop := make(chan struct{})
	n := drive(t, l, stop, func(status int, body []byte) error {
		if status != 200 {
			return fmt.Errorf("status %d: %s", status, body)
		}
		var d warden.Decision
		if err := json.Unmarshal(body, &d); err != nil {
			return err
		}
		// Allowed under policyAllow, denied under policyDeny: a decision
		// that mixes the two is caught here.
		if (d.PolicyVersion != va && d.PolicyVersion != vd) || d.Allowed != (d.PolicyVersion == va) {
			return fmt.Errorf("decision %+v is from neither policy", d)
		}
		return nil
	})
	seen := int64(0)
	for i := range 100 {
		text := policyDeny
		if i%2 == 1 {
			text = policyAllow
		}
		writePolicy(t, l.path, text)
		if err := l.srv.Reload(); err != nil {
			t.Fatalf("reload %d: %v", i, err)
		}
		// Let some requests through on each policy.
		eventually(t, "requests between reloads", func() bool { return n.Load() > seen })
		seen = n.Load()
	}
	close(stop)
	if t.Failed() {
		return
	}
	t.Logf("%d decisions checked across 100 reloads", n.Load())
}

// TestBrokenPolicyUnderLoad writes a broken policy while requests run: the
// old policy keeps serving, /readyz stays ready and says why the reload
// failed, and the failure is counted.
func TestBrokenPolicyUnderLoad(t *testing.T) {
	t.Parallel()
	l := serveLive(t, policyAllow, func(c *server.Config) { c.Audit = &audit.Memory{Limit: 1000} })
	va := version(t, policyAllow)
	stop := make(chan struct{})
	n := drive(t, l, stop, func(status int, body []byte) error {
		var d warden.Decision
		if status != 200 || json.Unmarshal(body, &d) != nil || d.PolicyVersion != va || !d.Allowed {
			return fmt.Errorf("status %d: %s", status, body)
		}
		return nil
	})
	eventually(t, "some load", func() bool { return n.Load() > 50 })
	writePolicy(t, l.path, brokenPolicy)
	// The watcher notices the file without being told.
	var ready struct {
		Ready      bool
		LastReload struct {
			OK    bool
			Error string
		} `json:"last_reload"`
	}
	eventually(t, "/readyz to report the failed reload", func() bool {
		status, body, err := l.get("/readyz")
		if err != nil || status != 200 {
			t.Fatalf("readyz: %d %s %v", status, body, err)
		}
		return json.Unmarshal(body, &ready) == nil && !ready.LastReload.OK
	})
	if !ready.Ready || !strings.Contains(ready.LastReload.Error, "policy.toml:2") {
		t.Errorf("readyz: %+v", ready)
	}
	before := n.Load()
	eventually(t, "serving to go on", func() bool { return n.Load() > before+50 })
	close(stop)
	_, metrics, _ := l.get("/metrics")
	for _, want := range []string{`warden_policy_reloads_total{result="error"}`, "warden_policy_last_reload_success 0"} {
		if !strings.Contains(string(metrics), want) {
			t.Errorf("metrics lack %s", want)
		}
	}
	if log := l.logBuf.String(); !strings.Contains(log, "policy load failed") || !strings.Contains(log, "policy.toml:2") {
		t.Errorf("log lacks the failure:\n%s", log)
	}
}

// TestWatch reloads on every way a file gets replaced: renamed over,
// rewritten in place, and fixed after a broken write.
func TestWatch(t *testing.T) {
	t.Parallel()
	f := start(t, policyAllow, nil)
	va, vd := version(t, policyAllow), version(t, policyDeny)
	serving := func(want string) {
		t.Helper()
		eventually(t, "version "+want, func() bool {
			r := f.do(t, "GET", "/readyz", "")
			return strings.Contains(string(r.body), `"policy_version":"`+want+`"`) && strings.Contains(string(r.body), `"ok":true`)
		})
	}
	writePolicy(t, f.path, policyDeny) // rename over
	serving(vd)
	if err := os.WriteFile(f.path, []byte(policyAllow), 0o600); err != nil { // in place
		t.Fatal(err)
	}
	serving(va)
	writePolicy(t, f.path, brokenPolicy)
	eventually(t, "the failure", func() bool {
		return strings.Contains(string(f.do(t, "GET", "/readyz", "").body), `"ok":false`)
	})
	writePolicy(t, f.path, policyDeny)
	serving(vd)
	// Other files in the directory are not the policy.
	if err := os.WriteFile(f.path+".bak", []byte(brokenPolicy), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := f.srv.Reload(); err != nil {
		t.Fatal(err)
	}
}

// The policies of the slow-writer tests. settleFull denies mallory
// everything; its first chunk alone, settlePrefix, is a valid policy that
// allows everyone everything, so serving the prefix would let mallory in.
const (
	settleBefore = "[rules.base]\nallow = [['alice', 'doc:*', 'read']]\n"
	settlePrefix = "[rules.all]\nallow = [['*', '*', '*']]\n"
	settleFull   = settlePrefix + "deny = [['mallory', '*', '*']]\n"
)

// slowWrite writes text to w in two chunks, the first being settlePrefix,
// with a pause between them longer than the debounce.
func slowWrite(t *testing.T, w *os.File, gap time.Duration) {
	t.Helper()
	if _, err := w.WriteString(settlePrefix); err != nil {
		t.Fatal(err)
	}
	time.Sleep(gap)
	if _, err := w.WriteString(strings.TrimPrefix(settleFull, settlePrefix)); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
}

// TestReloadSlowWriter reproduces a partial deploy: the policy file is
// rewritten in two chunks 400 ms apart, and the first chunk alone is a
// valid allow-everything policy. Whether the file is written in place
// (settled by its writer's close on Linux, by the settle time elsewhere)
// or written aside and renamed over, the prefix is never served: every
// decision comes from the old policy or the whole new one, mallory is
// never allowed, and the whole new policy is served in the end.
func TestReloadSlowWriter(t *testing.T) {
	t.Parallel()
	const gap = 400 * time.Millisecond
	inPlace := func(t *testing.T, path string) {
		f, err := os.OpenFile(path, os.O_WRONLY|os.O_TRUNC, 0)
		if err != nil {
			t.Fatal(err)
		}
		slowWrite(t, f, gap)
	}
	renamed := func(t *testing.T, path string) {
		// The temporary file is in the watched directory, so its slow
		// write is seen, and must be ignored.
		f, err := os.Create(path + ".tmp")
		if err != nil {
			t.Fatal(err)
		}
		slowWrite(t, f, gap)
		if err := os.Rename(path+".tmp", path); err != nil {
			t.Fatal(err)
		}
	}
	portable := func(c *server.Config) {
		server.PortableWatch(c)
		c.Settle = 2 * gap
	}
	for _, tc := range []struct {
		name  string
		write func(*testing.T, string)
		edit  func(*server.Config)
	}{
		{"in place, closes reported", inPlace, nil},
		{"in place, settle time", inPlace, portable},
		{"atomic rename, closes reported", renamed, nil},
		{"atomic rename, settle time", renamed, portable},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			if tc.edit == nil && runtime.GOOS != "linux" {
				t.Skip("closes are reported on Linux only")
			}
			l := serveLive(t, settleBefore, tc.edit)
			before, full := version(t, settleBefore), version(t, settleFull)
			var served sync.Map // policy versions seen in decisions
			stop := make(chan struct{})
			var wg sync.WaitGroup
			for range 2 {
				wg.Add(1)
				go func() {
					defer wg.Done()
					for {
						select {
						case <-stop:
							return
						default:
						}
						status, body, err := l.post("/v1/check", []byte(`{"subject":"mallory","resource":"doc:1","action":"read"}`))
						if err != nil || status != 200 {
							t.Errorf("check: %d %s %v", status, body, err)
							return
						}
						d := decodeDecision(t, body)
						served.Store(d.PolicyVersion, true)
						if d.Allowed {
							t.Errorf("mallory allowed under %s (the prefix is %s)", d.PolicyVersion, version(t, settlePrefix))
							return
						}
					}
				}()
			}
			tc.write(t, l.path)
			eventually(t, "the whole new policy", func() bool {
				_, ok := served.Load(full)
				return ok
			})
			close(stop)
			wg.Wait()
			served.Range(func(v, _ any) bool {
				if v != before && v != full {
					t.Errorf("served policy %s, neither the old %s nor the new %s", v, before, full)
				}
				return true
			})
		})
	}
}

// TestReloadWaitsForClose holds a policy file written in place open well
// past the debounce: on Linux it is not loaded until its writer closes it,
// and the log says why it waits.
func TestReloadWaitsForClose(t *testing.T) {
	t.Parallel()
	if runtime.GOOS != "linux" {
		t.Skip("closes are reported on Linux only")
	}
	l := serveLive(t, settleBefore, nil)
	f, err := os.OpenFile(l.path, os.O_WRONLY|os.O_TRUNC, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteString(settleFull); err != nil {
		t.Fatal(err)
	}
	eventually(t, "the log to say the file is still open", func() bool {
		return strings.Contains(l.logBuf.String(), "still open for writing")
	})
	_, body, err := l.get("/readyz")
	if err != nil || !strings.Contains(string(body), version(t, settleBefore)) {
		t.Fatalf("a file still open was loaded: %s %v", body, err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	eventually(t, "the file to load once closed", func() bool {
		_, body, err := l.get("/readyz")
		return err == nil && strings.Contains(string(body), version(t, settleFull))
	})
}

// TestReloadConfigMap swaps a mounted ConfigMap's "..data" symlink, as the
// kubelet does: the policy file is a symlink through it and never changes
// itself, yet the new content is served.
func TestReloadConfigMap(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	project := func(stamp, text string) {
		if err := os.Mkdir(filepath.Join(dir, stamp), 0o700); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, stamp, "policy.toml"), []byte(text), 0o600); err != nil {
			t.Fatal(err)
		}
		if err := os.Symlink(stamp, filepath.Join(dir, "..data_tmp")); err != nil {
			t.Fatal(err)
		}
		if err := os.Rename(filepath.Join(dir, "..data_tmp"), filepath.Join(dir, "..data")); err != nil {
			t.Fatal(err)
		}
	}
	project("..2026_01_01", policyAllow)
	path := filepath.Join(dir, "policy.toml")
	if err := os.Symlink(filepath.Join("..data", "policy.toml"), path); err != nil {
		t.Fatal(err)
	}
	f := start(t, policyAllow, func(c *server.Config) { c.PolicyPath = path })
	project("..2026_01_02", policyDeny)
	eventually(t, "the swapped policy", func() bool {
		return strings.Contains(string(f.do(t, "GET", "/readyz", "").body), version(t, policyDeny))
	})
}
