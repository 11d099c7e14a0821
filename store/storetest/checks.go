package storetest

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/warden-authz/warden/store"
	"github.com/warden-authz/warden/types"
)

func testRevisions(t *testing.T, s *st) {
	s.expect(t, "a new store is empty, at revision 0")
	steps := []struct {
		b    store.Batch
		what string
	}{
		{batch(addMember("alice", "team")), "an add"},
		{batch(), "an empty batch"},
		{batch(removeMember("bob", "team")), "removing what is absent"},
		{batch(addMember("alice", "team")), "adding what exists"},
		{batch(addGrant("bob", "doc:1", "read"), addResource("doc:1", "folder:1")), "two adds"},
		{batch(removeMember("alice", "team"), removeMember("alice", "team")), "a remove and its repeat"},
		{batch(addMember("carol", "team"), removeMember("carol", "team")), "an add undone in its batch"},
	}
	for i, step := range steps {
		r, err := s.write(t, step.b)
		if err != nil {
			t.Fatalf("step %d (%s): %v", i, step.what, err)
		}
		if r != store.Revision(i+1) {
			t.Fatalf("step %d (%s) got revision %d, want %d", i, step.what, r, i+1)
		}
		s.expect(t, fmt.Sprintf("after step %d (%s): every batch commits with the next revision (SPEC 10.4)", i, step.what))
	}
}

func testRevisionsConcurrent(t *testing.T, s *st) {
	const writers, perWriter = 8, 15
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var mu sync.Mutex
	batches := map[store.Revision]store.Batch{}
	var errs errList
	var writing, reading sync.WaitGroup
	for w := range writers {
		writing.Go(func() {
			for i := range perWriter {
				n := w*perWriter + i
				// 0 to 3 writes, the last of each writer's batches a
				// no-op, so empty and unchanged revisions interleave.
				ws := manyWrites(n*4, n%4)
				if i%5 == 4 {
					ws = append(ws, removeMember("nobody", "team"))
				}
				b := batch(ws...)
				r, err := s.Write(ctx, b)
				if err != nil {
					errs.add(fmt.Errorf("writer %d: Write: %w", w, err))
					return
				}
				mu.Lock()
				if _, dup := batches[r]; dup {
					errs.add(fmt.Errorf("revision %d was given to two batches", r))
				}
				batches[r] = b
				mu.Unlock()
			}
		})
	}
	for range 2 {
		reading.Go(func() {
			var last store.Revision
			for ctx.Err() == nil {
				r, err := s.Revision(ctx)
				if err != nil {
					if ctx.Err() == nil {
						errs.add(fmt.Errorf("Revision during writes: %w", err))
					}
					return
				}
				if r < last {
					errs.add(fmt.Errorf("Revision went back from %d to %d", last, r))
					return
				}
				last = r
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
	const total = writers * perWriter
	for r := store.Revision(1); r <= total; r++ {
		b, ok := batches[r]
		if !ok {
			t.Fatalf("no batch got revision %d: revisions must be gapless (store.Revision)", r)
		}
		if _, err := s.m.write(b); err != nil {
			t.Fatal(err)
		}
	}
	s.expect(t, "batches written concurrently commit one after another, each with the next revision, and each revision's changes are its batch's")
}

func testAtomicity(t *testing.T, s *st) {
	s.mustWrite(t, addMember("alice", "team"), addGrant("alice", "doc:1", "read"))
	s.mustWrite(t, addResource("doc:1", "folder:1"))
	const why = "a batch with a bad write is refused whole: nothing is written, the revision does not move (SPEC 10.3)"
	for _, h := range hostileWrites() {
		t.Run(h.name, func(t *testing.T) {
			for _, at := range []int{0, 1, 2} {
				ws := []store.Write{addMember("dave", "team"), removeMember("alice", "team"), addGrant("dave", "doc:2", "edit")}
				ws[at] = h.w
				_, err := s.write(t, batch(ws...))
				if err == nil {
					t.Fatalf("a batch with %s at index %d was accepted", h.name, at)
				}
				if want := fmt.Sprintf("writes[%d]", at); !strings.Contains(err.Error(), want) {
					t.Errorf("error %q does not name the bad write (%s)", err, want)
				}
			}
			s.expect(t, why)
		})
	}
	for _, n := range []int{store.MaxBatch + 1, 100000} {
		t.Run(fmt.Sprintf("%d-writes", n), func(t *testing.T) {
			if _, err := s.write(t, batch(manyWrites(0, n)...)); err == nil {
				t.Fatalf("a batch of %d writes was accepted, over store.MaxBatch", n)
			}
			s.expect(t, why)
		})
	}
	t.Run("last-of-max-batch", func(t *testing.T) {
		ws := manyWrites(0, store.MaxBatch)
		ws[store.MaxBatch-1] = addMember("*", "team")
		_, err := s.write(t, batch(ws...))
		if want := fmt.Sprintf("writes[%d]", store.MaxBatch-1); err == nil || !strings.Contains(err.Error(), want) {
			t.Fatalf("error %v does not name %s", err, want)
		}
		s.expect(t, why)
	})
}

func testMaxBatch(t *testing.T, s *st) {
	if raceEnabled {
		t.Skip("one goroutine writing 10,000 records: nothing for the race detector, and slow under it; runs without -race")
	}
	s.mustWrite(t, addMember("alice", "team"))
	r := s.mustWrite(t, manyWrites(0, store.MaxBatch)...)
	s.mustWrite(t, addMember("bob", "team"))
	page, through, err := s.Changes(context.Background(), r-1, 100)
	if err != nil {
		t.Fatal(err)
	}
	if through != r || len(page) != store.MaxBatch {
		t.Fatalf("Changes(%d, 100) = %d changes through %d; want revision %d whole, %d changes: a page never splits a revision", r-1, len(page), through, r, store.MaxBatch)
	}
	if d := diffChanges(s.m.changesOf(r), page); d != "" {
		t.Fatalf("the big revision's changes\n%s", d)
	}
	s.expect(t, "a batch of store.MaxBatch writes commits as one revision")
}

func testNames(t *testing.T, s *st) {
	for _, n := range goodNames {
		s.mustWrite(t,
			addMember(n.s, n.s), addResource(n.s, n.s),
			grant(store.OpAdd, n.s, types.EffectDeny, n.s, n.s, n.s))
	}
	s.expect(t, "every valid name (SPEC 1.1) is stored and returned byte for byte")
	for _, n := range goodNames {
		f := store.Filter{Member: n.s}
		if d := diffRecords(s.m.list(f), listAll(t, s, f)); d != "" {
			t.Errorf("List by member %s: %s", n.name, d)
		}
		f = store.Filter{Resource: n.s, Rule: n.s}
		if d := diffRecords(s.m.list(f), listAll(t, s, f)); d != "" {
			t.Errorf("List by resource and rule %s: %s", n.name, d)
		}
	}
	for _, n := range goodNames {
		s.mustWrite(t, removeMember(n.s, n.s), removeResource(n.s, n.s), grant(store.OpRemove, n.s, types.EffectDeny, n.s, n.s, n.s))
	}
	s.expect(t, "records with any valid name can be removed")
}

func testIfRevision(t *testing.T, s *st) {
	const why = "IfRevision commits only at exactly that revision; otherwise nothing changes (SPEC 10.3)"
	steps := []struct {
		b        store.Batch
		conflict bool
	}{
		{ifRevision(1, addMember("alice", "team")), true},
		{ifRevision(0, addMember("alice", "team")), false},
		{ifRevision(0, addMember("bob", "team")), true},
		{ifRevision(1, removeMember("alice", "team")), false},
		{ifRevision(1, addMember("carol", "team")), true},
		{ifRevision(3, addMember("carol", "team")), true},
		{ifRevision(1<<64-1, addMember("carol", "team")), true},
		{ifRevision(2), false},
		{ifRevision(3, removeMember("nobody", "team")), false},
	}
	for i, step := range steps {
		_, err := s.write(t, step.b)
		if step.conflict != (err != nil) {
			t.Fatalf("step %d (%s): %v; want conflict %v", i, showBatch(step.b), err, step.conflict)
		}
		s.expect(t, fmt.Sprintf("step %d: %s", i, why))
	}
}

func testIfRevisionConcurrent(t *testing.T, s *st) {
	const writers, wins = 6, 5
	ctx := context.Background()
	var mu sync.Mutex
	winners := map[store.Revision]store.Batch{}
	conflicts := 0
	var errs errList
	var wg sync.WaitGroup
	for w := range writers {
		wg.Go(func() {
			for won, try := 0, 0; won < wins; try++ {
				if try > 10000 {
					errs.add(fmt.Errorf("writer %d won %d times in %d tries", w, won, try))
					return
				}
				r, err := s.Revision(ctx)
				if err != nil {
					errs.add(err)
					return
				}
				b := ifRevision(r, addMember(fmt.Sprintf("user%d", w), fmt.Sprintf("team%d", won)))
				got, err := s.Write(ctx, b)
				if errors.Is(err, store.ErrRevisionConflict) {
					mu.Lock()
					conflicts++
					mu.Unlock()
					continue
				}
				if err != nil {
					errs.add(fmt.Errorf("writer %d: %w", w, err))
					return
				}
				if got != r+1 {
					errs.add(fmt.Errorf("Write(if_revision %d) committed as revision %d", r, got))
					return
				}
				mu.Lock()
				if _, dup := winners[got]; dup {
					errs.add(fmt.Errorf("two conditional writes at revision %d both won", r))
				}
				winners[got] = b
				mu.Unlock()
				won++
			}
		})
	}
	wg.Wait()
	errs.report(t)
	if t.Failed() {
		return
	}
	t.Logf("%d conflicts for %d wins", conflicts, writers*wins)
	for r := store.Revision(1); r <= writers*wins; r++ {
		if _, err := s.m.write(winners[r]); err != nil {
			t.Fatalf("revision %d: %v", r, err)
		}
	}
	s.expect(t, "exactly one conditional write wins each revision, and only the winners are stored")
}

func testSemantics(t *testing.T, s *st) {
	ctx := context.Background()
	alice := addMember("alice", "team")
	r1 := s.mustWrite(t, alice, addGrant("bob", "doc:1", "read"), addGrant("carol", "doc:1", "read"))
	check := func(r store.Revision, want int, why string) {
		t.Helper()
		page, _, err := s.Changes(ctx, r-1, store.MaxLimit)
		if err != nil {
			t.Fatal(err)
		}
		var mine []store.Change
		for _, c := range page {
			if c.Revision == r {
				mine = append(mine, c)
			}
		}
		if len(mine) != want {
			t.Errorf("revision %d has %d changes, want %d: %s", r, len(mine), want, why)
		}
		s.expect(t, why)
	}
	check(r1, 3, "three adds are three changes")
	check(s.mustWrite(t, alice), 0, "adding what exists commits but is not a change (SPEC 10.3)")
	check(s.mustWrite(t, removeMember("zed", "team")), 0, "removing what is absent commits but is not a change (SPEC 10.3)")
	check(s.mustWrite(t, alice, alice, removeMember("alice", "team"), alice), 2, "in a batch, writes apply in order: add (exists), add, remove, add")
	// The re-added membership has the position of its last add.
	check(s.mustWrite(t, removeGrant("bob", "doc:1", "read")), 1, "a remove is a change")
	r := s.mustWrite(t, addGrant("bob", "doc:1", "read"))
	check(r, 1, "a grant added again after its removal")
	recs := listAll(t, s, store.Filter{Kind: store.Grants})
	if len(recs) != 2 || recs[1].Grant.Subject != "bob" || recs[1].Added != r {
		t.Fatalf("grants are %v; want bob's, added again, after carol's: a grant added again goes to the end of document order (SPEC 10.2)", recs)
	}
	check(s.mustWrite(t, removeGrant("carol", "doc:1", "read"), addGrant("carol", "doc:1", "read")), 2, "remove then add in one batch")
	check(s.mustWrite(t,
		grant(store.OpAdd, "rules.shares", types.EffectDeny, "bob", "doc:1", "read"),
		grant(store.OpAdd, "rules.other", types.EffectAllow, "bob", "doc:1", "read"),
	), 2, "the same grant under another effect, or in another block, is another record")
	check(s.mustWrite(t, addMember("doc:1", "folder"), addResource("doc:1", "folder")), 2, "a member and a resource of the same name are two records")
	check(s.mustWrite(t, removeResource("doc:1", "folder"), addResource("doc:1", "folder"), removeResource("doc:1", "folder")), 3, "remove, add and remove in turn")
}

func testChanges(t *testing.T, s *st) {
	ctx := context.Background()
	// Revisions of every size: empty, unchanged, one change, many, more
	// than the smaller limits.
	sizes := []int{1, 0, 3, 7, 2, -1, 12, 1, 5, 0, 30, 1}
	n := 0
	for _, size := range sizes {
		switch size {
		case -1:
			s.mustWrite(t, removeMember("nobody", "team"), addMember("alice", "team"))
		default:
			s.mustWrite(t, manyWrites(n, size)...)
			n += size
		}
	}
	s.mustWrite(t, removeMember("alice", "team"))
	latest := s.m.rev
	for _, limit := range []int{1, 2, 3, 5, 7, 10, 31, 0, store.MaxLimit} {
		for _, after := range []store.Revision{0, 1, 3, 6, latest - 1} {
			t.Run(fmt.Sprintf("after-%d-limit-%d", after, limit), func(t *testing.T) {
				got := allChanges(t, s, after, limit)
				if d := diffChanges(s.m.changesAfter(after), got); d != "" {
					t.Fatalf("the pages together\n%s\npaging must visit every change once, in order", d)
				}
			})
		}
	}
	t.Run("page-reaches", func(t *testing.T) {
		// Each page holds every change up to its through.
		for after := store.Revision(0); after <= latest; after++ {
			page, through, err := s.Changes(ctx, after, 4)
			if err != nil {
				t.Fatal(err)
			}
			var want []store.Change
			for r := after + 1; r <= through; r++ {
				want = append(want, s.m.changesOf(r)...)
			}
			if d := diffChanges(want, page); d != "" {
				t.Fatalf("Changes(%d, 4) through %d\n%s", after, through, d)
			}
			if through < latest && len(page)+len(s.m.changesOf(through+1)) <= 4 {
				t.Errorf("Changes(%d, 4) stopped at %d, but revision %d fits in the page", after, through, through+1)
			}
		}
	})
	t.Run("at-latest", func(t *testing.T) {
		page, through, err := s.Changes(ctx, latest, 0)
		if err != nil || len(page) != 0 || through != latest {
			t.Fatalf("Changes(latest %d) = %d changes, %d, %v; want none, %d", latest, len(page), through, err, latest)
		}
	})
	for _, after := range []store.Revision{latest + 1, latest + 1000, 1<<64 - 1} {
		t.Run(fmt.Sprintf("unavailable-%d", after), func(t *testing.T) {
			if _, _, err := s.Changes(ctx, after, 0); !errors.Is(err, store.ErrRevisionUnavailable) {
				t.Fatalf("Changes(%d) past the latest revision %d: %v; want store.ErrRevisionUnavailable", after, latest, err)
			}
		})
	}
	for _, limit := range []int{-1, store.MaxLimit + 1, -1 << 62} {
		t.Run(fmt.Sprintf("limit-%d", limit), func(t *testing.T) {
			if _, _, err := s.Changes(ctx, 0, limit); !errors.Is(err, store.ErrInvalid) {
				t.Fatalf("Changes(0, %d): %v; want store.ErrInvalid", limit, err)
			}
		})
	}
}

func testList(t *testing.T, s *st) {
	ctx := context.Background()
	users := []string{"alice", "bob", "carol", "dave", "zoë"}
	groups := []string{"team:a", "team:b", "editors"}
	docs := []string{"doc:1", "doc:2", "folder:1", "alice"}
	var ws []store.Write
	for i, u := range users {
		for j, g := range groups {
			if (i+j)%2 == 0 {
				ws = append(ws, addMember(u, g))
			}
		}
	}
	for i, d := range docs {
		ws = append(ws, addResource(d, groups[i%3]), addResource(d, "folder:root"))
	}
	s.mustWrite(t, ws...)
	ws = ws[:0]
	for i, u := range users {
		for j, d := range docs {
			if (i*j)%3 != 1 {
				ws = append(ws, grant(store.OpAdd, []string{"rules.shares", "rules.admin"}[j%2], []types.Effect{types.EffectAllow, types.EffectDeny}[i%2], u, d, "read"))
			}
		}
		ws = append(ws, addMember(u, "team:late"))
	}
	s.mustWrite(t, ws...)
	// Removals and re-adds, so positions have gaps and move.
	s.mustWrite(t, removeMember("alice", "team:a"), removeResource("doc:2", "folder:root"), addMember("alice", "team:a"))
	s.mustWrite(t, grant(store.OpRemove, "rules.shares", types.EffectAllow, "alice", "doc:1", "read"), removeMember("carol", "team:late"))

	var filters []store.Filter
	for _, k := range []store.Kind{store.AnyKind, store.Memberships, store.Grants} {
		filters = append(filters, store.Filter{Kind: k})
		for _, v := range append(users, "nobody", "doc:1", "team:a") {
			filters = append(filters, store.Filter{Kind: k, Member: v}, store.Filter{Kind: k, Subject: v})
		}
		for _, v := range append(groups, "team:late", "folder:root", "alice", "nobody") {
			filters = append(filters, store.Filter{Kind: k, Group: v})
		}
		for _, v := range append(docs, "doc:3", "team:a") {
			filters = append(filters, store.Filter{Kind: k, Resource: v})
		}
		for _, v := range []string{"rules.shares", "rules.admin", "rules.none"} {
			filters = append(filters, store.Filter{Kind: k, Rule: v})
		}
	}
	filters = append(filters,
		store.Filter{Member: "alice", Group: "team:a"},
		store.Filter{Member: "alice", Group: "team:b"},
		store.Filter{Resource: "doc:1", Group: "folder:root"},
		store.Filter{Resource: "doc:1", Rule: "rules.shares"},
		store.Filter{Resource: "doc:1", Subject: "bob", Rule: "rules.admin"},
		store.Filter{Subject: "bob", Rule: "rules.shares"},
		store.Filter{Member: "alice", Rule: "rules.shares"},
		store.Filter{Member: "alice", Resource: "doc:1"},
		store.Filter{Group: "team:a", Subject: "alice"},
	)
	for _, f := range filters {
		want := s.m.list(f)
		for _, limit := range []int{store.MaxLimit, 1, 3, 0} {
			f.Limit = limit
			if d := diffRecords(want, listAll(t, s, f)); d != "" {
				t.Errorf("List(%s), page by page: %s\npages together hold every selected record once, in (Added, Index) order", showFilter(f), d)
			}
		}
	}

	all := s.m.records()
	t.Run("positions", func(t *testing.T) {
		// A cursor is a position: the records after it, whether or not a
		// record is there now.
		for _, pos := range []struct {
			added store.Revision
			index int
		}{{1, 0}, {1, 2}, {2, 0}, {2, 5}, {3, 0}, {3, 2}, {4, 0}, {4, 9999}, {5, 0}, {1000, 0}, {1<<64 - 1, 9999}} {
			var want []store.Record
			for _, r := range all {
				if r.Added > pos.added || (r.Added == pos.added && r.Index > pos.index) {
					want = append(want, r)
				}
			}
			got := listAll(t, s, store.Filter{After: store.Cursor(pos.added, pos.index), Limit: 4})
			if d := diffRecords(want, got); d != "" {
				t.Errorf("List after %d.%d: %s", pos.added, pos.index, d)
			}
		}
	})
	t.Run("last-page", func(t *testing.T) {
		page, next, err := s.List(ctx, store.Filter{Limit: len(all)})
		if err != nil || len(page) != len(all) || next != "" {
			t.Fatalf("List(limit = all %d) = %d records, next %q, %v; want all, next \"\": next is \"\" when nothing follows", len(all), len(page), next, err)
		}
		page, next, err = s.List(ctx, store.Filter{Limit: len(all) - 1})
		if err != nil || len(page) != len(all)-1 || next == "" {
			t.Fatalf("List(limit = all - 1) = %d records, next %q, %v; want a next page", len(page), next, err)
		}
	})
	invalid := []store.Filter{
		{Member: "*"}, {Member: "alice,bob"}, {Group: "team:*"}, {Resource: "doc:*"}, {Resource: "doc 1"},
		{Rule: "rules.*"}, {Subject: "a\x00"}, {Subject: "\xff"}, {Group: strings.Repeat("g", 1025)},
		{Kind: 3}, {Kind: 255}, {Limit: -1}, {Limit: store.MaxLimit + 1},
		{After: "x"}, {After: "0.0"}, {After: "1"}, {After: "1.-1"}, {After: " 1.0"}, {After: "01.0"}, {After: "1.10000"},
	}
	for _, f := range invalid {
		t.Run("invalid/"+showFilter(f), func(t *testing.T) {
			if _, _, err := s.List(ctx, f); !errors.Is(err, store.ErrInvalid) {
				t.Fatalf("List(%s): %v; want store.ErrInvalid", showFilter(f), err)
			}
		})
	}
}

func testReadYourWrites(t *testing.T, s *st) {
	ctx := context.Background()
	for i := range 25 {
		member, group := fmt.Sprintf("user%d", i), fmt.Sprintf("team%d", i%3)
		ws := []store.Write{addMember(member, group)}
		if i%4 == 3 {
			ws = append(ws, removeMember(fmt.Sprintf("user%d", i-1), fmt.Sprintf("team%d", (i-1)%3)))
		}
		r := s.mustWrite(t, ws...)
		if got, err := s.Revision(ctx); err != nil || got != r {
			t.Fatalf("Revision() right after Write returned %d = %d, %v", r, got, err)
		}
		page, through, err := s.Changes(ctx, r-1, 0)
		if err != nil || through != r || diffChanges(s.m.changesOf(r), page) != "" {
			t.Fatalf("Changes(%d) right after Write = %v, %d, %v; want revision %d's changes", r-1, page, through, err, r)
		}
		recs, _, err := s.List(ctx, store.Filter{Member: member})
		if err != nil || len(recs) != 1 || recs[0].Added != r {
			t.Fatalf("List(member %s) right after Write = %v, %v; want the record added at %d", member, recs, err, r)
		}
		if rev, snap := snapshot(t, s); rev != r || len(snap) != len(s.m.live) {
			t.Fatalf("Snapshot right after Write returned %d = revision %d, %d records; want %d records", r, rev, len(snap), len(s.m.live))
		}
	}
	s.expect(t, "a batch whose Write returned is seen by every later read (store.Store)")
}

func testSnapshotConcurrent(t *testing.T, s *st) {
	const writers, perWriter, readers = 4, 20, 2
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	type snap struct {
		rev  store.Revision
		recs []store.Record
	}
	var mu sync.Mutex
	batches := map[store.Revision]store.Batch{}
	var snaps []snap
	var errs errList
	var writing, reading sync.WaitGroup
	for w := range writers {
		writing.Go(func() {
			for i := range perWriter {
				n := w*perWriter + i
				ws := manyWrites(n*3, 3)
				if i > 0 {
					// Take back one of the previous batch's adds.
					prev := manyWrites((n-1)*3+i%3, 1)[0]
					prev.Op = store.OpRemove
					ws = append(ws, prev)
				}
				b := batch(ws...)
				r, err := s.Write(ctx, b)
				if err != nil {
					errs.add(err)
					return
				}
				mu.Lock()
				batches[r] = b
				mu.Unlock()
			}
		})
	}
	for range readers {
		reading.Go(func() {
			for ctx.Err() == nil {
				var recs []store.Record
				rev, err := s.Snapshot(ctx, func(r store.Record) error { recs = append(recs, r); return nil })
				if err != nil {
					if ctx.Err() == nil {
						errs.add(fmt.Errorf("Snapshot during writes: %w", err))
					}
					return
				}
				slices.SortFunc(recs, byPosition)
				mu.Lock()
				snaps = append(snaps, snap{rev, recs})
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
	states := []*model{s.m.clone()}
	for r := store.Revision(1); r <= writers*perWriter; r++ {
		if _, err := s.m.write(batches[r]); err != nil {
			t.Fatalf("revision %d: %v", r, err)
		}
		states = append(states, s.m.clone())
	}
	t.Logf("%d snapshots during the writes", len(snaps))
	for _, sn := range snaps {
		if sn.rev >= store.Revision(len(states)) {
			t.Fatalf("a snapshot reports revision %d, never written", sn.rev)
		}
		if d := diffRecords(states[sn.rev].records(), sn.recs); d != "" {
			t.Fatalf("the snapshot at revision %d: %s\na snapshot holds exactly the state of the revision it reports", sn.rev, d)
		}
	}
	s.expect(t, "after concurrent writes and snapshots")
}

func testDoesNotKeep(t *testing.T, s *st) {
	ctx := context.Background()
	b := batch(addMember("alice", "team"), addGrant("bob", "doc:1", "read"), addResource("doc:1", "folder"))
	if _, err := s.m.write(b); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Write(ctx, b); err != nil {
		t.Fatal(err)
	}
	b.Writes[0].Membership.Member = "mallory"
	b.Writes[1].Grant.Subject = "mallory"
	b.Writes[1].Grant.Effect = types.EffectDeny
	b.Writes[2] = addMember("mallory", "admins")
	s.expect(t, "a store must copy what it keeps: the caller may change the batch once Write returns (store.Store)")

	mutate := func(m *store.Membership, g *store.Grant) {
		if m != nil {
			m.Member, m.Resource, m.Group = "mallory", "", "admins"
		}
		if g != nil {
			g.Subject, g.Resource = "mallory", "doc:secret"
		}
	}
	if _, err := s.Snapshot(ctx, func(r store.Record) error { mutate(r.Membership, r.Grant); return nil }); err != nil {
		t.Fatal(err)
	}
	recs, _, err := s.List(ctx, store.Filter{})
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range recs {
		mutate(r.Membership, r.Grant)
	}
	changes, _, err := s.Changes(ctx, 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range changes {
		mutate(c.Membership, c.Grant)
	}
	s.expect(t, "records returned by Snapshot, List and Changes are the caller's to change (store.Store)")
}

func testContext(t *testing.T, s *st) {
	s.mustWrite(t, addMember("alice", "team"))
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if r, err := s.Write(ctx, batch(addMember("bob", "team"))); err == nil {
		t.Fatalf("Write with a cancelled context committed revision %d", r)
	}
	s.expect(t, "a Write whose context is done before it commits writes nothing")

	s.mustWrite(t, manyWrites(0, 30)...)
	stop := errors.New("stop here")
	calls := 0
	_, err := s.Snapshot(context.Background(), func(store.Record) error {
		calls++
		if calls == 3 {
			return stop
		}
		return nil
	})
	if !errors.Is(err, stop) || calls != 3 {
		t.Fatalf("Snapshot with a callback failing on its 3rd record: %v after %d calls; want that error, after 3 calls", err, calls)
	}
	s.expect(t, "after a stopped snapshot")
}

func testNotifier(t *testing.T, s *st) {
	n, ok := s.Store.(store.Notifier)
	if !ok {
		t.Skipf("%T does not implement store.Notifier", s.Store)
	}
	ctx := context.Background()
	r := s.mustWrite(t, addMember("alice", "team"))
	if got, err := returns(t, "Wait for a revision already past", func() (store.Revision, error) { return n.Wait(ctx, r-1) }); err != nil || got < r {
		t.Fatalf("Wait(%d) with the store at %d = %d, %v; want %d at once", r-1, r, got, err, r)
	}

	woke := make(chan error, 1)
	go func() {
		got, err := n.Wait(ctx, r)
		if err == nil && got <= r {
			err = fmt.Errorf("Wait(%d) returned %d, not past it", r, got)
		}
		woke <- err
	}()
	select {
	case err := <-woke:
		t.Fatalf("Wait(%d) returned before any commit past %d: %v", r, r, err)
	case <-timeAfter(50):
	}
	s.mustWrite(t, addMember("bob", "team"))
	select {
	case err := <-woke:
		if err != nil {
			t.Fatal(err)
		}
	case <-timeAfter(30000):
		t.Fatal("Wait did not wake within 30 s of a commit")
	}

	tctx, cancel := context.WithTimeout(ctx, timeMillis(50))
	defer cancel()
	if got, err := returns(t, "Wait with a context that expires", func() (store.Revision, error) { return n.Wait(tctx, r+1) }); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Wait with a context that expires = %d, %v; want context.DeadlineExceeded", got, err)
	}
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if got, err := returns(t, "Wait with a cancelled context", func() (store.Revision, error) { return n.Wait(cctx, r+1) }); !errors.Is(err, context.Canceled) {
		t.Fatalf("Wait with a cancelled context = %d, %v; want context.Canceled", got, err)
	}

	closed := make(chan error, 1)
	go func() { _, err := n.Wait(ctx, r+1); closed <- err }()
	select {
	case err := <-closed:
		t.Fatalf("Wait returned before Close: %v", err)
	case <-timeAfter(50):
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-closed:
		if !errors.Is(err, store.ErrClosed) {
			t.Fatalf("a Wait running when the store closed returned %v; want store.ErrClosed", err)
		}
	case <-timeAfter(30000):
		t.Fatal("a Wait running when the store closed did not return within 30 s")
	}
}

// returns runs a call that must return, and fails the test if it has
// not within 10 s, rather than hang the suite.
func returns(t *testing.T, what string, call func() (store.Revision, error)) (store.Revision, error) {
	t.Helper()
	type result struct {
		r   store.Revision
		err error
	}
	done := make(chan result, 1)
	go func() { r, err := call(); done <- result{r, err} }()
	select {
	case res := <-done:
		return res.r, res.err
	case <-timeAfter(10000):
		t.Fatalf("%s did not return within 10 s", what)
		return 0, nil
	}
}

func testClosed(t *testing.T, s *st) {
	s.mustWrite(t, addMember("alice", "team"))
	if err := s.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	checkClosed(t, s.Store, "after Close")
}

// checkClosed calls every method of a closed or zero store: each must
// return store.ErrClosed, none may panic, and Close returns nil.
func checkClosed(t *testing.T, s store.Store, what string) {
	t.Helper()
	ctx := context.Background()
	call := func(name string, fn func() error) {
		t.Helper()
		defer func() {
			if p := recover(); p != nil {
				t.Errorf("%s %s panicked: %v\na closed or zero store returns store.ErrClosed", name, what, p)
			}
		}()
		if err := fn(); !errors.Is(err, store.ErrClosed) {
			t.Errorf("%s %s = %v; want store.ErrClosed", name, what, err)
		}
	}
	call("Write", func() error { _, err := s.Write(ctx, batch(addMember("bob", "team"))); return err })
	call("Write(empty batch)", func() error { _, err := s.Write(ctx, batch()); return err })
	call("Snapshot", func() error {
		_, err := s.Snapshot(ctx, func(store.Record) error { return errors.New("Snapshot called back") })
		return err
	})
	call("Changes", func() error { _, _, err := s.Changes(ctx, 0, 0); return err })
	call("List", func() error { _, _, err := s.List(ctx, store.Filter{}); return err })
	call("Revision", func() error { _, err := s.Revision(ctx); return err })
	if n, ok := s.(store.Notifier); ok {
		call("Wait", func() error { _, err := n.Wait(ctx, 0); return err })
	}
	if p, ok := s.(store.Policies); ok {
		call("Publish", func() error {
			_, err := p.Publish(ctx, store.PolicyVersion{Version: "sha256:1234", Name: "policy.toml", Text: []byte("[rules]\n")})
			return err
		})
		call("CurrentPolicy", func() error { _, err := p.CurrentPolicy(ctx); return err })
		call("PolicyHistory", func() error { _, err := p.PolicyHistory(ctx, 0); return err })
		call("Rollback", func() error { _, err := p.Rollback(ctx, "sha256:1234"); return err })
		call("WaitPolicy", func() error { _, err := p.WaitPolicy(ctx, 0); return err })
	}
	for i := range 2 {
		func() {
			defer func() {
				if p := recover(); p != nil {
					t.Errorf("Close #%d %s panicked: %v", i+1, what, p)
				}
			}()
			if err := s.Close(); err != nil {
				t.Errorf("Close #%d %s = %v; want nil: Close may be called again", i+1, what, err)
			}
		}()
	}
}

// errList collects the errors of concurrent goroutines without ever
// blocking one, however many there are.
type errList struct {
	mu   sync.Mutex
	errs []error
	more int
}

func (l *errList) add(err error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.errs) < 20 {
		l.errs = append(l.errs, err)
	} else {
		l.more++
	}
}

// report fails t with the errors collected.
func (l *errList) report(t *testing.T) {
	t.Helper()
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, err := range l.errs {
		t.Error(err)
	}
	if l.more > 0 {
		t.Errorf("and %d more errors", l.more)
	}
}
