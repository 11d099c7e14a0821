// Package changelog owns the stored form of a revision's changes, which
// store/sqlite and store/postgres keep as one row per revision: a JSON
// array of objects {"index", "op", "membership" | "grant"}, in index
// order, with the names and effects as the store package's JSON has
// them. One row per revision rather than per change halves the rows a
// batch writes, and a page of Changes is whole revisions anyway.
package changelog

import (
	"bytes"
	"encoding/json"
	"fmt"

	"github.com/warden-authz/warden/store"
)

// entry is a change as stored: its revision is the row's.
type entry struct {
	Index      int               `json:"index"`
	Op         store.Op          `json:"op"`
	Membership *store.Membership `json:"membership,omitempty"`
	Grant      *store.Grant      `json:"grant,omitempty"`
}

// Encode returns the stored form of one revision's changes, which must be
// in index order.
func Encode(changes []store.Change) ([]byte, error) {
	es := make([]entry, len(changes))
	for i, c := range changes {
		es[i] = entry{Index: c.Index, Op: c.Op, Membership: c.Membership, Grant: c.Grant}
	}
	b, err := json.Marshal(es)
	if err != nil {
		return nil, fmt.Errorf("changelog: encoding: %w", err)
	}
	return b, nil
}

// Decode reverses Encode for the row of revision rev, which says it holds
// count changes. A row that is not exactly what Encode writes (an unknown
// field, a bad op or name, indexes out of order, the wrong count) is an
// error, never a guess: the changelog is what every instance applies.
func Decode(rev store.Revision, count int, data []byte) ([]store.Change, error) {
	var es []entry
	d := json.NewDecoder(bytes.NewReader(data))
	d.DisallowUnknownFields()
	if err := d.Decode(&es); err != nil {
		return nil, fmt.Errorf("changelog: revision %d: %w", rev, err)
	}
	if d.More() {
		return nil, fmt.Errorf("changelog: revision %d: data after the changes", rev)
	}
	if len(es) != count {
		return nil, fmt.Errorf("changelog: revision %d holds %d changes, its row says %d", rev, len(es), count)
	}
	out := make([]store.Change, len(es))
	for i, e := range es {
		if e.Index < 0 || e.Index >= store.MaxBatch || (i > 0 && e.Index <= es[i-1].Index) {
			return nil, fmt.Errorf("changelog: revision %d: change %d has index %d, out of order or range", rev, i, e.Index)
		}
		if err := (store.Write{Op: e.Op, Membership: e.Membership, Grant: e.Grant}).Check(); err != nil {
			return nil, fmt.Errorf("changelog: revision %d: change %d: %w", rev, i, err)
		}
		out[i] = store.Change{Revision: rev, Index: e.Index, Op: e.Op, Membership: e.Membership, Grant: e.Grant}
	}
	return out, nil
}
