package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"net/url"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/warden-authz/warden"
	"github.com/warden-authz/warden/internal/storeurl"
	"github.com/warden-authz/warden/store"
	"github.com/warden-authz/warden/types"
)

// The fleet figures (SPEC 11, docs/performance.md "Fleet"): three real
// `warden serve` processes on one PostgreSQL schema, each reaching the
// database through a loopback TCP proxy of its own so that a store
// outage can be made by the proxy, under a paced load of checks.
//
// BenchmarkFleet measures in one run:
//
//   - write-to-honoured propagation: a write through one instance, then
//     checks without at_least_revision on every instance until the
//     decision flips; from the write's answer to the first flipped
//     decision;
//   - a published policy version: from `warden publish` returning to the
//     last instance deciding with it;
//   - a 10 s outage: every proxy drops its connections and refuses new
//     ones while another client writes straight to PostgreSQL; from the
//     proxies' return to the last instance's /readyz at the store's
//     latest revision;
//   - a 10 s stall: the proxies hold every byte, refusing nothing; from
//     its start to every instance reporting the store unreachable, and
//     from its end to every instance caught up;
//   - wrong decisions: every decision of the run (load and propagation
//     checks) is compared with the state at the revision it reports.
//
// It needs WARDEN_TEST_POSTGRES and takes about 25 s.

// benchFleetText is the policy the fleet serves: grants of rules.shares
// decide every check of the run. benchFleetPolicy gives versions that
// differ in a group no check reaches, so every version decides alike and
// a decision depends on the data alone.
const benchFleetText = `
[groups]
editors = []
marker%d = ['nobody']

[rules.edit]
allow = [['editors', 'doc:*', 'edit']]

[rules.shares]
dynamic = true
`

func benchFleetPolicy(n int) string { return fmt.Sprintf(benchFleetText, n) }

// Sizes of a run.
const (
	benchFleetInstances  = 3
	benchFleetRate       = 1000 // checks/s in all, spread over the instances
	benchFleetWorkers    = 32
	benchFleetPropKeys   = 120 // keys granted then revoked before the outage: 240 writes
	benchFleetPostKeys   = 30  // and after it: 60 writes
	benchFleetPublishes  = 5
	benchFleetOutage     = 10 * time.Second
	benchFleetOutageKeys = 100 // written straight to PostgreSQL during the outage
	benchFleetFlipLimit  = 10 * time.Second
)

// benchKey is a check whose answer the run flips: subject u<name> reads
// doc:<name> exactly while the grant is in the store. added and removed
// are the revisions of the writes, 0 while not (yet) made; a key whose
// write failed is unknown and not judged.
type benchKey struct {
	name           string
	added, removed atomic.Uint64
	unknown        atomic.Bool
}

func (k *benchKey) body() string {
	return `{"subject":"u` + k.name + `","resource":"doc:` + k.name + `","action":"read"}`
}

func (k *benchKey) grant() *store.Grant {
	return &store.Grant{Rule: "rules.shares", Effect: types.EffectAllow, Subject: "u" + k.name, Resource: "doc:" + k.name, Action: "read"}
}

// allowedAt is the decision the key's check must get at revision rev.
func (k *benchKey) allowedAt(rev uint64) bool {
	a, r := k.added.Load(), k.removed.Load()
	return a != 0 && a <= rev && (r == 0 || rev < r)
}

// benchDecision is one decision of the run.
type benchDecision struct {
	key     *benchKey
	inst    int
	allowed bool
	rev     uint64
	version string
}

// fleet is a running fleet and its log of decisions.
type benchFleet struct {
	b        *testing.B
	urls     []string
	proxies  []*benchProxy
	client   *http.Client
	mu       sync.Mutex
	log      []benchDecision
	failures atomic.Int64 // checks that got no decision
}

// check sends k's check to instance i and logs the decision.
func (f *benchFleet) check(i int, k *benchKey) (benchDecision, error) {
	resp, err := f.client.Post(f.urls[i]+"/v1/check", "application/json", strings.NewReader(k.body()))
	if err != nil {
		f.failures.Add(1)
		return benchDecision{}, err
	}
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil || resp.StatusCode != 200 {
		f.failures.Add(1)
		return benchDecision{}, fmt.Errorf("check on instance %d: %d %s %v", i, resp.StatusCode, body, err)
	}
	var d struct {
		Allowed       bool
		Revision      uint64
		PolicyVersion string `json:"policy_version"`
	}
	if err := json.Unmarshal(body, &d); err != nil {
		f.failures.Add(1)
		return benchDecision{}, fmt.Errorf("check on instance %d: %v: %s", i, err, body)
	}
	dec := benchDecision{key: k, inst: i, allowed: d.Allowed, rev: d.Revision, version: d.PolicyVersion}
	f.mu.Lock()
	f.log = append(f.log, dec)
	f.mu.Unlock()
	return dec, nil
}

// write sends one write through instance i and returns its revision and
// when its answer came.
func (f *benchFleet) write(i int, op string, k *benchKey) (uint64, time.Time, error) {
	body := `{"writes":[{"op":"` + op + `","grant":{"rule":"rules.shares","effect":"allow","subject":"u` + k.name + `","resource":"doc:` + k.name + `","action":"read"}}]}`
	req, _ := http.NewRequest("POST", f.urls[i]+"/v1/data", strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer admin-secret")
	req.Header.Set("Content-Type", "application/json")
	resp, err := f.client.Do(req)
	if err != nil {
		return 0, time.Time{}, err
	}
	got, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	acked := time.Now()
	if err != nil || resp.StatusCode != 200 {
		return 0, acked, fmt.Errorf("write through instance %d: %d %s %v", i, resp.StatusCode, got, err)
	}
	var r struct{ Revision uint64 }
	if err := json.Unmarshal(got, &r); err != nil || r.Revision == 0 {
		return 0, acked, fmt.Errorf("write through instance %d: %s", i, got)
	}
	return r.Revision, acked, nil
}

// awaitFlip checks k on every instance, from acked on, until the
// decision is want, and returns each instance's delay from acked to the
// answer that had it.
func (f *benchFleet) awaitFlip(k *benchKey, want bool, acked time.Time) ([]time.Duration, error) {
	delays := make([]time.Duration, len(f.urls))
	errs := make([]error, len(f.urls))
	var wg sync.WaitGroup
	for i := range f.urls {
		wg.Go(func() {
			for {
				d, err := f.check(i, k)
				now := time.Now()
				if err == nil && d.allowed == want {
					delays[i] = now.Sub(acked)
					return
				}
				if now.Sub(acked) > benchFleetFlipLimit {
					errs[i] = fmt.Errorf("instance %d still answers %v for %s %v after the write (last error %v)", i, !want, k.name, benchFleetFlipLimit, err)
					return
				}
				time.Sleep(time.Millisecond)
			}
		})
	}
	wg.Wait()
	return delays, errors.Join(errs...)
}

// propagate runs writers, one per instance, each granting and then
// revoking its keys: a grant through its instance, a revoke through the
// next, each awaited on every instance. It returns the delays.
func (f *benchFleet) propagate(keys []*benchKey) []time.Duration {
	var mu sync.Mutex
	var delays []time.Duration
	var wg sync.WaitGroup
	for w := range f.urls {
		wg.Go(func() {
			for n := w; n < len(keys); n += len(f.urls) {
				k := keys[n]
				for step, op := range []string{"add", "remove"} {
					via := (w + step) % len(f.urls)
					rev, acked, err := f.write(via, op, k)
					if err != nil {
						k.unknown.Store(true)
						f.b.Errorf("key %s: %v", k.name, err)
						return
					}
					if op == "add" {
						k.added.Store(rev)
					} else {
						k.removed.Store(rev)
					}
					d, err := f.awaitFlip(k, op == "add", acked)
					if err != nil {
						f.b.Error(err)
						return
					}
					mu.Lock()
					delays = append(delays, d...)
					mu.Unlock()
				}
			}
		})
	}
	wg.Wait()
	return delays
}

// load sends benchFleetRate checks a second, paced, round robin over the
// instances, on keys drawn from keys, until ctx ends. It returns how many
// it sent, how many it dropped because every worker was busy, and the
// latency of each check answered.
func (f *benchFleet) load(ctx context.Context, keys []*benchKey) (sent, dropped int64, lat []time.Duration) {
	type job struct {
		inst int
		key  *benchKey
	}
	jobs := make(chan job, benchFleetRate) // a second of load: a pacer late by a moment catches up
	var wg sync.WaitGroup
	var mu sync.Mutex
	for range benchFleetWorkers {
		wg.Go(func() {
			var mine []time.Duration
			for j := range jobs {
				t0 := time.Now()
				if _, err := f.check(j.inst, j.key); err == nil {
					mine = append(mine, time.Since(t0))
				}
			}
			mu.Lock()
			lat = append(lat, mine...)
			mu.Unlock()
		})
	}
	interval := time.Second / benchFleetRate
	start := time.Now()
	for n := 0; ctx.Err() == nil; n++ {
		if d := time.Until(start.Add(time.Duration(n) * interval)); d > 0 {
			time.Sleep(d)
		}
		select {
		case jobs <- job{n % len(f.urls), keys[rand.IntN(len(keys))]}:
			sent++
		default:
			dropped++
		}
	}
	close(jobs)
	wg.Wait()
	return sent, dropped, lat
}

// benchOutage is what one outage measured.
type benchOutage struct {
	// noticed: from the outage's start to the last instance showing it in
	// /readyz and warden_store_up; catchUp: from the store's return to
	// the last instance at the store's latest revision.
	noticed, catchUp time.Duration
	// decisions the instances gave during the outage.
	decisions int
}

// outage takes the store away from every instance with begin, for
// benchFleetOutage, while keys are granted straight in PostgreSQL
// through st; then gives it back with end. Every instance must show the
// outage and must go on answering checks.
func (f *benchFleet) outage(st storeurl.Store, keys []*benchKey, begin, end func(*benchProxy)) benchOutage {
	b := f.b
	var out benchOutage
	preFailures := f.failures.Load()
	f.mu.Lock()
	preDecisions := len(f.log)
	f.mu.Unlock()
	t0 := time.Now()
	for _, p := range f.proxies {
		begin(p)
	}
	var wrote sync.WaitGroup
	wrote.Go(func() {
		for n, k := range keys {
			time.Sleep(time.Until(t0.Add(time.Duration(n) * benchFleetOutage / time.Duration(len(keys)))))
			rev, err := st.Write(context.Background(), store.Batch{Writes: []store.Write{{Op: store.OpAdd, Grant: k.grant()}}})
			if err != nil {
				k.unknown.Store(true)
				b.Errorf("writing %s to PostgreSQL: %v", k.name, err)
				continue
			}
			k.added.Store(rev)
		}
	})
	// Each instance shows the store gone, in /readyz and in its metrics.
	for i := range f.urls {
		if _, ok := benchUntil(time.Until(t0.Add(benchFleetOutage)), func() bool {
			r, err := f.ready(i)
			up, merr := f.metric(i, "warden_store_up")
			return err == nil && r.Ready && r.Store.Error != "" && merr == nil && up == 0
		}); !ok {
			b.Errorf("instance %d: /readyz and warden_store_up do not show the outage", i)
		}
		out.noticed = max(out.noticed, time.Since(t0))
	}
	time.Sleep(time.Until(t0.Add(benchFleetOutage)))
	wrote.Wait()
	if n := f.failures.Load() - preFailures; n > 0 {
		b.Errorf("%d checks failed during the outage", n)
	}
	f.mu.Lock()
	out.decisions = len(f.log) - preDecisions
	f.mu.Unlock()
	latest, err := st.Revision(context.Background())
	if err != nil {
		b.Fatal(err)
	}
	back := time.Now()
	for _, p := range f.proxies {
		end(p)
	}
	var wg sync.WaitGroup
	var mu sync.Mutex
	for i := range f.urls {
		wg.Go(func() {
			_, ok := benchUntil(30*time.Second, func() bool {
				r, err := f.ready(i)
				return err == nil && r.Store.Revision >= latest
			})
			if !ok {
				b.Errorf("instance %d does not reach revision %d within 30 s of the store's return", i, latest)
			}
			mu.Lock()
			out.catchUp = max(out.catchUp, time.Since(back))
			mu.Unlock()
		})
	}
	wg.Wait()
	for i := range f.urls {
		if _, ok := benchUntil(5*time.Second, func() bool {
			up, err := f.metric(i, "warden_store_up")
			return err == nil && up == 1
		}); !ok {
			b.Errorf("instance %d: warden_store_up is not 1 again after the outage", i)
		}
	}
	return out
}

// benchReadiness is the part of /readyz the run reads.
type benchReadiness struct {
	Ready         bool
	PolicyVersion string `json:"policy_version"`
	Store         *struct {
		Revision, Latest uint64
		Error            string
	}
}

func (f *benchFleet) ready(i int) (benchReadiness, error) {
	var r benchReadiness
	resp, err := f.client.Get(f.urls[i] + "/readyz")
	if err != nil {
		return r, err
	}
	defer resp.Body.Close()
	if err := json.NewDecoder(resp.Body).Decode(&r); err != nil {
		return r, err
	}
	if r.Store == nil {
		return r, fmt.Errorf("instance %d: /readyz has no store", i)
	}
	return r, nil
}

// metric reads one unlabelled sample of instance i's /metrics.
func (f *benchFleet) metric(i int, name string) (float64, error) {
	resp, err := f.client.Get(f.urls[i] + "/metrics")
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	text, _ := io.ReadAll(resp.Body)
	for _, line := range strings.Split(string(text), "\n") {
		if v, ok := strings.CutPrefix(line, name+" "); ok {
			return strconv.ParseFloat(v, 64)
		}
	}
	return 0, fmt.Errorf("instance %d: no %s in /metrics", i, name)
}

// until polls cond every few milliseconds for up to limit and returns
// how long it took, or false.
func benchUntil(limit time.Duration, cond func() bool) (time.Duration, bool) {
	t0 := time.Now()
	for !cond() {
		if time.Since(t0) > limit {
			return 0, false
		}
		time.Sleep(2 * time.Millisecond)
	}
	return time.Since(t0), true
}

// benchViaProxy returns the store URL u with its host replaced by addr.
func benchViaProxy(b *testing.B, u, addr string) string {
	p, err := url.Parse(u)
	if err != nil {
		b.Fatal(err)
	}
	p.Host = addr
	return p.String()
}

func benchPercentile(ds []time.Duration, q float64) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	s := slices.Clone(ds)
	slices.Sort(s)
	return s[min(len(s)-1, int(float64(len(s))*q))]
}

func benchMS(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

func BenchmarkFleet(b *testing.B) {
	dsn := os.Getenv("WARDEN_TEST_POSTGRES")
	if dsn == "" {
		b.Skip("set WARDEN_TEST_POSTGRES to a PostgreSQL database to run it")
	}
	for b.Loop() {
		runBenchFleet(b, dsn)
	}
}

func runBenchFleet(b *testing.B, dsn string) {
	ctx := context.Background()
	direct := pgSchemaURL(b, dsn)
	st, err := storeurl.Open(ctx, direct)
	if err != nil {
		b.Fatal(err)
	}
	defer st.Close()
	dir := b.TempDir()
	token := writeServeFile(b, dir, "admin.token", "admin-secret\n")

	// Version 1 of the policy and a first revision, before any instance.
	if _, err := warden.Publish(ctx, st, "fleet.toml", []byte(benchFleetPolicy(1))); err != nil {
		b.Fatal(err)
	}
	seed := &benchKey{name: "seed"}
	rev, err := st.Write(ctx, store.Batch{Writes: []store.Write{{Op: store.OpAdd, Grant: seed.grant()}}})
	if err != nil {
		b.Fatal(err)
	}
	seed.added.Store(rev)

	pgURL, err := url.Parse(dsn)
	if err != nil {
		b.Fatal(err)
	}
	f := &benchFleet{b: b, client: &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: 2 * benchFleetWorkers}}}
	for range benchFleetInstances {
		p := newBenchProxy(b, pgURL.Host)
		f.proxies = append(f.proxies, p)
		s := startServe(b, dir, "--store", benchViaProxy(b, direct, p.addr), "--audit", "off", "--admin-token-file", token)
		f.urls = append(f.urls, s.url)
	}
	for i, u := range f.urls {
		waitForLong(b, fmt.Sprintf("instance %d to load the store", i), time.Minute, func() bool { return readyRevision(u) >= int64(rev) })
	}

	prop := make([]*benchKey, benchFleetPropKeys)
	for n := range prop {
		prop[n] = &benchKey{name: "p" + strconv.Itoa(n)}
	}
	post := make([]*benchKey, benchFleetPostKeys)
	for n := range post {
		post[n] = &benchKey{name: "q" + strconv.Itoa(n)}
	}
	outage := make([]*benchKey, benchFleetOutageKeys)
	stalled := make([]*benchKey, benchFleetOutageKeys)
	for n := range outage {
		outage[n] = &benchKey{name: "o" + strconv.Itoa(n)}
		stalled[n] = &benchKey{name: "s" + strconv.Itoa(n)}
	}
	all := slices.Concat([]*benchKey{seed}, prop, post, outage, stalled)

	loadCtx, stopLoad := context.WithTimeout(ctx, 3*time.Minute)
	defer stopLoad()
	type loadResult struct {
		sent, dropped int64
		lat           []time.Duration
	}
	loaded := make(chan loadResult, 1)
	loadStart := time.Now()
	go func() {
		s, d, lat := f.load(loadCtx, all)
		loaded <- loadResult{s, d, lat}
	}()
	time.Sleep(time.Second) // the load is running before anything is measured

	// Propagation.
	delays := f.propagate(prop)

	// Published policy versions.
	var publishes []time.Duration
	for n := 2; n < 2+benchFleetPublishes; n++ {
		text := benchFleetPolicy(n)
		file := writeServeFile(b, dir, "fleet.toml", text)
		p, err := warden.Parse(file, []byte(text))
		if err != nil {
			b.Fatal(err)
		}
		var stderr strings.Builder
		if code := Run([]string{"publish", "--store", direct, file}, nil, io.Discard, &stderr); code != 0 {
			b.Fatalf("publish: exit %d: %s", code, stderr.String())
		}
		published := time.Now()
		var worst time.Duration
		var wg sync.WaitGroup
		var mu sync.Mutex
		for i := range f.urls {
			wg.Go(func() {
				for {
					d, err := f.check(i, seed)
					if err == nil && d.version == p.Version() {
						mu.Lock()
						worst = max(worst, time.Since(published))
						mu.Unlock()
						return
					}
					if time.Since(published) > benchFleetFlipLimit {
						b.Errorf("instance %d does not serve policy version %s %v after its publish", i, p.Version(), benchFleetFlipLimit)
						return
					}
					time.Sleep(time.Millisecond)
				}
			})
		}
		wg.Wait()
		publishes = append(publishes, worst)
	}

	// The outage: every proxy cuts its instance off the store while
	// grants go straight to PostgreSQL. Then a stall: the proxies hold
	// every byte, refusing nothing, as a network that stops carrying
	// packets does.
	cut := f.outage(st, outage, (*benchProxy).cut, func(p *benchProxy) { p.resume(b) })
	stall := f.outage(st, stalled, (*benchProxy).stall, (*benchProxy).unstall)

	// Propagation again, straight after the outage.
	afterOutage := f.propagate(post)
	delays = append(delays, afterOutage...)

	stopLoad()
	lr := <-loaded
	loadSecs := time.Since(loadStart).Seconds()

	// Judge every decision by the revision it reports.
	f.mu.Lock()
	decisions := f.log
	f.mu.Unlock()
	var wrong, judged int
	for _, d := range decisions {
		if d.key.unknown.Load() {
			continue
		}
		judged++
		if d.rev == 0 || d.allowed != d.key.allowedAt(d.rev) {
			wrong++
			if wrong <= 10 {
				b.Errorf("wrong decision: instance %d answered allowed=%v for %s at revision %d; the grant was added at %d, removed at %d", d.inst, d.allowed, d.key.name, d.rev, d.key.added.Load(), d.key.removed.Load())
			}
		}
	}
	if lr.dropped > 0 {
		b.Logf("the load dropped %d of %d checks: every worker was busy", lr.dropped, lr.sent+lr.dropped)
	}
	b.Logf("%d propagation samples (%d after the outages), %d publishes, %d decisions judged; instances showed the outage after %v, the stall after %v",
		len(delays), len(afterOutage), len(publishes), judged, cut.noticed.Round(time.Millisecond), stall.noticed.Round(time.Millisecond))

	b.ReportMetric(benchMS(benchPercentile(delays, 0.50)), "prop-p50-ms")
	b.ReportMetric(benchMS(benchPercentile(delays, 0.99)), "prop-p99-ms")
	b.ReportMetric(benchMS(slices.Max(delays)), "prop-max-ms")
	b.ReportMetric(benchMS(benchPercentile(afterOutage, 0.99)), "prop-after-outage-p99-ms")
	b.ReportMetric(benchMS(slices.Max(publishes)), "publish-max-ms")
	b.ReportMetric(benchMS(cut.catchUp), "catchup-ms")
	b.ReportMetric(float64(cut.decisions), "outage-decisions")
	b.ReportMetric(benchMS(stall.noticed), "stall-noticed-ms")
	b.ReportMetric(benchMS(stall.catchUp), "stall-catchup-ms")
	b.ReportMetric(float64(stall.decisions), "stall-decisions")
	b.ReportMetric(float64(lr.sent)/loadSecs, "load-checks/s")
	b.ReportMetric(benchMS(benchPercentile(lr.lat, 0.99)), "load-p99-ms")
	b.ReportMetric(float64(wrong), "wrong-decisions")
}

// benchProxy is a loopback TCP proxy to PostgreSQL. cut closes every
// connection and the listening socket, so new connections are refused;
// resume listens on the same address again. stall holds every byte
// until unstall.
type benchProxy struct {
	target, addr string

	mu      sync.Mutex
	ln      net.Listener
	conns   map[net.Conn]bool
	stalled bool
	moved   *sync.Cond // on mu: stalled was cleared
}

func newBenchProxy(b *testing.B, target string) *benchProxy {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	p := &benchProxy{target: target, addr: ln.Addr().String(), ln: ln, conns: map[net.Conn]bool{}}
	p.moved = sync.NewCond(&p.mu)
	go p.accept(ln)
	b.Cleanup(p.cut)
	return p
}

func (p *benchProxy) accept(ln net.Listener) {
	for {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		go p.pipe(c)
	}
}

func (p *benchProxy) pipe(c net.Conn) {
	up, err := net.Dial("tcp", p.target)
	if err != nil {
		c.Close()
		return
	}
	if !p.track(c, up) {
		return
	}
	done := make(chan struct{}, 2)
	go func() { p.copy(up, c); done <- struct{}{} }()
	go func() { p.copy(c, up); done <- struct{}{} }()
	<-done
	c.Close()
	up.Close()
	p.mu.Lock()
	delete(p.conns, c)
	delete(p.conns, up)
	p.mu.Unlock()
}

// copy copies src to dst, holding what it read while the proxy is
// stalled.
func (p *benchProxy) copy(dst, src net.Conn) {
	buf := make([]byte, 32<<10)
	for {
		n, err := src.Read(buf)
		p.mu.Lock()
		for p.stalled {
			p.moved.Wait()
		}
		p.mu.Unlock()
		if n > 0 {
			if _, werr := dst.Write(buf[:n]); werr != nil {
				return
			}
		}
		if err != nil {
			return
		}
	}
}

// stall holds every byte on every connection, old and new, until
// unstall: the store neither answers nor refuses.
func (p *benchProxy) stall() {
	p.mu.Lock()
	p.stalled = true
	p.mu.Unlock()
}

func (p *benchProxy) unstall() {
	p.mu.Lock()
	p.stalled = false
	p.moved.Broadcast()
	p.mu.Unlock()
}

// track registers a connection pair, or closes it if the proxy was cut
// meanwhile.
func (p *benchProxy) track(c, up net.Conn) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.ln == nil {
		c.Close()
		up.Close()
		return false
	}
	p.conns[c], p.conns[up] = true, true
	return true
}

func (p *benchProxy) cut() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.stalled = false
	p.moved.Broadcast()
	if p.ln != nil {
		p.ln.Close()
		p.ln = nil
	}
	for c := range p.conns {
		c.Close()
	}
	clear(p.conns)
}

func (p *benchProxy) resume(b *testing.B) {
	ln, err := net.Listen("tcp", p.addr)
	if err != nil {
		b.Fatalf("proxy: listening on %s again: %v", p.addr, err)
	}
	p.mu.Lock()
	p.ln = ln
	p.mu.Unlock()
	go p.accept(ln)
}
