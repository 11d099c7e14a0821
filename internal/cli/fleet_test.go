package cli

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	mrand "math/rand/v2"
	"net/http"
	"os"
	"os/exec"
	"slices"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/warden-authz/warden"
	"github.com/warden-authz/warden/internal/storeurl"
	"github.com/warden-authz/warden/store"
)

// The fleet test (SPEC 11) runs three `warden serve` processes on one
// PostgreSQL schema: one on a policy file, two following the policy
// versions published in the store. Writers write through every instance
// at once and check their own writes through the two others with
// at_least_revision; checkers ask every instance about the data at
// random. Meanwhile one instance is killed with SIGKILL and restarted, a
// new policy version is published, and every connection the instances
// hold is terminated by the database, twice. Afterwards every decision
// given out during the run is checked against the store's changelog at
// the revision it reported, and every instance must be at the store's
// latest revision with the digest of a state loaded from scratch, and
// decide as it does.

// Two versions of the fleet's policy: the second lets editors review too.
const (
	fleetPolicyV1 = `
[groups]
editors = []

[rules.edit]
allow = [['editors', 'doc:*', 'edit']]

[rules.shares]
dynamic = true
`
	fleetPolicyV2 = fleetPolicyV1 + `
[rules.review]
allow = [['editors', 'doc:*', 'review']]
`
)

// fleetDirect is the writer number of the batches the test writes
// straight to the store, while the instances are cut off from it.
const fleetDirect = 9

// fleetUser is the subject batch i of writer w adds.
func fleetUser(w, i int) string { return fmt.Sprintf("u%d-%d", w, i) }

// fleetBatch is batch i of writer w: it makes the writer's user i an
// editor and shares a document with it, takes user i-1 out of the
// editors and unshares user i-2's document. Each user's membership so
// lives one batch and its grant two, and every revision holds exactly one
// batch's changes, found by the one membership it adds.
func fleetBatch(w, i int) []store.Write {
	ws := []store.Write{
		{Op: store.OpAdd, Membership: &store.Membership{Member: fleetUser(w, i), Group: "editors"}},
		{Op: store.OpAdd, Grant: fleetGrant(w, i)},
	}
	if i >= 1 {
		ws = append(ws, store.Write{Op: store.OpRemove, Membership: &store.Membership{Member: fleetUser(w, i-1), Group: "editors"}})
	}
	if i >= 2 {
		ws = append(ws, store.Write{Op: store.OpRemove, Grant: fleetGrant(w, i-2)})
	}
	return ws
}

func fleetGrant(w, i int) *store.Grant {
	return &store.Grant{Rule: "rules.shares", Effect: warden.EffectAllow, Subject: fleetUser(w, i), Resource: "doc:" + fleetUser(w, i), Action: "read"}
}

// fleetBody is a batch as POST /v1/data takes it.
func fleetBody(ws []store.Write) string {
	var parts []string
	for _, w := range ws {
		op := "add"
		if w.Op == store.OpRemove {
			op = "remove"
		}
		if m := w.Membership; m != nil {
			parts = append(parts, fmt.Sprintf(`{"op":%q,"membership":{"member":%q,"group":%q}}`, op, m.Member, m.Group))
		} else {
			g := w.Grant
			parts = append(parts, fmt.Sprintf(`{"op":%q,"grant":{"rule":%q,"effect":"allow","subject":%q,"resource":%q,"action":%q}}`, op, g.Rule, g.Subject, g.Resource, g.Action))
		}
	}
	return `{"writes":[` + strings.Join(parts, ",") + `]}`
}

// fleetKey names a record of the test's data: "m:USER" for USER's
// membership of editors, "g:USER" for the document shared with USER.
func fleetKey(c store.Write) (string, error) {
	switch {
	case c.Membership != nil && c.Membership.Member != "" && c.Membership.Group == "editors":
		return "m:" + c.Membership.Member, nil
	case c.Grant != nil && c.Grant.Rule == "rules.shares" && c.Grant.Effect == warden.EffectAllow &&
		c.Grant.Resource == "doc:"+c.Grant.Subject && c.Grant.Action == "read":
		return "g:" + c.Grant.Subject, nil
	}
	return "", fmt.Errorf("a record the test never writes: %+v %+v", c.Membership, c.Grant)
}

// fleetAsk is one request of the test: about a user, one of three actions.
type fleetAsk struct {
	user, action string
}

func (a fleetAsk) json(atLeast uint64) string {
	res := "doc:any"
	if a.action == "read" {
		res = "doc:" + a.user
	}
	s := fmt.Sprintf(`{"subject":%q,"resource":%q,"action":%q`, a.user, res, a.action)
	if atLeast > 0 {
		s += fmt.Sprintf(`,"at_least_revision":%d`, atLeast)
	}
	return s + "}"
}

// fleetDecision is a decision as the wire carries it, or an error.
type fleetDecision struct {
	Allowed       bool
	PolicyVersion string `json:"policy_version"`
	Revision      uint64
	Error         *struct{ Code, Message string }
}

// fleetSeen is a decision an instance gave, kept to be checked against
// the changelog at the end.
type fleetSeen struct {
	ask      fleetAsk
	instance string
	d        fleetDecision
}

// fleetInstance is one `warden serve` of the fleet; a restart replaces
// its process. Its methods are safe for concurrent use; it is made by
// TestFleet, never zero.
type fleetInstance struct {
	name string
	app  string // the application_name of its connections
	args []string

	mu   sync.Mutex
	p    *serveProc
	gen  int  // incarnation, one more at each restart
	down bool // between SIGKILL and the restart's readiness

	// floor is the highest revision this instance has answered with or
	// acknowledged a write at: whatever it answers after must not be
	// below it.
	floor atomic.Uint64
}

func (in *fleetInstance) current() (url string, gen int, down bool) {
	in.mu.Lock()
	defer in.mu.Unlock()
	return in.p.url, in.gen, in.down
}

// excused reports whether a failure to reach incarnation gen is due to
// its being killed.
func (in *fleetInstance) excused(gen int) bool {
	in.mu.Lock()
	defer in.mu.Unlock()
	return in.down || in.gen != gen
}

// answered raises the floor to rev, an answer to a request sent when
// the floor was before; an answer under that floor is an error.
func (in *fleetInstance) answered(rev, before uint64) error {
	if rev < before {
		return fmt.Errorf("instance %s answered at revision %d after answering at %d: its revision went back", in.name, rev, before)
	}
	for {
		f := in.floor.Load()
		if rev <= f || in.floor.CompareAndSwap(f, rev) {
			return nil
		}
	}
}

// fleetReadiness is /readyz as the test reads it.
type fleetReadiness struct {
	Ready         bool
	PolicyVersion string `json:"policy_version"`
	Store         *struct {
		Revision, Latest uint64
		PolicySeq        uint64 `json:"policy_seq"`
		Digest, Error    string
	}
}

func fleetReady(url string) (fleetReadiness, error) {
	var r fleetReadiness
	resp, err := http.Get(url + "/readyz")
	if err != nil {
		return r, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return r, err
	}
	if err := json.Unmarshal(body, &r); err != nil {
		return r, fmt.Errorf("/readyz: %v: %s", err, body)
	}
	if resp.StatusCode != 200 || !r.Ready || r.Store == nil {
		return r, fmt.Errorf("/readyz: %d %s", resp.StatusCode, body)
	}
	return r, nil
}

// fleetVersion is the version warden gives a policy text.
func fleetVersion(t *testing.T, text string) string {
	t.Helper()
	p, err := warden.Parse("policy.toml", []byte(text))
	if err != nil {
		t.Fatal(err)
	}
	return p.Version()
}

// fleetCLI runs `warden args...` as a process of its own (the test
// binary as TestCLIHelperProcess, in package cli_test).
func fleetCLI(t *testing.T, args ...string) string {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^TestCLIHelperProcess$")
	cmd.Env = append(os.Environ(), "WARDEN_CLI_HELPER=1", "WARDEN_CLI_ARGS="+strings.Join(args, "\x1f"))
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	if err := cmd.Run(); err != nil {
		t.Fatalf("warden %q: %v\nstdout: %s\nstderr: %s", args, err, out.String(), errOut.String())
	}
	return out.String()
}

// fleetModel is the data's history, from the changelog: for every
// record, the revisions where it was added and removed, in order.
type fleetModel struct {
	hist map[string][]fleetEvent
}

type fleetEvent struct {
	rev     uint64
	present bool
}

// at reports whether record key is there at revision rev.
func (m *fleetModel) at(key string, rev uint64) bool {
	h := m.hist[key]
	i := sort.Search(len(h), func(i int) bool { return h[i].rev > rev })
	return i > 0 && h[i-1].present
}

// expect is the decision the policy of version v makes on ask at
// revision rev.
func (m *fleetModel) expect(ask fleetAsk, v, v2 string, rev uint64) bool {
	switch ask.action {
	case "edit":
		return m.at("m:"+ask.user, rev)
	case "review":
		return v == v2 && m.at("m:"+ask.user, rev)
	}
	return m.at("g:"+ask.user, rev)
}

// TestFleet is SPEC 11 with real processes; see the top of this file.
func TestFleet(t *testing.T) {
	t.Parallel()
	if testing.Short() {
		t.Skip("starts processes")
	}
	dsn := os.Getenv("WARDEN_TEST_POSTGRES")
	if dsn == "" {
		t.Skip("WARDEN_TEST_POSTGRES is not set: set it to a PostgreSQL DSN (e.g. postgres://postgres@127.0.0.1:5432/test?sslmode=disable) to run the fleet test")
	}
	ctx := context.Background()
	dir := t.TempDir()
	storeURL := pgSchemaURL(t, dsn)
	// Every connection of an instance carries its application_name, so
	// the test terminates its own instances' connections and no other
	// test's on the same database.
	var b [6]byte
	rand.Read(b[:])
	appPrefix := "warden_fleet_" + hex.EncodeToString(b[:])
	v1, v2 := fleetVersion(t, fleetPolicyV1), fleetVersion(t, fleetPolicyV2)
	policyFile := writeServeFile(t, dir, "policy.toml", fleetPolicyV1)
	token := writeServeFile(t, dir, "admin.token", "fleet-admin\n")

	if out := fleetCLI(t, "publish", "--store", storeURL, writeServeFile(t, dir, "v1.toml", fleetPolicyV1)); !strings.Contains(out, v1+" as version 1") {
		t.Fatalf("warden publish: %q", out)
	}

	// a decides on the policy file; b and c follow the published
	// versions. b is the one killed.
	var fleet []*fleetInstance
	for _, name := range []string{"a", "b", "c"} {
		in := &fleetInstance{name: name, app: appPrefix + "_" + name}
		in.args = []string{"--audit", "off", "--store", storeURL + "&application_name=" + in.app, "--admin-token-file", token, "--revision-wait", "5s"}
		if name == "a" {
			in.args = append(in.args, "-c", policyFile)
		}
		in.p = startServe(t, dir, in.args...)
		fleet = append(fleet, in)
	}
	for _, in := range fleet {
		waitForLong(t, "instance "+in.name+" to load the store", time.Minute, func() bool { _, err := fleetReady(in.p.url); return err == nil })
	}

	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 16}, Timeout: 30 * time.Second}
	post := func(url, path, body string, admin bool) (int, []byte, error) {
		req, err := http.NewRequest("POST", url+path, strings.NewReader(body))
		if err != nil {
			return 0, nil, err
		}
		req.Header.Set("Content-Type", "application/json")
		if admin {
			req.Header.Set("Authorization", "Bearer fleet-admin")
		}
		resp, err := client.Do(req)
		if err != nil {
			return 0, nil, err
		}
		defer resp.Body.Close()
		got, err := io.ReadAll(resp.Body)
		return resp.StatusCode, got, err
	}

	var (
		mu      sync.Mutex
		acked   = map[string]uint64{}             // user of each acknowledged batch → its revision
		unknown = map[string][]store.Write{}      // batches whose outcome is unknown (write failed)
		issued  = map[string][]store.Write{}      // every batch sent, by the user it adds
		seen    []fleetSeen                       // every decision given out
		users   = [fleetDirect + 1]atomic.Int64{} // batches issued per writer
		nAcked  atomic.Int64
		ryw     atomic.Int64 // cross-instance read-your-writes checks answered with a decision
		rywMiss atomic.Int64 // ... answered revision_unavailable
		// Writes that failed: cut off by the kill, or answered 503 while
		// the connections were terminated.
		lostToKill, lostToStore atomic.Int64
		// severs counts the terminations; severing is set from just
		// before one until every instance listens again.
		severs   atomic.Int64
		severing atomic.Bool
	)
	record := func(user string, ws []store.Write, rev uint64) {
		mu.Lock()
		defer mu.Unlock()
		issued[user] = ws
		if rev > 0 {
			acked[user] = rev
		} else {
			unknown[user] = ws
		}
	}

	// check sends asks to instance in, one to /v1/check, more as one
	// batch, with at_least_revision atLeast (0: none) and returns the
	// decisions, or nil when the
	// instance could not answer in a way the run allows: it was killed,
	// or it had not applied atLeast within the wait. Every decision is
	// kept for the end, and its revision checked against the instance's
	// floor.
	check := func(in *fleetInstance, atLeast uint64, asks ...fleetAsk) []fleetDecision {
		url, gen, down := in.current()
		if down {
			return nil
		}
		var reqs []string
		for _, a := range asks {
			reqs = append(reqs, a.json(atLeast))
		}
		floor := in.floor.Load()
		// One request goes to /v1/check, several to /v1/check/batch.
		path, payload := "/v1/check", reqs[0]
		if len(reqs) > 1 {
			path, payload = "/v1/check/batch", `{"requests":[`+strings.Join(reqs, ",")+`]}`
		}
		status, body, err := post(url, path, payload, false)
		if err != nil {
			if !in.excused(gen) {
				t.Errorf("check through %s: %v", in.name, err)
			}
			return nil
		}
		if status == 503 && atLeast > 0 && bytes.Contains(body, []byte(`"revision_unavailable"`)) {
			return nil
		}
		var got struct{ Decisions []fleetDecision }
		var err1 error
		if len(reqs) > 1 {
			err1 = json.Unmarshal(body, &got)
		} else {
			got.Decisions = make([]fleetDecision, 1)
			err1 = json.Unmarshal(body, &got.Decisions[0])
		}
		if status != 200 || err1 != nil || len(got.Decisions) != len(asks) {
			t.Errorf("check through %s: %d %s", in.name, status, body)
			return nil
		}
		mu.Lock()
		defer mu.Unlock()
		for i, d := range got.Decisions {
			if d.Error != nil || d.Revision < atLeast || (d.PolicyVersion != v1 && d.PolicyVersion != v2) {
				t.Errorf("check %s through %s: %+v", asks[i].json(atLeast), in.name, d)
				return nil
			}
			if err := in.answered(d.Revision, floor); err != nil {
				t.Error(err)
			}
			seen = append(seen, fleetSeen{asks[i], in.name, d})
		}
		return got.Decisions
	}

	// write sends writer w's batch i through instance in and returns its
	// revision, 0 when its outcome is unknown.
	write := func(in *fleetInstance, w, i int) uint64 {
		ws := fleetBatch(w, i)
		url, gen, _ := in.current()
		floor := in.floor.Load()
		severs0, severing0 := severs.Load(), severing.Load()
		status, body, err := post(url, "/v1/data", fleetBody(ws), true)
		cutOff := severing0 || severing.Load() || severs.Load() != severs0
		var r struct{ Revision uint64 }
		switch {
		case err != nil:
			if !in.excused(gen) {
				t.Errorf("write through %s: %v", in.name, err)
			}
			lostToKill.Add(1)
		case status == 503 && cutOff && (bytes.Contains(body, []byte(`"store_unavailable"`)) || bytes.Contains(body, []byte(`"revision_unavailable"`))):
			// The connection was terminated under the write, during
			// its commit: written or not, whole (checked at the end).
			lostToStore.Add(1)
		case status != 200 || json.Unmarshal(body, &r) != nil || r.Revision == 0:
			t.Errorf("write through %s: %d %s", in.name, status, body)
		default:
			if err := in.answered(r.Revision, floor); err != nil {
				t.Error(err)
			}
		}
		record(fleetUser(w, i), ws, r.Revision)
		return r.Revision
	}

	runCtx, stop := context.WithCancel(ctx)
	var load sync.WaitGroup
	// Writers: writer w sends batch i through instance (w+i) mod 3 and
	// checks it through the two others.
	for w := range 3 {
		load.Go(func() {
			for i := 0; runCtx.Err() == nil; i++ {
				users[w].Store(int64(i + 1))
				k := (w + i) % 3
				in := fleet[k]
				if _, _, down := in.current(); down {
					k = (k + 1) % 3
					in = fleet[k]
				}
				rev := write(in, w, i)
				if rev == 0 {
					continue
				}
				nAcked.Add(1)
				asks := []fleetAsk{{fleetUser(w, i), "edit"}, {fleetUser(w, i), "read"}}
				if i >= 1 {
					asks = append(asks, fleetAsk{fleetUser(w, i-1), "edit"})
				}
				for j, other := range []*fleetInstance{fleet[(k+1)%3], fleet[(k+2)%3]} {
					// A batch through one, each request alone through the
					// other.
					var ds []fleetDecision
					if j == 0 {
						ds = check(other, rev, asks...)
					} else {
						for _, a := range asks {
							d := check(other, rev, a)
							if d == nil {
								ds = nil
								break
							}
							ds = append(ds, d...)
						}
					}
					if ds == nil {
						if _, _, down := other.current(); !down {
							rywMiss.Add(1)
						}
						continue
					}
					ryw.Add(1)
					// Batch i+1 is not written yet: user i is an editor
					// and has its document; user i-1 is no editor.
					if !ds[0].Allowed || !ds[1].Allowed || (i >= 1 && ds[2].Allowed) {
						t.Errorf("batch %s acknowledged at revision %d through %s; through %s at_least_revision %d: %+v", fleetUser(w, i), rev, in.name, other.name, rev, ds)
					}
				}
			}
		})
	}
	// Checkers: each asks every instance in turn about recent users.
	for c := range 3 {
		load.Go(func() {
			rng := mrand.New(mrand.NewPCG(uint64(c), 1))
			for n := 0; runCtx.Err() == nil; n++ {
				w := rng.IntN(3)
				i := max(0, int(users[w].Load())-1-rng.IntN(4))
				ask := fleetAsk{fleetUser(w, i), []string{"edit", "review", "read"}[rng.IntN(3)]}
				check(fleet[(c+n)%3], 0, ask)
				time.Sleep(2 * time.Millisecond)
			}
		})
	}
	stopped := false
	stopLoad := func() {
		if !stopped {
			stopped = true
			stop()
			load.Wait()
		}
	}
	defer stopLoad()
	phase := func(what string, n int64) {
		t.Helper()
		target := nAcked.Load() + n
		waitForLong(t, what, time.Minute, func() bool { return nAcked.Load() >= target || t.Failed() })
		if t.Failed() {
			stopLoad()
			t.FailNow()
		}
	}
	const perPhase = 30
	phase("writes through the fleet", perPhase)

	// SIGKILL b in the middle of the stream; the others go on.
	b0 := fleet[1]
	b0.mu.Lock()
	b0.down = true
	b0.mu.Unlock()
	if err := b0.p.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	b0.p.cmd.Wait()
	phase("writes while b is down", perPhase)
	mu.Lock()
	var before uint64
	for _, r := range acked {
		before = max(before, r)
	}
	mu.Unlock()
	restarted := startServe(t, dir, b0.args...)
	waitForLong(t, "b to restart and catch up", time.Minute, func() bool {
		r, err := fleetReady(restarted.url)
		return err == nil && r.Store.Revision >= before
	})
	b0.mu.Lock()
	b0.p, b0.gen, b0.down = restarted, b0.gen+1, false
	b0.mu.Unlock()
	phase("writes after b's restart", perPhase)

	// A new version, published by a process of its own, reaches the
	// instances that follow the store; a is given it as a file.
	if out := fleetCLI(t, "publish", "--store", storeURL, writeServeFile(t, dir, "v2.toml", fleetPolicyV2)); !strings.Contains(out, v2+" as version 2") {
		t.Fatalf("warden publish: %q", out)
	}
	for _, in := range fleet[1:] {
		waitForLong(t, "instance "+in.name+" to serve the published version", 30*time.Second, func() bool {
			url, _, _ := in.current()
			r, err := fleetReady(url)
			return err == nil && r.PolicyVersion == v2 && r.Store.PolicySeq == 2
		})
	}
	writeServeFile(t, dir, "policy.toml", fleetPolicyV2)
	if err := fleet[0].p.cmd.Process.Signal(syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	waitForLong(t, "instance a to reload its file", 30*time.Second, func() bool {
		r, err := fleetReady(fleet[0].p.url)
		return err == nil && r.PolicyVersion == v2
	})
	phase("writes under the published version", perPhase)

	// The database terminates every connection of the instances, twice;
	// a batch written straight to the store right after must reach every
	// instance, and each must listen again.
	direct, err := storeurl.Open(ctx, storeURL)
	if err != nil {
		t.Fatal(err)
	}
	defer direct.Close()
	admin, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close(ctx)
	listeners := func() map[string]int32 {
		rows, err := admin.Query(ctx, `SELECT application_name, pid FROM pg_stat_activity
			WHERE datname = current_database() AND starts_with(application_name, $1) AND application_name LIKE '% listener'`, appPrefix+"_")
		if err != nil {
			t.Fatal(err)
		}
		got := map[string]int32{}
		var app string
		var pid int32
		if _, err := pgx.ForEachRow(rows, []any{&app, &pid}, func() error { got[strings.TrimSuffix(app, " listener")] = pid; return nil }); err != nil {
			t.Fatal(err)
		}
		return got
	}
	for round := range 2 {
		var old map[string]int32
		waitForLong(t, "every instance's listener", 30*time.Second, func() bool {
			old = listeners()
			return len(old) == len(fleet)
		})
		severing.Store(true)
		severs.Add(1)
		var killed int
		if err := admin.QueryRow(ctx, `SELECT count(*) FILTER (WHERE pg_terminate_backend(pid)) FROM pg_stat_activity
			WHERE datname = current_database() AND pid <> pg_backend_pid() AND starts_with(application_name, $1)`, appPrefix+"_").Scan(&killed); err != nil {
			t.Fatal(err)
		}
		if killed < len(fleet) {
			t.Fatalf("round %d: terminated %d connections of the fleet; want at least its %d listeners", round, killed, len(fleet))
		}
		i := int(users[fleetDirect].Add(1)) - 1
		ws := fleetBatch(fleetDirect, i)
		rev, err := direct.Write(ctx, store.Batch{Writes: ws})
		if err != nil {
			t.Fatal(err)
		}
		record(fleetUser(fleetDirect, i), ws, rev)
		for _, in := range fleet {
			waitForLong(t, fmt.Sprintf("instance %s to apply revision %d, written while it was cut off", in.name, rev), 30*time.Second, func() bool {
				url, _, _ := in.current()
				r, err := fleetReady(url)
				return err == nil && r.Store.Revision >= rev
			})
		}
		waitForLong(t, "every instance to listen again", 30*time.Second, func() bool {
			now := listeners()
			for _, in := range fleet {
				if pid, ok := now[in.app]; !ok || pid == old[in.app] {
					return false
				}
			}
			return true
		})
		severing.Store(false)
		t.Logf("round %d: terminated %d connections; revision %d, written meanwhile, reached every instance, and each listens again", round, killed, rev)
		phase("writes after the connections were terminated", perPhase/2)
	}
	stopLoad()
	if t.Failed() {
		return
	}

	// The store: its changelog, revision by revision, holds exactly the
	// batches sent, each whole, the acknowledged ones at the revisions
	// they were acknowledged with. The model is its history.
	latest, err := direct.Revision(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var changes []store.Change
	for after := store.Revision(0); after < latest; {
		page, through, err := direct.Changes(ctx, after, store.MaxLimit)
		if err != nil {
			t.Fatal(err)
		}
		changes, after = append(changes, page...), through
	}
	model := &fleetModel{hist: map[string][]fleetEvent{}}
	state := map[string]bool{}
	owners := map[string]uint64{}
	for r, rest := uint64(1), changes; r <= latest; r++ {
		n := 0
		for n < len(rest) && rest[n].Revision == r {
			n++
		}
		at := rest[:n]
		rest = rest[n:]
		if n == 0 {
			t.Fatalf("the changelog has nothing at revision %d of %d: every batch sent changes something", r, latest)
		}
		// The batch of revision r is the one that adds its user.
		owner := ""
		var got []string
		for _, c := range at {
			key, err := fleetKey(store.Write{Membership: c.Membership, Grant: c.Grant})
			if err != nil {
				t.Fatalf("revision %d: %v", r, err)
			}
			if c.Op == store.OpAdd && strings.HasPrefix(key, "m:") {
				if owner != "" {
					t.Fatalf("revision %d adds both %s and %s: two batches in one revision", r, owner, key)
				}
				owner = key[2:]
			}
			got = append(got, fmt.Sprintf("%d:%s %s", c.Index, c.Op, key))
		}
		ws, ok := issued[owner]
		if !ok {
			t.Fatalf("revision %d holds no batch the test sent: %v", r, got)
		}
		if prev, dup := owners[owner]; dup {
			t.Fatalf("batch %s is in the changelog at revisions %d and %d", owner, prev, r)
		}
		owners[owner] = r
		if a, ok := acked[owner]; ok && a != r {
			t.Fatalf("batch %s was acknowledged at revision %d but is in the changelog at %d", owner, a, r)
		}
		var want []string
		for i, w := range ws {
			key, _ := fleetKey(w)
			if state[key] == (w.Op == store.OpAdd) {
				continue // changes nothing
			}
			state[key] = w.Op == store.OpAdd
			model.hist[key] = append(model.hist[key], fleetEvent{r, state[key]})
			want = append(want, fmt.Sprintf("%d:%s %s", i, w.Op, key))
		}
		if fmt.Sprint(got) != fmt.Sprint(want) {
			t.Fatalf("revision %d holds %v; batch %s on the state before it changes %v", r, got, owner, want)
		}
	}
	for user, r := range acked {
		if _, ok := owners[user]; !ok {
			t.Errorf("batch %s, acknowledged at revision %d, is not in the changelog", user, r)
		}
	}
	if len(changes) > 0 && changes[len(changes)-1].Revision > latest {
		t.Fatalf("the changelog goes past the latest revision %d", latest)
	}
	// The store's records are the changelog's end state.
	stored := map[string]bool{}
	if _, err := direct.Snapshot(ctx, func(r store.Record) error {
		key, err := fleetKey(store.Write{Membership: r.Membership, Grant: r.Grant})
		stored[key] = true
		return err
	}); err != nil {
		t.Fatal(err)
	}
	for key, present := range state {
		if present != stored[key] {
			t.Fatalf("record %s: in the store %v, by the changelog %v", key, stored[key], present)
		}
		delete(stored, key)
	}
	if len(stored) > 0 {
		t.Fatalf("records in the store the changelog never added: %v", stored)
	}

	// A state loaded from scratch: its digest is every instance's.
	pol, err := warden.Parse("policy.toml", []byte(fleetPolicyV2))
	if err != nil {
		t.Fatal(err)
	}
	fresh, err := warden.NewEngine(ctx, pol, direct, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer fresh.Close()
	want := fresh.Status()
	if want.Applied != latest {
		t.Fatalf("an engine loaded from scratch is at revision %d, the store at %d", want.Applied, latest)
	}
	for _, in := range fleet {
		var last fleetReadiness
		var lastErr error
		deadline := time.Now().Add(30 * time.Second)
		for {
			last, lastErr = fleetReady(in.p.url)
			if lastErr == nil && last.Store.Revision == latest && last.Store.Latest == latest && last.Store.Digest == want.Digest && last.PolicyVersion == v2 && last.Store.Error == "" {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("instance %s: /readyz %+v %+v, %v; want revision %d, digest %s, policy %s", in.name, last, last.Store, lastErr, latest, want.Digest, v2)
			}
			time.Sleep(10 * time.Millisecond)
		}
		// The metrics say the same.
		resp, err := http.Get(in.p.url + "/metrics")
		if err != nil {
			t.Fatal(err)
		}
		metrics, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err != nil {
			t.Fatal(err)
		}
		wantMetrics := []string{fmt.Sprintf("warden_store_revision_applied %d", latest), fmt.Sprintf("warden_store_revision_latest %d", latest),
			"warden_store_lag_revisions 0", "warden_store_up 1", "warden_store_down_seconds 0"}
		if in.name != "a" {
			wantMetrics = append(wantMetrics, "warden_store_policy_seq 2")
		}
		for _, m := range wantMetrics {
			if !slices.Contains(strings.Split(string(metrics), "\n"), m) {
				t.Errorf("instance %s: /metrics has no line %q", in.name, m)
			}
		}
	}

	// Every user, every action, through every instance: the model's
	// answer and the fresh engine's.
	var asks []fleetAsk
	for w := range fleetDirect + 1 {
		for i := range int(users[w].Load()) {
			for _, action := range []string{"edit", "review", "read"} {
				asks = append(asks, fleetAsk{fleetUser(w, i), action})
			}
		}
	}
	for _, in := range fleet {
		ds := check(in, latest, asks...)
		if ds == nil {
			t.Fatalf("instance %s gave no final decisions", in.name)
		}
		for i, d := range ds {
			a := asks[i]
			res := "doc:any"
			if a.action == "read" {
				res = "doc:" + a.user
			}
			fd, err := fresh.Decide(ctx, warden.Request{Subject: a.user, Resource: res, Action: a.action})
			if err != nil {
				t.Fatal(err)
			}
			if exp := model.expect(a, v2, v2, latest); d.Allowed != exp || fd.Allowed != exp || d.Revision != latest || d.PolicyVersion != v2 {
				t.Errorf("finally, %s through %s: %+v; the model says %v, an engine from scratch %v", a.json(latest), in.name, d, exp, fd.Allowed)
			}
		}
	}

	// No decision given out during the run contradicts the revision it
	// reports.
	mu.Lock()
	defer mu.Unlock()
	wrong := 0
	for _, s := range seen {
		if s.d.Revision > latest || s.d.Allowed != model.expect(s.ask, s.d.PolicyVersion, v2, s.d.Revision) {
			if wrong++; wrong <= 10 {
				t.Errorf("wrong decision: %s through %s: %+v; at revision %d under %s the store says %v",
					s.ask.json(0), s.instance, s.d, s.d.Revision, s.d.PolicyVersion, model.expect(s.ask, s.d.PolicyVersion, v2, s.d.Revision))
			}
		}
	}
	if wrong > 0 {
		t.Errorf("%d of %d decisions wrong", wrong, len(seen))
	}
	// A run that exercised nothing proves nothing.
	if ryw.Load() < 20 || len(seen) < 200 {
		t.Errorf("only %d cross-instance read-your-writes checks and %d decisions", ryw.Load(), len(seen))
	}
	t.Logf("revision %d: %d batches acknowledged; %d of unknown outcome (%d cut off by the kill, %d answered 503 as the connections were terminated), %d of them committed; %d decisions checked, none wrong; %d cross-instance read-your-writes checks answered, %d revision_unavailable",
		latest, len(acked), len(unknown), lostToKill.Load(), lostToStore.Load(), len(owners)-len(acked), len(seen), ryw.Load(), rywMiss.Load())
}
