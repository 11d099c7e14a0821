package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/warden-authz/warden/internal/storeurl"
	"github.com/warden-authz/warden/store"
)

const dataServePolicy = `
[groups]
editors = []

[rules.edit]
allow = [['editors', 'doc:*', 'edit']]

[rules.shares]
dynamic = true
`

// dataCrashBatches is how many acknowledged batches a run collects
// before the kill; a third as many under the race detector.
func dataCrashBatches() int {
	if raceOn {
		return 60
	}
	return 200
}

// dataBatch is batch i of writer g: three members of a team and a
// grant, so a half-applied batch shows as a team of the wrong size or a
// grant without its team.
func dataBatch(g, i int) string {
	team := fmt.Sprintf("team:%d-%d", g, i)
	var w []string
	for k := range 3 {
		w = append(w, fmt.Sprintf(`{"op":"add","membership":{"member":"u%d-%d-%d","group":%q}}`, g, i, k, team))
	}
	w = append(w, fmt.Sprintf(`{"op":"add","grant":{"rule":"rules.shares","effect":"allow","subject":"u%d-%d-0","resource":"doc:%d-%d","action":"edit"}}`, g, i, g, i))
	return `{"writes":[` + strings.Join(w, ",") + `]}`
}

// TestServeSIGKILLDataWrites: `warden serve --store` answers a write only
// once it is durable, so after SIGKILL in the middle of a stream of writes
// every acknowledged batch is in the store, whole, under the revision it
// was answered with; no batch is there in part; and the restarted server
// serves all of it.
func TestServeSIGKILLDataWrites(t *testing.T) {
	t.Parallel()
	if testing.Short() {
		t.Skip("starts processes")
	}
	dir := t.TempDir()
	stores := []struct{ name, url string }{{"sqlite", "sqlite:" + filepath.Join(dir, "data.db")}}
	if dsn := os.Getenv("WARDEN_TEST_POSTGRES"); dsn != "" {
		stores = append(stores, struct{ name, url string }{"postgres", pgSchemaURL(t, dsn)})
	}
	for _, st := range stores {
		t.Run(st.name, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			policy := writeServeFile(t, dir, "policy.toml", dataServePolicy)
			token := writeServeFile(t, dir, "admin.token", "admin-secret\n")
			args := []string{"-c", policy, "--audit", "off", "--store", st.url, "--admin-token-file", token}
			p := startServe(t, dir, args...)
			waitForLong(t, "the store to load", time.Minute, func() bool { return readyRevision(p.url) >= 0 })
			client := &http.Client{Timeout: 30 * time.Second}

			type ack struct{ g, i int }
			var (
				mu    sync.Mutex
				acked = map[ack]store.Revision{}
				wg    sync.WaitGroup
			)
			target := dataCrashBatches()
			for g := range 4 {
				wg.Add(1)
				go func() {
					defer wg.Done()
					for i := 0; ; i++ {
						req, _ := http.NewRequest("POST", p.url+"/v1/data", strings.NewReader(dataBatch(g, i)))
						req.Header.Set("Authorization", "Bearer admin-secret")
						req.Header.Set("Content-Type", "application/json")
						resp, err := client.Do(req)
						if err != nil {
							return // killed
						}
						body, rerr := io.ReadAll(resp.Body)
						resp.Body.Close()
						if rerr != nil {
							return // cut off: not acknowledged
						}
						var r struct{ Revision store.Revision }
						if resp.StatusCode != 200 || json.Unmarshal(body, &r) != nil || r.Revision == 0 {
							t.Errorf("write: %d %s", resp.StatusCode, body)
							return
						}
						mu.Lock()
						acked[ack{g, i}] = r.Revision
						mu.Unlock()
					}
				}()
			}
			waitForLong(t, "acknowledged writes", 4*time.Minute, func() bool { mu.Lock(); defer mu.Unlock(); return len(acked) >= target })
			time.Sleep(time.Duration(rand.IntN(20)) * time.Millisecond) // a random moment of the stream
			if err := p.cmd.Process.Signal(syscall.SIGKILL); err != nil {
				t.Fatal(err)
			}
			wg.Wait()
			p.cmd.Wait()

			// The store: every acknowledged batch whole at its revision,
			// every other batch whole or absent.
			s, err := storeurl.Open(context.Background(), st.url)
			if err != nil {
				t.Fatal(err)
			}
			type batch struct {
				members, grants int
				rev             store.Revision
			}
			seen := map[string]*batch{}
			at := func(key string) *batch {
				if seen[key] == nil {
					seen[key] = &batch{}
				}
				return seen[key]
			}
			latest, err := s.Snapshot(context.Background(), func(r store.Record) error {
				var b *batch
				if r.Membership != nil {
					b = at(strings.TrimPrefix(r.Membership.Group, "team:"))
					b.members++
				} else {
					b = at(strings.TrimPrefix(r.Grant.Resource, "doc:"))
					b.grants++
				}
				if b.rev != 0 && b.rev != r.Added {
					return fmt.Errorf("batch %+v spread over revisions %d and %d", r, b.rev, r.Added)
				}
				b.rev = r.Added
				return nil
			})
			s.Close()
			if err != nil {
				t.Fatal(err)
			}
			for key, b := range seen {
				if b.members != 3 || b.grants != 1 {
					t.Errorf("batch %s is there in part: %d members, %d grants", key, b.members, b.grants)
				}
			}
			mu.Lock()
			defer mu.Unlock()
			var last store.Revision
			for a, rev := range acked {
				b := seen[fmt.Sprintf("%d-%d", a.g, a.i)]
				if b == nil || b.rev != rev {
					t.Errorf("acknowledged batch %d-%d at revision %d: in the store as %+v", a.g, a.i, rev, b)
				}
				last = max(last, rev)
			}
			if int(latest) != len(seen) || latest < last {
				t.Errorf("the store is at revision %d with %d batches; %d acknowledged, the last at %d", latest, len(seen), len(acked), last)
			}

			// The restarted server serves every batch.
			p = startServe(t, dir, args...)
			waitForLong(t, "the restarted server to load", time.Minute, func() bool { return readyRevision(p.url) == int64(latest) })
			for a := range acked {
				body := fmt.Sprintf(`{"subject":"u%d-%d-0","resource":"doc:%d-%d","action":"edit","at_least_revision":%d}`, a.g, a.i, a.g, a.i, last)
				resp, err := client.Post(p.url+"/v1/check", "application/json", strings.NewReader(body))
				if err != nil {
					t.Fatal(err)
				}
				got, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				if resp.StatusCode != 200 || !strings.Contains(string(got), `"allowed":true`) || !strings.Contains(string(got), fmt.Sprintf(`"revision":%d`, latest)) {
					t.Fatalf("%s after restart: %d %s", body, resp.StatusCode, got)
				}
			}
			t.Logf("%s: SIGKILL after %d acknowledged batches; store at revision %d; restarted server serves them all", st.name, len(acked), latest)
		})
	}
}

// readyRevision is the store revision a server's /readyz reports, or -1
// while it is not ready.
func readyRevision(url string) int64 {
	resp, err := http.Get(url + "/readyz")
	if err != nil {
		return -1
	}
	defer resp.Body.Close()
	var r struct {
		Ready bool
		Store *struct{ Revision int64 }
	}
	if resp.StatusCode != 200 || json.NewDecoder(resp.Body).Decode(&r) != nil || !r.Ready || r.Store == nil {
		return -1
	}
	return r.Store.Revision
}
