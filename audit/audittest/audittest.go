// Package audittest checks that an audit sink keeps the promises of
// audit.Sink, audit.BatchSink and audit.Querier, as testing/slogtest does
// for slog handlers. Any sink, in this module or outside it, can run it:
//
//	func TestConformance(t *testing.T) {
//		audittest.Run(t, func(t *testing.T) audit.Sink {
//			f, err := jsonl.Open(filepath.Join(t.TempDir(), "audit.jsonl"))
//			if err != nil {
//				t.Fatal(err)
//			}
//			t.Cleanup(func() { f.Close() })
//			return f
//		})
//	}
//
// # What is checked
//
// Each check is a subtest, and starts with a new sink; the query checks
// share one, written once:
//
//   - record: every field of an event comes back as it was recorded, the
//     store revision (Revision) included, and Record does not change the
//     event it is given.
//   - record-does-not-keep: changing an event, or its Fields map, after
//     Record returns changes nothing stored.
//   - record-concurrent: Record (and WriteBatch) from many goroutines at
//     once, with queries running alongside, loses nothing; the queries
//     see only whole events, in id order.
//   - batch, batch-does-not-keep: WriteBatch stores every event of a
//     batch, an empty batch stores nothing, and the batch may be changed
//     once it returns.
//   - hostile/NAME/record, hostile/NAME/batch: strings with quotes, backslashes, control characters,
//     line and paragraph separators, bidi overrides, SQL and JSON
//     fragments, and 1 MB values are stored unchanged or refused with an
//     error, never silently altered; a refused event is not stored, and
//     its neighbours are untouched. NUL and invalid UTF-8 must be stored
//     unchanged, in every string field (hostile/invalid-utf8-subject/...,
//     one field at a time) and in Fields: refusing them would lose the
//     event of exactly the request an attacker sends. A Revision above
//     math.MaxInt64 (hostile/revision-over-int64) is stored unchanged or
//     refused too.
//   - query/...: each filter, pattern, time bound, cursor and limit, alone
//     and together; paging with After visits every event once, in id
//     order; invalid queries are errors.
//
// Checks that need to read events back run only when the sink is also an
// audit.Querier, and the batch checks only when it is an audit.BatchSink;
// the others are skipped, saying why.
//
// # The reference
//
// Every Query answer is compared, event by event, with the answer of an
// audit.Memory fed the same events: Memory is the reference semantics of
// audit.Query. Ids are fixed UUIDv7s, in order, and times fixed, so a
// failure reproduces.
//
// # What a sink must do to pass
//
//   - newSink returns a new, empty sink each time; the test owns it, so
//     newSink should close it with t.Cleanup. Sinks it returned may be in
//     use at the same time: the hostile checks run in parallel
//     (t.Parallel), each on its own sink.
//   - An event whose Record or WriteBatch returned nil is returned by the
//     next Query: a sink that buffers must make its writes visible before
//     it acknowledges them.
//   - Times come back as the same instant, in UTC. The suite's times are
//     whole microseconds.
//   - Revision comes back unchanged, 0 as 0, up to math.MaxInt64 (every
//     store of warden's counts revisions in a signed 64-bit integer); a
//     larger one may be refused.
//   - Fields values come back as the same JSON values: a number may come
//     back as another Go type (int as float64 or json.Number) as long as
//     its JSON text is unchanged, so 2^53+1 must not become 2^53. A nil
//     and an empty Fields are equal, as their JSON forms are.
//   - Query returns events in id order and treats an unknown After cursor
//     as a position, not an error.
package audittest

import (
	"context"
	"fmt"
	"math"
	"sync"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/warden-authz/warden/audit"
)

// Run checks that the sinks made by newSink behave as audit.Sink promises,
// and, when they also implement audit.BatchSink or audit.Querier, as those
// promise.
func Run(t *testing.T, newSink func(t *testing.T) audit.Sink) {
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) { c.run(t, newSink) })
	}
}

var cases = []struct {
	name string
	run  func(t *testing.T, newSink func(*testing.T) audit.Sink)
}{
	{"record", single(testRecord)},
	{"record-does-not-keep", single(testRecordDoesNotKeep)},
	{"record-concurrent", single(testConcurrent)},
	{"batch", single(testBatch)},
	{"batch-does-not-keep", single(testBatchDoesNotKeep)},
	{"hostile", testHostile},
	{"query", testQuery},
}

// sink is the sink under test with its optional interfaces found once.
type sink struct {
	audit.Sink
	q audit.Querier   // nil when events cannot be read back
	b audit.BatchSink // nil when the sink cannot write batches
}

func wrap(t *testing.T, s audit.Sink) *sink {
	t.Helper()
	if s == nil {
		t.Fatal("newSink returned nil")
	}
	w := &sink{Sink: s}
	w.q, _ = s.(audit.Querier)
	w.b, _ = s.(audit.BatchSink)
	return w
}

// single runs a check on one new sink.
func single(check func(*testing.T, *sink)) func(*testing.T, func(*testing.T) audit.Sink) {
	return func(t *testing.T, newSink func(*testing.T) audit.Sink) { check(t, wrap(t, newSink(t))) }
}

func (s *sink) needQuerier(t *testing.T) {
	t.Helper()
	if s.q == nil {
		t.Skipf("%T does not implement audit.Querier: what it stored cannot be checked", s.Sink)
	}
}

func (s *sink) needBatch(t *testing.T) {
	t.Helper()
	if s.b == nil {
		t.Skipf("%T does not implement audit.BatchSink", s.Sink)
	}
}

// record records a copy of e and checks that Record left it unchanged.
func (s *sink) record(t *testing.T, e audit.Event) error {
	t.Helper()
	want := cloneEvent(e)
	err := s.Record(t.Context(), &e)
	if d := diffEvent(&want, &e); d != "" {
		t.Errorf("Record changed the event it was given: %s\na Sink must not change e (audit.Sink)", d)
	}
	return err
}

// mustRecord records events in order, failing on an error.
func (s *sink) mustRecord(t *testing.T, events ...audit.Event) {
	t.Helper()
	for _, e := range events {
		if err := s.record(t, e); err != nil {
			t.Fatalf("Record(event %s): %v", e.ID, err)
		}
	}
}

// writeBatch writes a copy of events and checks that WriteBatch left them
// unchanged.
func (s *sink) writeBatch(t *testing.T, events []audit.Event) error {
	t.Helper()
	batch := cloneEvents(events)
	err := s.b.WriteBatch(t.Context(), batch)
	if d := diffEvents(events, batch); d != "" {
		t.Errorf("WriteBatch changed the events it was given: %s\na BatchSink must not change them (audit.BatchSink)", d)
	}
	return err
}

// all returns every stored event, in id order.
func (s *sink) all(t *testing.T) []audit.Event {
	t.Helper()
	got, err := s.q.Query(t.Context(), audit.Query{Limit: audit.MaxLimit})
	if err != nil {
		t.Fatalf("Query(all): %v", err)
	}
	return got
}

// expect checks that the sink holds exactly want.
func (s *sink) expect(t *testing.T, want []audit.Event, why string) {
	t.Helper()
	if d := diffEvents(want, s.all(t)); d != "" {
		t.Errorf("stored events differ: %s\n%s", d, why)
	}
}

func testRecord(t *testing.T, s *sink) {
	events := []audit.Event{fullEvent(0), minimalEvent(1), errorEvent(2)}
	s.mustRecord(t, events...)
	s.needQuerier(t)
	s.expect(t, events, "every field of a recorded event must come back as it was recorded")
}

func testRecordDoesNotKeep(t *testing.T, s *sink) {
	e := fullEvent(0)
	want := cloneEvent(e)
	if err := s.Record(t.Context(), &e); err != nil {
		t.Fatal(err)
	}
	e.ID, e.Subject, e.Reason, e.Allowed, e.Revision = eventID(9), "mallory", "changed after Record", false, 1
	e.Time = e.Time.Add(1e9)
	e.Fields["request_id"] = "changed after Record"
	e.Fields["added"] = "after Record"
	delete(e.Fields, "attempt")
	s.needQuerier(t)
	s.expect(t, []audit.Event{want}, "a Sink must copy what it keeps: the caller may change the event and its Fields once Record returns (audit.Sink)")
}

func testBatch(t *testing.T, s *sink) {
	s.needBatch(t)
	var events []audit.Event
	for i := range 12 {
		events = append(events, []func(int) audit.Event{fullEvent, minimalEvent, errorEvent}[i%3](i))
	}
	for _, batch := range [][]audit.Event{events[:1], nil, {}, events[1:11]} {
		if err := s.writeBatch(t, batch); err != nil {
			t.Fatalf("WriteBatch(%d events): %v", len(batch), err)
		}
	}
	s.mustRecord(t, events[11])
	s.needQuerier(t)
	s.expect(t, events, "WriteBatch must store every event of a batch, and an empty batch nothing")
}

func testBatchDoesNotKeep(t *testing.T, s *sink) {
	s.needBatch(t)
	batch := []audit.Event{fullEvent(0), fullEvent(1), minimalEvent(2)}
	want := cloneEvents(batch)
	if err := s.b.WriteBatch(t.Context(), batch); err != nil {
		t.Fatal(err)
	}
	batch[0].Subject = "mallory"
	batch[1].Fields["request_id"] = "changed after WriteBatch"
	delete(batch[1].Fields, "client")
	batch[2] = fullEvent(7)
	s.needQuerier(t)
	s.expect(t, want, "a BatchSink must copy what it keeps: the caller may reuse the batch once WriteBatch returns (audit.BatchSink)")
}

// testConcurrent writes from several goroutines, by Record and, when the
// sink has it, WriteBatch, while others query.
func testConcurrent(t *testing.T, s *sink) {
	const writers, perWriter = 8, 25
	events := dataset(writers * perWriter)
	byID := make(map[string]*audit.Event, len(events))
	for i := range events {
		byID[events[i].ID] = &events[i]
	}
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	var errs = make(chan error, writers+2)
	var writing, reading sync.WaitGroup
	for w := range writers {
		writing.Go(func() {
			// Writer w takes every writers-th event, so ids interleave.
			var mine []audit.Event
			for i := w; i < len(events); i += writers {
				mine = append(mine, cloneEvent(events[i]))
			}
			if s.b != nil && w%2 == 1 {
				for len(mine) > 0 {
					n := min(5, len(mine))
					if err := s.b.WriteBatch(ctx, mine[:n]); err != nil {
						errs <- fmt.Errorf("WriteBatch: %w", err)
						return
					}
					mine = mine[n:]
				}
				return
			}
			for i := range mine {
				if err := s.Record(ctx, &mine[i]); err != nil {
					errs <- fmt.Errorf("Record(%s): %w", mine[i].ID, err)
					return
				}
			}
		})
	}
	if s.q != nil {
		for range 2 {
			reading.Go(func() {
				for ctx.Err() == nil {
					got, err := s.q.Query(ctx, audit.Query{Limit: audit.MaxLimit})
					if err != nil {
						if ctx.Err() == nil {
							errs <- fmt.Errorf("Query during writes: %w", err)
						}
						return
					}
					if err := checkPartial(got, byID); err != nil {
						errs <- fmt.Errorf("Query during writes: %w", err)
						return
					}
				}
			})
		}
	}
	writing.Wait()
	cancel()
	reading.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if t.Failed() {
		return
	}
	s.needQuerier(t)
	s.expect(t, events, "events written concurrently must all be stored (audit.Sink: Record may be called from many goroutines at once)")
}

// checkPartial checks a query answered while writes go on: whole events
// that were written, each once, in id order.
func checkPartial(got []audit.Event, byID map[string]*audit.Event) error {
	for i := range got {
		want, ok := byID[got[i].ID]
		if !ok {
			return fmt.Errorf("event %d has id %q, which was never written", i, got[i].ID)
		}
		if i > 0 && got[i].ID <= got[i-1].ID {
			return fmt.Errorf("event %d has id %s, not after %s: results must be in id order, each event once", i, got[i].ID, got[i-1].ID)
		}
		if d := diffEvent(want, &got[i]); d != "" {
			return fmt.Errorf("event %s: %s", got[i].ID, d)
		}
	}
	return nil
}

// testHostile stores each hostile string, between two plain events, in
// a new sink.
func testHostile(t *testing.T, newSink func(*testing.T) audit.Sink) {
	type hcase struct {
		name      string
		e         audit.Event
		mustStore bool // refusing it is a failure: it must come back as it went in
	}
	var hcases []hcase
	for _, h := range hostile {
		e := fullEvent(1)
		e.Subject, e.Action, e.Resource, e.Rule, e.Reason, e.PolicyVersion, e.Error = h.s, h.s, h.s, h.s, h.s, h.s, h.s
		e.Fields = map[string]any{h.s: h.s, "value": h.s, "list": []any{h.s}}
		// A NUL or a byte of invalid UTF-8 is what an attacker puts in a
		// subject: an event holding one must be stored, never refused,
		// dropped or altered.
		hcases = append(hcases, hcase{h.name, e, h.name == "nul" || !utf8.ValidString(h.s)})
	}
	// Each string field on its own, so a store that keeps the bytes of
	// one column but not another is named: NUL and invalid UTF-8 (bytes
	// that are never valid, a surrogate's encoding, sequences cut short
	// in the middle and at the end) beside the text of their escapes.
	for _, f := range stringFields {
		e := fullEvent(1)
		f.set(&e, invalidUTF8)
		hcases = append(hcases, hcase{"invalid-utf8-" + f.name, e, true})
	}
	// Invalid UTF-8 in Fields (a request's context) is stored faithfully
	// by every store: refusing it would lose the event, and replacing it
	// with U+FFFD would alter it.
	for _, s := range []string{"bad\xff\xfebytes", "\xed\xa0\x80", "\xc3", "é\xc3(", "\x00\xff\\xff"} {
		e := fullEvent(1)
		e.Fields = map[string]any{s: s, "value": s, "list": []any{s, map[string]any{s: []any{s}}}}
		hcases = append(hcases, hcase{fmt.Sprintf("invalid-utf8-fields-%q", s), e, true})
	}
	big := bigString(1 << 20)
	reason := fullEvent(1)
	reason.Reason = big
	field := fullEvent(1)
	field.Fields["big"] = big
	hcases = append(hcases, hcase{"1MB-reason", reason, false}, hcase{"1MB-field", field, false})
	// No store of warden's counts past math.MaxInt64, and a signed 64-bit
	// column cannot hold more: a sink may refuse such a revision, but not
	// store it changed.
	rev := fullEvent(1)
	rev.Revision = math.MaxUint64
	hcases = append(hcases, hcase{"revision-over-int64", rev, false})

	for _, c := range hcases {
		for _, way := range []string{"record", "batch"} {
			t.Run(c.name+"/"+way, func(t *testing.T) {
				// Eighty-odd cases, each on a new sink: on a store whose
				// setup waits on a server (a PostgreSQL schema), running
				// them side by side keeps the suite's time down.
				t.Parallel()
				hostileOne(t, wrap(t, newSink(t)), c.e, way == "batch", c.mustStore)
			})
		}
	}
}

// hostileOne stores e, by Record or as a batch of one, between two plain
// events, and checks that the sink holds what audit.Memory does.
func hostileOne(t *testing.T, s *sink, e audit.Event, batch, mustStore bool) {
	if batch {
		s.needBatch(t)
	}
	ref := &audit.Memory{}
	before, after := minimalEvent(0), errorEvent(2)
	s.mustRecord(t, before)
	var err error
	if batch {
		err = s.writeBatch(t, []audit.Event{e})
	} else {
		err = s.record(t, e)
	}
	s.mustRecord(t, after)
	ref.Record(t.Context(), &before)
	switch {
	case err == nil:
		ref.Record(t.Context(), &e)
	case mustStore:
		t.Errorf("refused: %v\nan event holding NUL or invalid UTF-8, in any string or in its Fields, must be stored as it is", err)
	default:
		t.Logf("refused: %v", err)
	}
	ref.Record(t.Context(), &after)
	s.needQuerier(t)
	why := "a hostile string must be stored unchanged or refused with an error; a refused event must not be stored"
	compare(t, s, ref, audit.Query{Limit: audit.MaxLimit}, why)
	compare(t, s, ref, audit.Query{Subject: e.Subject, Limit: audit.MaxLimit}, why)
}

// compare checks that the sink answers q as ref does.
func compare(t *testing.T, s *sink, ref *audit.Memory, q audit.Query, why string) []audit.Event {
	t.Helper()
	want, werr := ref.Query(t.Context(), q)
	got, err := s.q.Query(t.Context(), q)
	switch {
	case werr != nil && err == nil:
		t.Errorf("%s: got %d events, want an error (audit.Memory says %v)\n%s", showQuery(q), len(got), werr, why)
	case werr == nil && err != nil:
		t.Errorf("%s: %v; audit.Memory answers it\n%s", showQuery(q), err, why)
	case werr == nil:
		if d := diffEvents(want, got); d != "" {
			t.Errorf("%s: %s\n%s", showQuery(q), d, why)
		}
	}
	return got
}

// testQuery writes the data set once and asks it every query.
func testQuery(t *testing.T, newSink func(*testing.T) audit.Sink) {
	s := wrap(t, newSink(t))
	s.needQuerier(t)
	events := dataset(dataSize)
	ref := &audit.Memory{}
	order := writeOrder(events)
	for _, e := range order {
		ref.Record(t.Context(), &e)
	}
	if s.b != nil {
		// Batches of several sizes, one event on its own between them.
		for _, batch := range [][]audit.Event{order[:1], order[1:11], order[11:60], order[61:]} {
			if err := s.writeBatch(t, batch); err != nil {
				t.Fatalf("WriteBatch(%d events): %v", len(batch), err)
			}
		}
		s.mustRecord(t, order[60])
	} else {
		s.mustRecord(t, order...)
	}

	const why = "Query must answer as audit.Memory does (audit.Query)"
	for _, c := range queryCases() {
		t.Run(c.name, func(t *testing.T) {
			if _, err := ref.Query(t.Context(), c.q); err != nil {
				t.Fatalf("the suite's own query is invalid: %v", err) // a bug in audittest
			}
			compare(t, s, ref, c.q, why)
		})
	}
	for _, c := range invalidQueries {
		t.Run("invalid/"+c.name, func(t *testing.T) {
			if _, err := ref.Query(t.Context(), c.q); err == nil {
				t.Fatalf("audit.Memory accepts %s", showQuery(c.q)) // a bug in audittest
			}
			compare(t, s, ref, c.q, "an invalid query must be an error, not a guess (audit.Query.Compile)")
		})
	}
	for _, c := range []struct {
		name string
		q    audit.Query
	}{
		{"all-by-7", audit.Query{Limit: 7}},
		{"all-by-1", audit.Query{Limit: 1}},
		{"articles-by-4", audit.Query{Action: "articles:*", Limit: 4}},
		{"denied-since-by-3", audit.Query{Allowed: &no, Since: eventTime(30), Limit: 3}},
		{"default-limit", audit.Query{}},
	} {
		t.Run("paging/"+c.name, func(t *testing.T) { testPaging(t, s, ref, c.q) })
	}
}

// testPaging follows the After cursor from page to page: each page must
// be audit.Memory's, and together they must hold every selected event
// once, in id order.
func testPaging(t *testing.T, s *sink, ref *audit.Memory, q audit.Query) {
	whole := q
	whole.Limit = audit.MaxLimit
	want, err := ref.Query(t.Context(), whole)
	if err != nil {
		t.Fatal(err)
	}
	var got []audit.Event
	for range len(want) + 2 {
		page := compare(t, s, ref, q, "paging with After must return the next page (audit.Query.After)")
		if t.Failed() {
			return
		}
		if len(page) == 0 {
			if d := diffEvents(want, got); d != "" {
				t.Errorf("the pages together: %s\npaging must visit every selected event once, in id order", d)
			}
			return
		}
		got = append(got, page...)
		q.After = page[len(page)-1].ID
	}
	t.Errorf("paging with %s did not end after %d pages", showQuery(q), len(want)+2)
}

var yes, no = true, false

type queryCase struct {
	name string
	q    audit.Query
}

func queryCases() []queryCase {
	t40, t80 := eventTime(40), eventTime(80)
	cs := []queryCase{
		{"all-default-limit", audit.Query{}},
		{"all-max-limit", audit.Query{Limit: audit.MaxLimit}},
		{"limit-1", audit.Query{Limit: 1}},
		{"limit-7", audit.Query{Limit: 7}},

		{"since", audit.Query{Since: t40, Limit: audit.MaxLimit}},
		{"until", audit.Query{Until: t80, Limit: audit.MaxLimit}},
		{"since-until", audit.Query{Since: t40, Until: t80, Limit: audit.MaxLimit}},
		{"since-equals-until", audit.Query{Since: t40, Until: t40}},
		{"since-after-until", audit.Query{Since: t80, Until: t40}},
		{"since-just-after-a-time", audit.Query{Since: t40.Add(1e3), Limit: audit.MaxLimit}},
		{"until-just-after-a-time", audit.Query{Until: t40.Add(1e3), Limit: audit.MaxLimit}},
		{"since-before-all", audit.Query{Since: baseTime.Add(-1e12), Limit: audit.MaxLimit}},
		{"until-before-all", audit.Query{Until: baseTime}},
		{"since-in-another-zone", audit.Query{Since: t40.In(zone), Until: t80.In(zone), Limit: audit.MaxLimit}},

		{"after-first", audit.Query{After: eventID(0), Limit: audit.MaxLimit}},
		{"after-middle", audit.Query{After: eventID(75)}},
		{"after-last", audit.Query{After: eventID(dataSize - 1)}},
		{"after-unknown-id", audit.Query{After: gapID(10), Limit: 5}},
		{"after-before-all", audit.Query{After: uuidAt(-1000), Limit: 5}},

		{"status-denied-allowed-false", audit.Query{Status: audit.StatusDenied, Allowed: &no, Limit: audit.MaxLimit}},
		{"status-allowed-allowed-false", audit.Query{Status: audit.StatusAllowed, Allowed: &no}},

		{"combined", audit.Query{Subject: "alice", Action: "articles:*", Allowed: &no, Since: eventTime(10), Until: eventTime(140), Limit: audit.MaxLimit}},
		{"combined-paged", audit.Query{Action: "*:read", Resource: "doc:*", Since: eventTime(20), After: eventID(50), Limit: 3}},
	}
	for _, v := range dataSubjects {
		cs = append(cs, queryCase{"subject/" + v, audit.Query{Subject: v, Limit: audit.MaxLimit}})
	}
	for _, v := range []string{"nobody", "ali", "ALICE", "a%", "alice%", "*"} {
		cs = append(cs, queryCase{"subject-none/" + v, audit.Query{Subject: v}})
	}
	for _, p := range []string{"*", "read", "articles:*", "*:read", "articles:read,write", "art*:*", "*:*e", "role:*", "Articles:*", "articles", "users:read,write:x"} {
		cs = append(cs, queryCase{"action/" + p, audit.Query{Action: p, Limit: audit.MaxLimit}})
	}
	for _, p := range []string{"*", "doc", "doc:*", "doc:1", "doc:1*", "doc:*:page:*", "*:*", "users:*", "doc_1", "doc%1", "doc*"} {
		cs = append(cs, queryCase{"resource/" + p, audit.Query{Resource: p, Limit: audit.MaxLimit}})
	}
	for _, st := range []audit.Status{audit.StatusAllowed, audit.StatusDenied, audit.StatusError} {
		cs = append(cs, queryCase{"status/" + string(st), audit.Query{Status: st, Limit: audit.MaxLimit}})
	}
	cs = append(cs,
		queryCase{"allowed/true", audit.Query{Allowed: &yes, Limit: audit.MaxLimit}},
		queryCase{"allowed/false", audit.Query{Allowed: &no, Limit: audit.MaxLimit}},
	)
	return cs
}

var zone = time.FixedZone("UTC+05:30", 5*3600+1800)

var invalidQueries = []queryCase{
	{"negative-limit", audit.Query{Limit: -1}},
	{"limit-over-max", audit.Query{Limit: audit.MaxLimit + 1}},
	{"action-empty-segment", audit.Query{Action: "a::b"}},
	{"action-space", audit.Query{Action: "read write"}},
	{"resource-empty-alternative", audit.Query{Resource: "doc,"}},
	{"resource-braces", audit.Query{Resource: "doc:{id}"}},
	{"status-unknown", audit.Query{Status: "bogus"}},
	{"status-wrong-case", audit.Query{Status: "Allowed"}},
}
