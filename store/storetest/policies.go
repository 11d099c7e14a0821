package storetest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/warden-authz/warden/store"
)

// The checks of store.Policies. Each runs on a store that implements it
// and is skipped, saying so, on one that does not. The reference is the
// history itself: a slice of every entry the store must hold, oldest
// first, with its text.

// pst is a store under test that keeps policy versions, with the
// history it must hold.
type pst struct {
	*st
	p    store.Policies
	hist []store.PolicyVersion // oldest first, with texts
}

// policyCheck runs a check of store.Policies on one new store.
func policyCheck(check func(*testing.T, *pst)) func(*testing.T, func(*testing.T) store.Store) {
	return single(func(t *testing.T, s *st) {
		p, ok := s.Store.(store.Policies)
		if !ok {
			t.Skipf("%T does not implement store.Policies: it keeps no policy versions, so a fleet cannot follow it (SPEC 11.3)", s.Store)
		}
		check(t, &pst{st: s, p: p})
	})
}

// version makes a valid version to publish.
func version(hash, name, text string) store.PolicyVersion {
	return store.PolicyVersion{Version: hash, Name: name, Text: []byte(text)}
}

// near reports whether a store's time for an entry is plausible: set,
// and within a minute of the call (a store may take the time from its
// database's clock).
func near(got, from, to time.Time) bool {
	return !got.IsZero() && !got.Before(from.Add(-time.Minute)) && !got.After(to.Add(time.Minute))
}

// publish publishes v, which must succeed, checks the entry Publish
// returns and adds it to the history.
func (s *pst) publish(t testing.TB, v store.PolicyVersion) store.PolicyVersion {
	t.Helper()
	text := slices.Clone(v.Text)
	from := time.Now()
	got, err := s.p.Publish(context.Background(), v)
	if err != nil {
		t.Fatalf("Publish(%s, %s, %d bytes): %v", v.Version, v.Name, len(v.Text), err)
	}
	want := store.PolicyVersion{Seq: uint64(len(s.hist)) + 1, Version: v.Version, Name: v.Name}
	if got.Seq != want.Seq || got.Version != want.Version || got.Name != want.Name || got.RollbackOf != 0 {
		t.Fatalf("Publish(%s) = %s; want %s: the next Seq, the caller's version and name, no RollbackOf (store.Policies)", v.Version, showVersion(got), showVersion(want))
	}
	if got.Text != nil {
		t.Fatalf("Publish(%s) returned the text (%d bytes): it returns the entry without its text (store.Policies)", v.Version, len(got.Text))
	}
	if !near(got.Time, from, time.Now()) {
		t.Fatalf("Publish(%s) returned the time %v, not the time of the publish", v.Version, got.Time)
	}
	got.Text = text
	s.hist = append(s.hist, got)
	return got
}

// rollback rolls back to version, which must succeed, checks the entry
// Rollback returns and adds it to the history.
func (s *pst) rollback(t testing.TB, version string) store.PolicyVersion {
	t.Helper()
	from := time.Now()
	got, err := s.p.Rollback(context.Background(), version)
	if err != nil {
		t.Fatalf("Rollback(%s): %v", version, err)
	}
	var src *store.PolicyVersion
	for i := len(s.hist) - 1; i >= 0 && src == nil; i-- {
		if s.hist[i].Version == version {
			src = &s.hist[i]
		}
	}
	if src == nil {
		t.Fatalf("the suite rolled back to %s, which it never published", version)
	}
	want := store.PolicyVersion{Seq: uint64(len(s.hist)) + 1, Version: version, Name: src.Name, RollbackOf: src.Seq}
	if got.Seq != want.Seq || got.Version != want.Version || got.Name != want.Name || got.RollbackOf != want.RollbackOf {
		t.Fatalf("Rollback(%s) = %s; want %s: a new entry with the next Seq, restoring the newest entry with that version (store.Policies)", version, showVersion(got), showVersion(want))
	}
	if got.Text != nil {
		t.Fatalf("Rollback(%s) returned the text (%d bytes): it returns the entry without its text (store.Policies)", version, len(got.Text))
	}
	if !near(got.Time, from, time.Now()) {
		t.Fatalf("Rollback(%s) returned the time %v, not the time of the rollback", version, got.Time)
	}
	got.Text = src.Text
	s.hist = append(s.hist, got)
	return got
}

// expectPolicies checks that the store holds the history: CurrentPolicy
// is its newest entry with its text, or ErrNoPolicy; PolicyHistory lists
// every entry newest first, without texts.
func (s *pst) expectPolicies(t testing.TB, why string) {
	t.Helper()
	ctx := context.Background()
	cur, err := s.p.CurrentPolicy(ctx)
	if len(s.hist) == 0 {
		if !errors.Is(err, store.ErrNoPolicy) {
			t.Fatalf("CurrentPolicy() with nothing published = %s, %v; want store.ErrNoPolicy\n%s", showVersion(cur), err, why)
		}
	} else {
		want := s.hist[len(s.hist)-1]
		if err != nil {
			t.Fatalf("CurrentPolicy() = %v; want %s\n%s", err, showVersion(want), why)
		}
		if !sameEntry(want, cur) || !bytes.Equal(cur.Text, want.Text) {
			t.Fatalf("CurrentPolicy() = %s; want %s, with its text byte for byte\n%s", showVersion(cur), showVersion(want), why)
		}
	}
	h, err := s.p.PolicyHistory(ctx, store.MaxLimit)
	if err != nil {
		t.Fatalf("PolicyHistory(%d): %v\n%s", store.MaxLimit, err, why)
	}
	if d := diffHistory(s.newestFirst(len(s.hist)), h); d != "" {
		t.Fatalf("PolicyHistory(%d): %s\n%s", store.MaxLimit, d, why)
	}
}

// newestFirst returns the n newest entries of the history, newest first.
func (s *pst) newestFirst(n int) []store.PolicyVersion {
	var out []store.PolicyVersion
	for i := len(s.hist) - 1; i >= 0 && len(out) < n; i-- {
		out = append(out, s.hist[i])
	}
	return out
}

// sameEntry compares two entries but for their texts.
func sameEntry(a, b store.PolicyVersion) bool {
	return a.Seq == b.Seq && a.Version == b.Version && a.Name == b.Name && a.RollbackOf == b.RollbackOf && a.Time.Equal(b.Time)
}

// diffHistory compares a history page with the entries it must hold,
// which it holds without their texts.
func diffHistory(want, got []store.PolicyVersion) string {
	for i := range max(len(want), len(got)) {
		switch {
		case i >= len(got):
			return fmt.Sprintf("%d entries, want %d: entry %d, %s, is missing", len(got), len(want), i, showVersion(want[i]))
		case i >= len(want):
			return fmt.Sprintf("%d entries, want %d: entry %d, %s, is extra", len(got), len(want), i, showVersion(got[i]))
		case !sameEntry(want[i], got[i]):
			return fmt.Sprintf("entry %d is %s, want %s (newest first)", i, showVersion(got[i]), showVersion(want[i]))
		case got[i].Text != nil:
			return fmt.Sprintf("entry %d, %s, has its text (%d bytes): a history is listed without texts", i, showVersion(got[i]), len(got[i].Text))
		}
	}
	return ""
}

func showVersion(v store.PolicyVersion) string {
	s := fmt.Sprintf("{seq %d, version %q, name %q, time %v", v.Seq, pShort(v.Version), pShort(v.Name), v.Time)
	if v.RollbackOf != 0 {
		s += fmt.Sprintf(", rollback of %d", v.RollbackOf)
	}
	if v.Text != nil {
		s += fmt.Sprintf(", %d bytes of text", len(v.Text))
	}
	return s + "}"
}

func testPolicyPublish(t *testing.T, s *pst) {
	ctx := context.Background()
	s.expectPolicies(t, "a new store holds no policy version")
	if h, err := s.p.PolicyHistory(ctx, 0); err != nil || len(h) != 0 {
		t.Fatalf("PolicyHistory(0) on a new store = %d entries, %v; want none", len(h), err)
	}
	s.publish(t, version("sha256:1111", "policy.toml", "one"))
	s.expectPolicies(t, "the first publish is Seq 1, and current")

	// What the store sets, it sets whatever the caller says.
	v := version("sha256:2222", "policy.toml", "two")
	v.Seq, v.RollbackOf, v.Time = 99, 1, time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC)
	s.publish(t, v)
	s.expectPolicies(t, "Publish sets Seq, Time and RollbackOf itself (store.Policies)")

	// The same version again is a new entry: a history is not a set.
	s.publish(t, version("sha256:1111", "again.toml", "one, again"))
	s.expectPolicies(t, "publishing a version the history holds adds an entry")

	// The store keeps copies: the caller's slices are the caller's.
	v = version("sha256:3333", "policy.toml", "three")
	s.publish(t, v)
	copy(v.Text, "XXXXX")
	cur, err := s.p.CurrentPolicy(ctx)
	if err != nil {
		t.Fatal(err)
	}
	copy(cur.Text, "YYYYY")
	s.expectPolicies(t, "a store copies the text it keeps and the text it returns: changing either slice afterwards changes nothing stored")

	// A cancelled context publishes nothing and rolls back nothing.
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if got, err := s.p.Publish(cctx, version("sha256:4444", "policy.toml", "four")); err == nil {
		t.Fatalf("Publish with a cancelled context = %s, nil; want an error", showVersion(got))
	}
	if got, err := s.p.Rollback(cctx, "sha256:2222"); err == nil {
		t.Fatalf("Rollback with a cancelled context = %s, nil; want an error", showVersion(got))
	}
	s.expectPolicies(t, "a Publish or Rollback whose context is done before it commits changes nothing")

	// Policies and data are apart: neither moves the other.
	s.expect(t, "publishing policy versions writes no data and takes no revision")
	s.mustWrite(t, addMember("alice", "team"))
	s.expectPolicies(t, "a data write changes no policy version")
	s.expect(t, "after a data write")
}

func testPolicyHistory(t *testing.T, s *pst) {
	ctx := context.Background()
	n := store.DefaultLimit + 2
	for i := range n {
		if i%10 == 9 {
			s.rollback(t, fmt.Sprintf("sha256:%04d", i-5))
			continue
		}
		s.publish(t, version(fmt.Sprintf("sha256:%04d", i), fmt.Sprintf("p%d.toml", i), fmt.Sprintf("text %d", i)))
	}
	s.expectPolicies(t, "after a hundred publishes and rollbacks")
	for _, limit := range []int{1, 2, 7, store.DefaultLimit, n - 1, n, n + 1, store.MaxLimit, 0} {
		h, err := s.p.PolicyHistory(ctx, limit)
		if err != nil {
			t.Fatalf("PolicyHistory(%d): %v", limit, err)
		}
		want := limit
		if limit == 0 {
			want = store.DefaultLimit
		}
		if d := diffHistory(s.newestFirst(want), h); d != "" {
			t.Fatalf("PolicyHistory(%d) of %d entries: %s\nit lists up to limit entries (0 means store.DefaultLimit), newest first", limit, n, d)
		}
	}
	for _, limit := range []int{-1, store.MaxLimit + 1, math.MinInt, math.MaxInt} {
		if h, err := s.p.PolicyHistory(ctx, limit); !errors.Is(err, store.ErrInvalid) {
			t.Errorf("PolicyHistory(%d) = %d entries, %v; want store.ErrInvalid: a limit is 0 to store.MaxLimit", limit, len(h), err)
		}
	}
}

func testPolicyRollback(t *testing.T, s *pst) {
	ctx := context.Background()
	if got, err := s.p.Rollback(ctx, "sha256:aaaa"); !errors.Is(err, store.ErrNoPolicy) {
		t.Fatalf("Rollback on a store with no policy = %s, %v; want store.ErrNoPolicy", showVersion(got), err)
	}
	s.expectPolicies(t, "a refused rollback changes nothing")
	s.publish(t, version("sha256:aaaa", "a.toml", "text A"))
	s.publish(t, version("sha256:bbbb", "b.toml", "text B"))
	s.rollback(t, "sha256:aaaa")
	s.expectPolicies(t, "a rollback is a new entry, current, with the restored entry's text and name and its Seq in RollbackOf")
	s.rollback(t, "sha256:bbbb")
	s.rollback(t, "sha256:aaaa")
	s.expectPolicies(t, "rolling back to a version rolled back to before restores the newest entry holding it")
	s.rollback(t, "sha256:aaaa")
	s.expectPolicies(t, "rolling back to the current version adds an entry too")
	// The same version published again, under another name: a rollback
	// restores the newest entry holding the version.
	s.publish(t, version("sha256:aaaa", "a2.toml", "text A, again"))
	s.rollback(t, "sha256:bbbb")
	s.rollback(t, "sha256:aaaa")
	s.expectPolicies(t, "a rollback restores the newest entry holding the version, its name and text")

	for _, v := range []struct{ name, s string }{
		{"unknown", "sha256:cccc"},
		{"prefix", "sha256:aaa"},
		{"extension", "sha256:aaaaa"},
		{"other case", "SHA256:AAAA"},
		{"like-percent", "sha256:%"},
		{"like-underscore", "sha256:aa_a"},
		{"sql-quote", "sha256:aaaa' OR '1'='1"},
		{"empty", ""},
		{"space", "sha256:aaaa "},
		{"nul", "sha256:aaaa\x00"},
		{"newline", "sha256:aaaa\n"},
		{"invalid-utf8", "sha256:\xff"},
		{"non-ascii", "sha256:ääää"},
		{"over-the-limit", "sha256:" + strings.Repeat("a", store.MaxPolicyVersionBytes)},
		{"huge", strings.Repeat("a", 1<<20)},
	} {
		t.Run("refused/"+v.name, func(t *testing.T) {
			if got, err := s.p.Rollback(ctx, v.s); !errors.Is(err, store.ErrNoPolicy) {
				t.Fatalf("Rollback(%q) = %s, %v; want store.ErrNoPolicy: the history holds no such version", pShort(v.s), showVersion(got), err)
			}
			s.expectPolicies(t, "a refused rollback changes nothing")
		})
	}
}

// hostileVersions are versions Publish must refuse with ErrInvalid.
func hostileVersions() []struct {
	name string
	v    store.PolicyVersion
} {
	ok := version("sha256:1234", "policy.toml", "[rules]\n")
	with := func(f func(*store.PolicyVersion)) store.PolicyVersion {
		v := ok
		f(&v)
		return v
	}
	return []struct {
		name string
		v    store.PolicyVersion
	}{
		{"zero", store.PolicyVersion{}},
		{"empty-version", with(func(v *store.PolicyVersion) { v.Version = "" })},
		{"version-space", with(func(v *store.PolicyVersion) { v.Version = "sha256 1234" })},
		{"version-nul", with(func(v *store.PolicyVersion) { v.Version = "sha256:\x001234" })},
		{"version-newline", with(func(v *store.PolicyVersion) { v.Version = "sha256:1234\n" })},
		{"version-invalid-utf8", with(func(v *store.PolicyVersion) { v.Version = "sha256:\xff" })},
		{"version-non-ascii", with(func(v *store.PolicyVersion) { v.Version = "sha256:é" })},
		{"version-over-the-limit", with(func(v *store.PolicyVersion) { v.Version = strings.Repeat("a", store.MaxPolicyVersionBytes+1) })},
		{"nil-text", with(func(v *store.PolicyVersion) { v.Text = nil })},
		{"empty-text", with(func(v *store.PolicyVersion) { v.Text = []byte{} })},
		{"text-over-the-limit", with(func(v *store.PolicyVersion) { v.Text = make([]byte, store.MaxPolicyBytes+1) })},
		{"name-nul", with(func(v *store.PolicyVersion) { v.Name = "policy\x00.toml" })},
		{"name-newline", with(func(v *store.PolicyVersion) { v.Name = "policy.toml\nsha256:forged" })},
		{"name-escape", with(func(v *store.PolicyVersion) { v.Name = "\x1b[31mpolicy.toml" })},
		{"name-del", with(func(v *store.PolicyVersion) { v.Name = "policy\x7f.toml" })},
		{"name-c1", with(func(v *store.PolicyVersion) { v.Name = "policy\u0085.toml" })},
		{"name-invalid-utf8", with(func(v *store.PolicyVersion) { v.Name = "\xffpolicy.toml" })},
		{"name-over-the-limit", with(func(v *store.PolicyVersion) { v.Name = strings.Repeat("n", store.MaxPolicyNameBytes+1) })},
	}
}

func testPolicyHostile(t *testing.T, s *pst) {
	ctx := context.Background()
	for _, h := range hostileVersions() {
		t.Run("refused/"+h.name, func(t *testing.T) {
			if got, err := s.p.Publish(ctx, h.v); !errors.Is(err, store.ErrInvalid) {
				t.Fatalf("Publish(%s) = %s, %v; want store.ErrInvalid (store.PolicyVersion.Check)", h.name, showVersion(got), err)
			}
			s.expectPolicies(t, "a refused publish changes nothing")
		})
	}
	every := make([]byte, 0, 4*256)
	for range 4 {
		for b := range 256 {
			every = append(every, byte(b))
		}
	}
	printable := make([]byte, 0, '~'-'!'+1)
	for c := byte('!'); c <= '~'; c++ {
		printable = append(printable, c)
	}
	accepted := []struct {
		name string
		v    store.PolicyVersion
	}{
		{"every-byte", version("sha256:0001", "policy.toml", string(every))},
		{"nul-text", version("sha256:0002", "policy.toml", "\x00")},
		{"invalid-utf8-text", version("sha256:0003", "policy.toml", "\xff\xfe[rules]\xc3\x28")},
		{"crlf-text", version("sha256:0004", "policy.toml", "[rules.a]\r\nallow = []\r\n")},
		{"bom-text", version("sha256:0005", "policy.toml", "\uFEFF[rules]\n")},
		{"empty-name", version("sha256:0006", "", "x")},
		{"name-with-spaces", version("sha256:0007", "/etc/warden/my policy.toml", "x")},
		{"unicode-name", version("sha256:0008", "politique-é/政策/😀.toml", "x")},
		{"name-at-the-limit", version("sha256:0009", strings.Repeat("n", store.MaxPolicyNameBytes), "x")},
		{"version-at-the-limit", version(strings.Repeat("v", store.MaxPolicyVersionBytes), "policy.toml", "x")},
		{"version-of-every-printable", version(string(printable), "policy.toml", "x")},
		{"sql-like-text", version("sha256:000a", "'; DROP TABLE store_policies; --", "'); DELETE FROM store_policies; --")},
	}
	if !raceEnabled {
		// One goroutine moving 16 MiB: nothing for the race detector,
		// and slow under it.
		big := bytes.Repeat([]byte("# a comment\n\x00\xff"), store.MaxPolicyBytes/14+1)[:store.MaxPolicyBytes]
		accepted = append(accepted, struct {
			name string
			v    store.PolicyVersion
		}{"text-at-the-limit", store.PolicyVersion{Version: "sha256:000b", Name: "big.toml", Text: big}})
	}
	for _, a := range accepted {
		t.Run("accepted/"+a.name, func(t *testing.T) {
			s.publish(t, a.v)
			s.expectPolicies(t, "a valid version is stored and returned byte for byte, text, name and version (store.PolicyVersion.Check)")
		})
	}
	// A rollback finds versions of every printable character exactly.
	s.rollback(t, string(printable))
	s.expectPolicies(t, "after rolling back to the version of every printable character")
}

func testPolicyWait(t *testing.T, s *pst) {
	ctx := context.Background()
	wait := func(what string, ctx context.Context, after uint64) (uint64, error) {
		t.Helper()
		return returns(t, what, func() (store.Revision, error) { return s.p.WaitPolicy(ctx, after) })
	}
	tctx, cancel := context.WithTimeout(ctx, timeMillis(50))
	defer cancel()
	if got, err := wait("WaitPolicy(0) on a store with no policy", tctx, 0); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("WaitPolicy(0) with nothing published and a context that expires = %d, %v; want context.DeadlineExceeded", got, err)
	}
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if got, err := wait("WaitPolicy with a cancelled context", cctx, 0); !errors.Is(err, context.Canceled) {
		t.Fatalf("WaitPolicy(0) with a cancelled context = %d, %v; want context.Canceled", got, err)
	}
	s.publish(t, version("sha256:1111", "policy.toml", "one"))
	if got, err := wait("WaitPolicy for a Seq already past", ctx, 0); err != nil || got != 1 {
		t.Fatalf("WaitPolicy(0) with Seq 1 current = %d, %v; want 1 at once", got, err)
	}

	// wakes runs WaitPolicy(after) and returns what it returns; it must
	// not return before change runs, and must return after it.
	wakes := func(what string, after uint64, change func()) {
		t.Helper()
		woke := make(chan error, 1)
		go func() {
			got, err := s.p.WaitPolicy(ctx, after)
			if err == nil && got != after+1 {
				err = fmt.Errorf("WaitPolicy(%d) returned %d, want %d", after, got, after+1)
			}
			woke <- err
		}()
		select {
		case err := <-woke:
			t.Fatalf("WaitPolicy(%d) returned before %s: %v", after, what, err)
		case <-timeAfter(50):
		}
		// A data commit is not a policy version: a waiter that wakes on
		// it must wait on.
		s.mustWrite(t, addMember("alice", "team"))
		select {
		case err := <-woke:
			t.Fatalf("WaitPolicy(%d) returned on a data commit, before %s: %v", after, what, err)
		case <-timeAfter(50):
		}
		from := time.Now()
		change()
		select {
		case err := <-woke:
			if err != nil {
				t.Fatal(err)
			}
			t.Logf("WaitPolicy woke %v after %s began", time.Since(from), what)
		case <-timeAfter(30000):
			t.Fatalf("WaitPolicy(%d) did not wake within 30 s of %s", after, what)
		}
	}
	wakes("a publish", 1, func() { s.publish(t, version("sha256:2222", "policy.toml", "two")) })
	wakes("a rollback", 2, func() { s.rollback(t, "sha256:1111") })

	tctx, cancel = context.WithTimeout(ctx, timeMillis(50))
	defer cancel()
	if got, err := wait("WaitPolicy for a Seq far ahead", tctx, 1<<62); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("WaitPolicy(1<<62) with Seq 3 current = %d, %v; want context.DeadlineExceeded: it returns once the Seq is past after", got, err)
	}

	closed := make(chan error, 1)
	go func() { _, err := s.p.WaitPolicy(ctx, 3); closed <- err }()
	select {
	case err := <-closed:
		t.Fatalf("WaitPolicy(3) returned before Close: %v", err)
	case <-timeAfter(50):
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-closed:
		if !errors.Is(err, store.ErrClosed) {
			t.Fatalf("a WaitPolicy running when the store closed returned %v; want store.ErrClosed", err)
		}
	case <-timeAfter(30000):
		t.Fatal("a WaitPolicy running when the store closed did not return within 30 s")
	}
}

func testPolicyVisible(t *testing.T, s *pst) {
	ctx := context.Background()
	for i := range 12 {
		var v store.PolicyVersion
		if i%3 == 2 {
			v = s.rollback(t, fmt.Sprintf("sha256:%04d", i-2))
		} else {
			v = s.publish(t, version(fmt.Sprintf("sha256:%04d", i), "policy.toml", fmt.Sprintf("text %d", i)))
		}
		want := s.hist[len(s.hist)-1]
		cur, err := s.p.CurrentPolicy(ctx)
		if err != nil || !sameEntry(want, cur) || !bytes.Equal(cur.Text, want.Text) {
			t.Fatalf("CurrentPolicy() right after Seq %d returned = %s, %v; want %s", v.Seq, showVersion(cur), err, showVersion(want))
		}
		h, err := s.p.PolicyHistory(ctx, 1)
		if err != nil || len(h) != 1 || !sameEntry(want, h[0]) {
			t.Fatalf("PolicyHistory(1) right after Seq %d returned = %v, %v; want %s", v.Seq, h, err, showVersion(want))
		}
		if got, err := returns(t, "WaitPolicy for a Seq just returned", func() (store.Revision, error) { return s.p.WaitPolicy(ctx, v.Seq-1) }); err != nil || got < v.Seq {
			t.Fatalf("WaitPolicy(%d) right after Seq %d returned = %d, %v; want %d at once", v.Seq-1, v.Seq, got, err, v.Seq)
		}
	}
	s.expectPolicies(t, "a Publish or Rollback that returned is seen by every later call (store.Policies)")
}

func testPolicyConcurrent(t *testing.T, s *pst) {
	const publishers, each = 6, 5
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var (
		mu      sync.Mutex
		entries = map[uint64]store.PolicyVersion{} // by Seq, with texts
		seen    []store.PolicyVersion              // what readers saw current, with texts
		errs    errList
	)
	record := func(v store.PolicyVersion, text []byte) {
		mu.Lock()
		defer mu.Unlock()
		if prev, dup := entries[v.Seq]; dup {
			errs.add(fmt.Errorf("Seq %d was given to %s and to %s", v.Seq, showVersion(prev), showVersion(v)))
		}
		v.Text = text
		entries[v.Seq] = v
	}
	var writing, reading sync.WaitGroup
	for w := range publishers {
		writing.Go(func() {
			for i := range each {
				hash := fmt.Sprintf("sha256:w%d-%d", w, i)
				text := fmt.Appendf(nil, "publisher %d, version %d", w, i)
				v, err := s.p.Publish(ctx, store.PolicyVersion{Version: hash, Name: fmt.Sprintf("w%d.toml", w), Text: text})
				if err != nil {
					errs.add(fmt.Errorf("publisher %d: Publish: %w", w, err))
					return
				}
				record(v, text)
				if i%2 == 1 {
					// Roll back to this publisher's previous version: its
					// only entry, since every version is published once.
					prev := fmt.Sprintf("sha256:w%d-%d", w, i-1)
					r, err := s.p.Rollback(ctx, prev)
					if err != nil {
						errs.add(fmt.Errorf("publisher %d: Rollback(%s): %w", w, prev, err))
						return
					}
					record(r, fmt.Appendf(nil, "publisher %d, version %d", w, i-1))
				}
			}
		})
	}
	for range 2 {
		reading.Go(func() {
			var last uint64
			for ctx.Err() == nil {
				cur, err := s.p.CurrentPolicy(ctx)
				if errors.Is(err, store.ErrNoPolicy) && last == 0 {
					continue
				}
				if err != nil {
					if ctx.Err() == nil {
						errs.add(fmt.Errorf("CurrentPolicy during publishes: %w", err))
					}
					return
				}
				if cur.Seq < last {
					errs.add(fmt.Errorf("CurrentPolicy went back from Seq %d to %d", last, cur.Seq))
					return
				}
				last = cur.Seq
				mu.Lock()
				seen = append(seen, cur)
				mu.Unlock()
			}
		})
	}
	writing.Wait()
	cancel()
	reading.Wait()
	errs.report(t)
	if t.Failed() {
		return
	}
	total := uint64(len(entries))
	if want := uint64(publishers * (each + each/2)); total != want {
		t.Fatalf("%d entries recorded, want %d", total, want)
	}
	for seq := uint64(1); seq <= total; seq++ {
		v, ok := entries[seq]
		if !ok {
			t.Fatalf("no publish or rollback got Seq %d of 1 to %d: Seqs are gapless", seq, total)
		}
		if v.RollbackOf != 0 {
			src, ok := entries[v.RollbackOf]
			if !ok || src.Version != v.Version || src.RollbackOf != 0 || src.Seq >= v.Seq {
				t.Fatalf("the rollback %s restores Seq %d, %s; want the publish of %s before it", showVersion(v), v.RollbackOf, showVersion(src), v.Version)
			}
		}
		s.hist = append(s.hist, v)
	}
	for _, cur := range seen {
		want := entries[cur.Seq]
		if !sameEntry(want, cur) || !bytes.Equal(want.Text, cur.Text) {
			t.Fatalf("CurrentPolicy during the publishes returned %s, text %q; Seq %d is %s, text %q", showVersion(cur), pShort(string(cur.Text)), cur.Seq, showVersion(want), pShort(string(want.Text)))
		}
	}
	t.Logf("%d current versions read during %d publishes and rollbacks", len(seen), total)
	s.expectPolicies(t, "publishes and rollbacks from many goroutines commit one after another, each with the next Seq")
}
