package storetest

import (
	"context"
	"fmt"
	"reflect"
	"slices"
	"testing"
	"time"

	"pgregory.net/rapid"

	"github.com/warden-authz/warden/store"
	"github.com/warden-authz/warden/types"
)

// testProperty writes random batches to a new store per run and holds
// every answer to the model's after each one. Names come from small sets,
// so adds meet existing records, removes meet absent ones, and one batch
// often touches a record twice.
func testProperty(t *testing.T, newStore func(*testing.T) store.Store) {
	var (
		members   = rapid.SampledFrom([]string{"alice", "bob", "zoë", "doc:1"})
		resources = rapid.SampledFrom([]string{"doc:1", "doc:2", "folder:1"})
		groups    = rapid.SampledFrom([]string{"team:a", "team:b", "folder:1"})
		rules     = rapid.SampledFrom([]string{"rules.shares", "rules.admin"})
		subjects  = rapid.SampledFrom([]string{"alice", "bob", "team:a"})
		actions   = rapid.SampledFrom([]string{"read", "edit"})
		effects   = rapid.SampledFrom([]types.Effect{types.EffectAllow, types.EffectDeny})
		ops       = rapid.SampledFrom([]store.Op{store.OpAdd, store.OpAdd, store.OpRemove})
		bad       = rapid.SampledFrom(hostileWrites())
	)
	write := rapid.Custom(func(rt *rapid.T) store.Write {
		op := ops.Draw(rt, "op")
		switch rapid.IntRange(0, 2).Draw(rt, "kind") {
		case 0:
			return store.Write{Op: op, Membership: &store.Membership{Member: members.Draw(rt, "member"), Group: groups.Draw(rt, "group")}}
		case 1:
			return store.Write{Op: op, Membership: &store.Membership{Resource: resources.Draw(rt, "resource"), Group: groups.Draw(rt, "group")}}
		}
		return grant(op, rules.Draw(rt, "rule"), effects.Draw(rt, "effect"), subjects.Draw(rt, "subject"), resources.Draw(rt, "resource"), actions.Draw(rt, "action"))
	})
	filter := rapid.Custom(func(rt *rapid.T) store.Filter {
		var f store.Filter
		pick := func(name string, gen *rapid.Generator[string]) string {
			if rapid.IntRange(0, 3).Draw(rt, name+"?") == 0 {
				return gen.Draw(rt, name)
			}
			return ""
		}
		f.Member, f.Group, f.Resource = pick("member", members), pick("group", groups), pick("resource", resources)
		f.Rule, f.Subject = pick("rule", rules), pick("subject", subjects)
		f.Kind = store.Kind(rapid.IntRange(0, 2).Draw(rt, "kind"))
		f.Limit = rapid.SampledFrom([]int{0, 1, 2, 5, store.MaxLimit}).Draw(rt, "limit")
		return f
	})

	rapid.Check(t, func(rt *rapid.T) {
		s := wrap(t, newStore(t))
		defer s.Close()
		ctx := context.Background()
		maxSteps := 15
		if raceEnabled {
			maxSteps = 6 // the concurrency checks are the ones for -race
		}
		steps := rapid.IntRange(1, maxSteps).Draw(rt, "steps")
		for step := range steps {
			ws := rapid.SliceOfN(write, 0, 8).Draw(rt, "writes")
			b := store.Batch{Writes: ws}
			switch rapid.IntRange(0, 9).Draw(rt, "variant") {
			case 0: // a conditional write at the right revision
				r := s.m.rev
				b.IfRevision = &r
			case 1: // at a wrong one
				r := s.m.rev + 1 - 2*store.Revision(rapid.IntRange(0, 1).Draw(rt, "before"))
				if s.m.rev == 0 {
					r = 1
				}
				b.IfRevision = &r
			case 2: // one bad write somewhere
				at := rapid.IntRange(0, len(ws)).Draw(rt, "bad at")
				b.Writes = append(ws[:at:at], append([]store.Write{bad.Draw(rt, "bad").w}, ws[at:]...)...)
			}
			before := s.m.rev
			want, werr := s.m.write(b)
			got, err := s.Write(ctx, b)
			if (werr == nil) != (err == nil) || got != want {
				rt.Fatalf("step %d: Write(%s) = %d, %v; the model says %d, %v", step, showBatch(b), got, err, want, werr)
			}
			page, through, err := s.Changes(ctx, before, store.MaxLimit)
			if err != nil || through != s.m.rev {
				rt.Fatalf("step %d: Changes(%d) = through %d, %v; want %d", step, before, through, err, s.m.rev)
			}
			if d := diffChanges(s.m.changesAfter(before), page); d != "" {
				rt.Fatalf("step %d: Changes(%d) after %s\n%s", step, before, showBatch(b), d)
			}
			rev, recs := snapshotR(rt, s)
			if rev != s.m.rev {
				rt.Fatalf("step %d: Snapshot at %d, want %d", step, rev, s.m.rev)
			}
			if d := diffRecords(s.m.records(), recs); d != "" {
				rt.Fatalf("step %d: Snapshot after %s: %s", step, showBatch(b), d)
			}
			if rapid.IntRange(0, 2).Draw(rt, "list?") == 0 {
				f := filter.Draw(rt, "filter")
				var got []store.Record
				for range 1000 {
					p, next, err := s.List(ctx, f)
					if err != nil {
						rt.Fatalf("step %d: List(%s): %v", step, showFilter(f), err)
					}
					got = append(got, p...)
					if next == "" {
						break
					}
					f.After = next
				}
				f.After = ""
				if d := diffRecords(s.m.list(f), got); d != "" {
					rt.Fatalf("step %d: List(%s): %s", step, showFilter(f), d)
				}
			}
		}
	})
}

// snapshotR is snapshot for a rapid.T.
func snapshotR(rt *rapid.T, s store.Store) (store.Revision, []store.Record) {
	var recs []store.Record
	rev, err := s.Snapshot(context.Background(), func(r store.Record) error { recs = append(recs, r); return nil })
	if err != nil {
		rt.Fatalf("Snapshot: %v", err)
	}
	var last *store.Record
	for i := range recs {
		if recs[i].Grant == nil {
			continue
		}
		if last != nil && byPosition(*last, recs[i]) >= 0 {
			rt.Fatalf("Snapshot returned grant %s after %s: grants come in document order", show(recs[i]), show(*last))
		}
		last = &recs[i]
	}
	slices.SortFunc(recs, byPosition)
	return rev, recs
}

// testZeroValue checks the zero value and a nil pointer of the store's
// type, when it is a pointer to a struct: each is a closed store.
func testZeroValue(t *testing.T, s *st) {
	typ := reflect.TypeOf(s.Store)
	if typ.Kind() != reflect.Pointer || typ.Elem().Kind() != reflect.Struct {
		t.Skipf("%T is not a pointer to a struct: it has no zero value to check", s.Store)
	}
	zero, ok := reflect.New(typ.Elem()).Interface().(store.Store)
	if !ok {
		t.Skipf("a new zero %s is not a store.Store", typ.Elem())
	}
	checkClosed(t, zero, fmt.Sprintf("on a zero %s", typ.Elem()))
	checkClosed(t, reflect.Zero(typ).Interface().(store.Store), fmt.Sprintf("on a nil %s", typ))
}

func timeMillis(n int) time.Duration   { return time.Duration(n) * time.Millisecond }
func timeAfter(n int) <-chan time.Time { return time.After(timeMillis(n)) }
