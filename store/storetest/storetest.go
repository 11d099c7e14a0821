// Package storetest checks that a store keeps the promises of
// store.Store, store.Notifier and store.Policies, as audit/audittest does for audit sinks
// and testing/slogtest for slog handlers. Any store, in this module or
// outside it, can run it:
//
//	func TestConformance(t *testing.T) {
//		storetest.Run(t, func(t *testing.T) store.Store {
//			s, err := sqlite.Open(filepath.Join(t.TempDir(), "data.db"))
//			if err != nil {
//				t.Fatal(err)
//			}
//			t.Cleanup(func() { s.Close() })
//			return s
//		})
//	}
//
// # What is checked
//
// Each check is a subtest with a new store:
//
//   - revisions: 0 before any write, then 1 for the first batch and one
//     more for each, batches that change nothing and empty batches
//     included; Revision agrees.
//   - revisions-concurrent: batches from many goroutines get every
//     revision once, with no gap, and each revision's changes are its
//     batch's; Revision never goes back.
//   - atomicity: a batch with one bad write (a pattern character, an
//     empty name, white space, a control character, NUL, invalid UTF-8,
//     a name over the limits, both or neither of membership and grant,
//     an unknown op or effect), or with more than store.MaxBatch writes,
//     is refused with store.ErrInvalid naming the write's index, and
//     changes nothing, not even the revision.
//   - max-batch: store.MaxBatch writes commit as one revision, which
//     Changes returns whole.
//   - names: valid names of every kind come back byte for byte.
//   - if-revision, if-revision-concurrent: IfRevision commits only at
//     that revision, otherwise store.ErrRevisionConflict and nothing
//     changes; among concurrent conditional writers exactly one wins
//     each revision.
//   - semantics: adding what exists and removing what is absent commit
//     but are not changes; remove then add in one batch; a grant added
//     again goes to the end of document order; two effects are two
//     grants.
//   - changes: paging with every limit visits every change once, in
//     order, in whole revisions, through every revision;
//     store.ErrRevisionUnavailable past the latest revision; bad limits
//     are errors.
//   - list: every filter and combination, paged with several limits,
//     returns the reference's records once each in (Added, Index) order;
//     invalid filters and cursors are errors, unknown positions are not.
//   - read-your-writes: once Write returns, Revision, Snapshot, Changes
//     and List see the batch.
//   - snapshot-concurrent: snapshots taken while writers run each hold
//     exactly the state at the revision they report.
//   - does-not-keep: changing a batch after Write, or a record the store
//     returned, changes nothing stored.
//   - context: a cancelled context writes nothing; an error from
//     Snapshot's callback stops it and is returned.
//   - notifier: Wait wakes on a commit, returns at once when the store is
//     already past, honours its context, and returns store.ErrClosed once
//     the store closes (skipped when the store is not a store.Notifier).
//   - policy-publish: with store.Policies (each policy-* check is skipped,
//     saying why, for a store that does not implement it): store.ErrNoPolicy
//     before any publish; publishes get Seq 1, 2, 3, … whatever the
//     caller set; CurrentPolicy is the newest, with its text; the store
//     keeps copies; a cancelled context publishes nothing; policies and
//     data do not move each other.
//   - policy-history: newest first, without texts, up to the limit (0
//     means store.DefaultLimit); a limit out of bounds is
//     store.ErrInvalid.
//   - policy-rollback: a new entry with the next Seq, restoring the
//     newest entry holding the version (its name, its text, its Seq in
//     RollbackOf); an unknown or malformed version is store.ErrNoPolicy
//     and changes nothing.
//   - policy-hostile: versions store.PolicyVersion.Check refuses (an
//     empty version or text, a text over store.MaxPolicyBytes, NUL,
//     control characters or invalid UTF-8 in the version or the name,
//     either over its limit) are store.ErrInvalid and change nothing;
//     binary and invalid UTF-8 texts, a text of store.MaxPolicyBytes,
//     names and versions at their limits come back byte for byte.
//   - policy-wait: WaitPolicy returns at once when the store is past,
//     wakes on a publish and on a rollback but not on a data commit,
//     honours its context, and returns store.ErrClosed once the store
//     closes.
//   - policy-visible: once Publish or Rollback returns, CurrentPolicy,
//     PolicyHistory and WaitPolicy see it.
//   - policy-concurrent: publishes and rollbacks from many goroutines get
//     every Seq once, with no gap; readers meanwhile never see the Seq go
//     back, and each version they read is the one of its Seq.
//   - closed, zero-value: after Close, and on the zero value and a nil
//     pointer of the store's type, every method (of store.Notifier and
//     store.Policies too) returns store.ErrClosed and none panics; Close
//     may be called again.
//   - property: random batches (adds, removes, conditional writes, bad
//     writes) against the reference, comparing Revision, Changes,
//     Snapshot and List after every batch (pgregory.net/rapid).
//
// # The reference
//
// Every answer is compared with a reference model: a map that replays
// the same batches one write at a time (SPEC 10.3). It shares nothing
// with the stores but the contract's own Batch.Check and Write.Key.
//
// # What a store must do to pass
//
//   - newStore returns a new, empty store each time; the test owns it,
//     so newStore should close it with t.Cleanup (closing twice is
//     allowed). The suite closes some stores itself.
//   - Snapshot may return memberships in any order, but grants in
//     document order, and each record's Added and Index as the model's.
//   - A store that keeps policy versions returns from Publish and
//     Rollback the Time that CurrentPolicy and PolicyHistory later
//     return (truncated first to what it keeps), within a minute of the
//     call.
package storetest

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"

	gocmp "github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/warden-authz/warden/store"
)

// Run checks that the stores newStore makes behave as store.Store and,
// when they implement them, store.Notifier and store.Policies promise.
func Run(t *testing.T, newStore func(t *testing.T) store.Store) {
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			c.run(t, newStore)
		})
	}
}

var cases = []struct {
	name string
	run  func(t *testing.T, newStore func(*testing.T) store.Store)
}{
	{"revisions", single(testRevisions)},
	{"revisions-concurrent", single(testRevisionsConcurrent)},
	{"atomicity", single(testAtomicity)},
	{"max-batch", single(testMaxBatch)},
	{"names", single(testNames)},
	{"if-revision", single(testIfRevision)},
	{"if-revision-concurrent", single(testIfRevisionConcurrent)},
	{"semantics", single(testSemantics)},
	{"changes", single(testChanges)},
	{"list", single(testList)},
	{"read-your-writes", single(testReadYourWrites)},
	{"snapshot-concurrent", single(testSnapshotConcurrent)},
	{"does-not-keep", single(testDoesNotKeep)},
	{"context", single(testContext)},
	{"notifier", single(testNotifier)},
	{"policy-publish", policyCheck(testPolicyPublish)},
	{"policy-history", policyCheck(testPolicyHistory)},
	{"policy-rollback", policyCheck(testPolicyRollback)},
	{"policy-hostile", policyCheck(testPolicyHostile)},
	{"policy-wait", policyCheck(testPolicyWait)},
	{"policy-visible", policyCheck(testPolicyVisible)},
	{"policy-concurrent", policyCheck(testPolicyConcurrent)},
	{"closed", single(testClosed)},
	{"zero-value", single(testZeroValue)},
	{"property", testProperty},
}

// st is the store under test, with the reference it must agree with.
type st struct {
	store.Store
	m *model
}

func wrap(t *testing.T, s store.Store) *st {
	t.Helper()
	if s == nil {
		t.Fatal("newStore returned nil")
	}
	return &st{Store: s, m: newModel()}
}

// single runs a check on one new store.
func single(check func(*testing.T, *st)) func(*testing.T, func(*testing.T) store.Store) {
	return func(t *testing.T, newStore func(*testing.T) store.Store) { check(t, wrap(t, newStore(t))) }
}

// write writes b to the store and the model, and checks that both agree
// on the outcome.
func (s *st) write(t testing.TB, b store.Batch) (store.Revision, error) {
	t.Helper()
	want, werr := s.m.write(b)
	got, err := s.Write(context.Background(), b)
	switch {
	case werr == nil && err != nil:
		t.Fatalf("Write(%s) = %v; want revision %d", showBatch(b), err, want)
	case werr == nil && got != want:
		t.Fatalf("Write(%s) = revision %d, want %d: revisions are gapless, one per batch (store.Revision)", showBatch(b), got, want)
	case errors.Is(werr, store.ErrInvalid) && !errors.Is(err, store.ErrInvalid):
		t.Fatalf("Write(%s) = %d, %v; want an error wrapping store.ErrInvalid (%v)", showBatch(b), got, err, werr)
	case errors.Is(werr, errConflict) && !errors.Is(err, store.ErrRevisionConflict):
		t.Fatalf("Write(%s) = %d, %v; want an error wrapping store.ErrRevisionConflict", showBatch(b), got, err)
	}
	return got, err
}

// mustWrite writes a batch that must commit.
func (s *st) mustWrite(t testing.TB, ws ...store.Write) store.Revision {
	t.Helper()
	r, err := s.write(t, batch(ws...))
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// snapshot reads a whole snapshot, checking that grants come in document
// order, and returns the records in (Added, Index) order.
func snapshot(t testing.TB, s store.Store) (store.Revision, []store.Record) {
	t.Helper()
	var recs []store.Record
	var lastGrant *store.Record
	rev, err := s.Snapshot(context.Background(), func(r store.Record) error {
		if (r.Membership == nil) == (r.Grant == nil) {
			return fmt.Errorf("record %d holds %s: want exactly one of membership and grant", len(recs), show(r))
		}
		if r.Grant != nil {
			if lastGrant != nil && byPosition(*lastGrant, r) >= 0 {
				return fmt.Errorf("grant %s came after %s: Snapshot returns grants in document order, (Added, Index)", show(r), show(*lastGrant))
			}
			lastGrant = &r
		}
		recs = append(recs, r)
		return nil
	})
	if err != nil {
		t.Fatalf("Snapshot: %v", err)
	}
	slices.SortFunc(recs, byPosition)
	return rev, recs
}

// expect checks that the store holds what the model holds: revision,
// snapshot, the whole changelog and the whole listing.
func (s *st) expect(t testing.TB, why string) {
	t.Helper()
	ctx := context.Background()
	if rev, err := s.Revision(ctx); err != nil || rev != s.m.rev {
		t.Fatalf("Revision() = %d, %v; want %d\n%s", rev, err, s.m.rev, why)
	}
	rev, recs := snapshot(t, s)
	if rev != s.m.rev {
		t.Fatalf("Snapshot at revision %d, want %d\n%s", rev, s.m.rev, why)
	}
	if d := diffRecords(s.m.records(), recs); d != "" {
		t.Fatalf("Snapshot: %s\n%s", d, why)
	}
	if d := diffChanges(s.m.changes, allChanges(t, s, 0, store.MaxLimit)); d != "" {
		t.Fatalf("Changes(0): %s\n%s", d, why)
	}
	if d := diffRecords(s.m.records(), listAll(t, s, store.Filter{Limit: store.MaxLimit})); d != "" {
		t.Fatalf("List: %s\n%s", d, why)
	}
}

// allChanges pages through Changes from after to the latest revision,
// checking each page's shape.
func allChanges(t testing.TB, s store.Store, after store.Revision, limit int) []store.Change {
	t.Helper()
	var out []store.Change
	for range 1 << 20 {
		page, through, err := s.Changes(context.Background(), after, limit)
		if err != nil {
			t.Fatalf("Changes(%d, %d): %v", after, limit, err)
		}
		if err := checkPage(page, after, through, limit); err != nil {
			t.Fatalf("Changes(%d, %d): %v", after, limit, err)
		}
		out = append(out, page...)
		if through == after {
			return out
		}
		after = through
	}
	t.Fatalf("Changes from %d with limit %d did not reach an end", after, limit)
	return nil
}

// checkPage checks one page of Changes: in order, after after and up to
// through, whole revisions, and no larger than the limit unless it is
// one revision.
func checkPage(page []store.Change, after, through store.Revision, limit int) error {
	if limit == 0 {
		limit = store.DefaultLimit
	}
	if through < after {
		return fmt.Errorf("through %d is before after %d", through, after)
	}
	for i, c := range page {
		if c.Revision <= after || c.Revision > through {
			return fmt.Errorf("change %d has revision %d, outside (%d, %d]: a page holds the changes after after, up to through", i, c.Revision, after, through)
		}
		if i > 0 && (c.Revision < page[i-1].Revision || (c.Revision == page[i-1].Revision && c.Index <= page[i-1].Index)) {
			return fmt.Errorf("change %d (%d.%d) is not after change %d (%d.%d): changes come in (Revision, Index) order", i, c.Revision, c.Index, i-1, page[i-1].Revision, page[i-1].Index)
		}
	}
	if len(page) > limit && page[0].Revision != page[len(page)-1].Revision {
		return fmt.Errorf("%d changes over the limit %d, from revisions %d to %d: only one revision alone may exceed the limit", len(page), limit, page[0].Revision, page[len(page)-1].Revision)
	}
	return nil
}

// listAll pages through List with f and returns every record.
func listAll(t testing.TB, s store.Store, f store.Filter) []store.Record {
	t.Helper()
	var out []store.Record
	for range 1 << 20 {
		page, next, err := s.List(context.Background(), f)
		if err != nil {
			t.Fatalf("List(%s): %v", showFilter(f), err)
		}
		limit := f.Limit
		if limit == 0 {
			limit = store.DefaultLimit
		}
		if len(page) > limit {
			t.Fatalf("List(%s) returned %d records, over the limit", showFilter(f), len(page))
		}
		out = append(out, page...)
		if next == "" {
			return out
		}
		if len(page) == 0 {
			t.Fatalf("List(%s) returned an empty page with next %q: next is \"\" when nothing follows", showFilter(f), next)
		}
		f.After = next
	}
	t.Fatalf("List(%s) did not end", showFilter(f))
	return nil
}

// diffRecords and diffChanges compare lists as the suite does
// everywhere: nil and empty are equal. They compare field by field first,
// and show go-cmp's diff of the first few differing elements only, since
// the lists run to store.MaxBatch elements.
func diffRecords(want, got []store.Record) string {
	return diff(want, got, func(a, b store.Record) bool {
		return eqMembership(a.Membership, b.Membership) && eqGrant(a.Grant, b.Grant) && a.Added == b.Added && a.Index == b.Index
	}, "records")
}

func diffChanges(want, got []store.Change) string {
	return diff(want, got, func(a, b store.Change) bool {
		return eqMembership(a.Membership, b.Membership) && eqGrant(a.Grant, b.Grant) && a.Revision == b.Revision && a.Index == b.Index && a.Op == b.Op
	}, "changes")
}

func diff[E any](want, got []E, eq func(a, b E) bool, what string) string {
	first := -1
	for i := range max(len(want), len(got)) {
		if i >= len(want) || i >= len(got) || !eq(want[i], got[i]) {
			first = i
			break
		}
	}
	if first < 0 {
		return ""
	}
	from, to := max(0, first-2), first+5
	window := func(s []E) []E { return s[min(from, len(s)):min(to, len(s))] }
	return fmt.Sprintf("%s differ from index %d (want %d, got %d); from index %d (-want +got):\n%s",
		what, first, len(want), len(got), from, gocmp.Diff(window(want), window(got), cmpopts.EquateEmpty()))
}

func eqMembership(a, b *store.Membership) bool {
	return (a == nil && b == nil) || (a != nil && b != nil && *a == *b)
}
func eqGrant(a, b *store.Grant) bool {
	return (a == nil && b == nil) || (a != nil && b != nil && *a == *b)
}

func showBatch(b store.Batch) string {
	var sb strings.Builder
	if b.IfRevision != nil {
		fmt.Fprintf(&sb, "if_revision %d ", *b.IfRevision)
	}
	fmt.Fprintf(&sb, "%d writes", len(b.Writes))
	for i, w := range b.Writes {
		if i == 3 {
			sb.WriteString(", …")
			break
		}
		fmt.Fprintf(&sb, ", %v %s", w.Op, pShort(showRec(w.Membership, w.Grant)))
	}
	return sb.String()
}

func showFilter(f store.Filter) string {
	return fmt.Sprintf("%+v", f)
}

func pShort(s string) string {
	if len(s) > 120 {
		return s[:120] + "…"
	}
	return s
}
