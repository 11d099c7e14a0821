package postgres

import (
	"context"
	"fmt"
	"strconv"

	"github.com/jackc/pgx/v5"

	"github.com/warden-authz/warden/store"
	"github.com/warden-authz/warden/store/internal/changelog"
	"github.com/warden-authz/warden/types"
)

// Codes stored for ops, kinds and effects, independent of the Go
// constants' values.
const (
	kindMember   = 1
	kindResource = 2

	effectAllow = 1
	effectDeny  = 2
)

// Write implements store.Store. See the package doc for how a batch is
// serialised and applied.
//
// A batch whose connection turns out to have been lost before its commit
// (see lost) is written again on another connection: the server rolled
// it back, so nothing of it is in the store. One lost during the commit
// is not, since it may have committed.
func (s *Store) Write(ctx context.Context, b store.Batch) (store.Revision, error) {
	if err := s.usable(); err != nil {
		return 0, err
	}
	if err := b.Check(); err != nil {
		return 0, err
	}
	for attempt := 1; ; attempt++ {
		committing := false
		rev, err := s.writeOnce(ctx, b, &committing)
		if err == nil || committing || !s.retry(ctx, err, attempt) {
			return rev, err
		}
	}
}

// writeOnce writes the batch in one transaction. It sets *committing
// when it sends the commit, whose outcome is unknown if it fails.
func (s *Store) writeOnce(ctx context.Context, b store.Batch, committing *bool) (store.Revision, error) {
	tx, err := s.pool.Begin(ctx)
	if err != nil {
		return 0, s.fail(ctx, err, "writing")
	}
	defer tx.Rollback(ctx) //nolint:errcheck // a no-op after Commit
	var cur int64
	if err := tx.QueryRow(ctx, `SELECT revision FROM `+s.schema+`.store_revision WHERE id FOR UPDATE`).Scan(&cur); err != nil {
		return 0, s.fail(ctx, err, "locking the revision")
	}
	rev := store.Revision(cur)
	if b.IfRevision != nil && *b.IfRevision != rev {
		return 0, fmt.Errorf("%w: the store is at revision %d, not %d", store.ErrRevisionConflict, rev, *b.IfRevision)
	}
	if rev >= maxRevision {
		return 0, fmt.Errorf("store/postgres: revision %d is the last this store can number", rev)
	}
	rev++

	p := newPlan(b.Writes)
	if err := s.existing(ctx, tx, p); err != nil {
		return 0, err
	}
	p.replay(b.Writes, rev)

	var batch pgx.Batch
	if len(p.delM.kind) > 0 {
		batch.Queue(`DELETE FROM `+s.schema+`.store_memberships m
			USING unnest($1::smallint[], $2::text[], $3::text[]) AS k(kind, name, grp)
			WHERE m.kind = k.kind AND m.name = k.name COLLATE "C" AND m.grp = k.grp COLLATE "C"`,
			p.delM.kind, p.delM.name, p.delM.grp)
	}
	if len(p.delG.rule) > 0 {
		batch.Queue(`DELETE FROM `+s.schema+`.store_grants g
			USING unnest($1::text[], $2::smallint[], $3::text[], $4::text[], $5::text[]) AS k(rule, effect, subject, resource, action)
			WHERE g.subject = k.subject COLLATE "C" AND g.resource = k.resource COLLATE "C" AND g.action = k.action COLLATE "C"
				AND g.rule = k.rule COLLATE "C" AND g.effect = k.effect`,
			p.delG.rule, p.delG.effect, p.delG.subject, p.delG.resource, p.delG.action)
	}
	if len(p.insM.pos) > 0 {
		batch.Queue(`INSERT INTO `+s.schema+`.store_memberships (pos, kind, name, grp)
			SELECT * FROM unnest($1::bigint[], $2::smallint[], $3::text[], $4::text[])`,
			p.insM.pos, p.insM.kind, p.insM.name, p.insM.grp)
	}
	if len(p.insG.pos) > 0 {
		batch.Queue(`INSERT INTO `+s.schema+`.store_grants (pos, rule, effect, subject, resource, action)
			SELECT * FROM unnest($1::bigint[], $2::text[], $3::smallint[], $4::text[], $5::text[], $6::text[])`,
			p.insG.pos, p.insG.rule, p.insG.effect, p.insG.subject, p.insG.resource, p.insG.action)
	}
	if len(p.changes) > 0 {
		text, err := changelog.Encode(p.changes)
		if err != nil {
			return 0, fmt.Errorf("store/postgres: %w", err)
		}
		batch.Queue(`INSERT INTO `+s.schema+`.store_changes (revision, count, changes) VALUES ($1, $2, $3)`, int64(rev), len(p.changes), string(text))
	}
	batch.Queue(`UPDATE `+s.schema+`.store_revision SET revision = $1 WHERE id`, int64(rev))
	// Delivered to listeners only when the transaction commits.
	batch.Queue(`SELECT pg_notify($1, $2)`, s.channel, strconv.FormatUint(rev, 10))
	if err := tx.SendBatch(ctx, &batch).Close(); err != nil {
		return 0, s.fail(ctx, err, fmt.Sprintf("writing revision %d", rev))
	}
	*committing = true
	if err := tx.Commit(ctx); err != nil {
		// If the connection broke during the commit, the outcome is
		// unknown (store.ErrUnavailable says so).
		return 0, s.fail(ctx, err, fmt.Sprintf("committing revision %d", rev))
	}
	s.publish(rev)
	s.reached()
	return rev, nil
}

// memberKey and grantKey identify records as the tables' unique keys do.
type memberKey struct {
	kind      int16
	name, grp string
}

type grantKey struct {
	rule                      string
	effect                    int16
	subject, resource, action string
}

// plan is a batch turned into set operations: the records it names, which
// of them existed before it, and, once replayed, what to delete, insert
// and log.
type plan struct {
	members map[memberKey]*keyState
	grants  map[grantKey]*keyState

	delM    memberCols
	delG    grantCols
	insM    memberCols
	insG    grantCols
	changes []store.Change
}

// keyState follows one record through a batch.
type keyState struct {
	existed bool // before the batch
	present bool // after the writes replayed so far
	changed bool
	index   int // of the write that last added it
}

type memberCols struct {
	pos       []int64
	kind      []int16
	name, grp []string
}

type grantCols struct {
	pos                       []int64
	rule                      []string
	effect                    []int16
	subject, resource, action []string
}

func newPlan(ws []store.Write) *plan {
	p := &plan{members: map[memberKey]*keyState{}, grants: map[grantKey]*keyState{}}
	for i := range ws {
		if m := ws[i].Membership; m != nil {
			p.members[mkey(m)] = &keyState{}
		} else {
			p.grants[gkey(ws[i].Grant)] = &keyState{}
		}
	}
	return p
}

func mkey(m *store.Membership) memberKey {
	if m.Member != "" {
		return memberKey{kindMember, m.Member, m.Group}
	}
	return memberKey{kindResource, m.Resource, m.Group}
}

func gkey(g *store.Grant) grantKey {
	return grantKey{g.Rule, effectCode(g.Effect), g.Subject, g.Resource, g.Action}
}

// existing marks the records of the plan that the store holds. The
// revision row is locked, so no other writer changes them meanwhile.
func (s *Store) existing(ctx context.Context, tx pgx.Tx, p *plan) error {
	if len(p.members) > 0 {
		var kind []int16
		var name, grp []string
		for k := range p.members {
			kind, name, grp = append(kind, k.kind), append(name, k.name), append(grp, k.grp)
		}
		rows, err := tx.Query(ctx, `SELECT m.kind, m.name, m.grp FROM `+s.schema+`.store_memberships m
			JOIN unnest($1::smallint[], $2::text[], $3::text[]) AS k(kind, name, grp)
			ON m.kind = k.kind AND m.name = k.name COLLATE "C" AND m.grp = k.grp COLLATE "C"`, kind, name, grp)
		if err != nil {
			return s.fail(ctx, err, "reading the batch's memberships")
		}
		var k memberKey
		_, err = pgx.ForEachRow(rows, []any{&k.kind, &k.name, &k.grp}, func() error {
			if st := p.members[k]; st != nil {
				st.existed, st.present = true, true
			}
			return nil
		})
		if err != nil {
			return s.fail(ctx, err, "reading the batch's memberships")
		}
	}
	if len(p.grants) > 0 {
		var effect []int16
		var rule, subject, resource, action []string
		for k := range p.grants {
			rule, effect, subject, resource, action = append(rule, k.rule), append(effect, k.effect), append(subject, k.subject), append(resource, k.resource), append(action, k.action)
		}
		rows, err := tx.Query(ctx, `SELECT g.rule, g.effect, g.subject, g.resource, g.action FROM `+s.schema+`.store_grants g
			JOIN unnest($1::text[], $2::smallint[], $3::text[], $4::text[], $5::text[]) AS k(rule, effect, subject, resource, action)
			ON g.subject = k.subject COLLATE "C" AND g.resource = k.resource COLLATE "C" AND g.action = k.action COLLATE "C"
				AND g.rule = k.rule COLLATE "C" AND g.effect = k.effect`, rule, effect, subject, resource, action)
		if err != nil {
			return s.fail(ctx, err, "reading the batch's grants")
		}
		var k grantKey
		_, err = pgx.ForEachRow(rows, []any{&k.rule, &k.effect, &k.subject, &k.resource, &k.action}, func() error {
			if st := p.grants[k]; st != nil {
				st.existed, st.present = true, true
			}
			return nil
		})
		if err != nil {
			return s.fail(ctx, err, "reading the batch's grants")
		}
	}
	return nil
}

// replay applies the writes in order to the records' states, as a store
// must (SPEC 10.3), logging each write that changed something, and then
// works out the set operations: a record that existed and changed is
// deleted; one present at the end that changed is inserted, at the
// position of the write that last added it.
func (p *plan) replay(ws []store.Write, rev store.Revision) {
	for i := range ws {
		w := &ws[i]
		var st *keyState
		if w.Membership != nil {
			st = p.members[mkey(w.Membership)]
		} else {
			st = p.grants[gkey(w.Grant)]
		}
		switch {
		case w.Op == store.OpAdd && !st.present:
			st.present, st.index = true, i
		case w.Op == store.OpRemove && st.present:
			st.present = false
		default:
			continue
		}
		st.changed = true
		p.logChange(w, rev, i)
	}
	for k, st := range p.members {
		if !st.changed {
			continue
		}
		if st.existed {
			p.delM.kind, p.delM.name, p.delM.grp = append(p.delM.kind, k.kind), append(p.delM.name, k.name), append(p.delM.grp, k.grp)
		}
		if st.present {
			c := &p.insM
			c.pos, c.kind, c.name, c.grp = append(c.pos, pos(rev, st.index)), append(c.kind, k.kind), append(c.name, k.name), append(c.grp, k.grp)
		}
	}
	for k, st := range p.grants {
		if !st.changed {
			continue
		}
		if st.existed {
			c := &p.delG
			c.rule, c.effect, c.subject, c.resource, c.action = append(c.rule, k.rule), append(c.effect, k.effect), append(c.subject, k.subject), append(c.resource, k.resource), append(c.action, k.action)
		}
		if st.present {
			c := &p.insG
			c.pos = append(c.pos, pos(rev, st.index))
			c.rule, c.effect, c.subject, c.resource, c.action = append(c.rule, k.rule), append(c.effect, k.effect), append(c.subject, k.subject), append(c.resource, k.resource), append(c.action, k.action)
		}
	}
}

func (p *plan) logChange(w *store.Write, rev store.Revision, index int) {
	p.changes = append(p.changes, store.Change{Revision: rev, Index: index, Op: w.Op, Membership: w.Membership, Grant: w.Grant})
}

// effectCode maps an effect to its stored code; Batch.Check allowed only
// these two.
func effectCode(e types.Effect) int16 {
	if e == types.EffectDeny {
		return effectDeny
	}
	return effectAllow
}

// publish records that revision rev is committed and wakes every Wait.
func (s *Store) publish(rev store.Revision) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if rev > s.known && !s.closed.Load() {
		s.known = rev
		close(s.wake)
		s.wake = make(chan struct{})
	}
}
