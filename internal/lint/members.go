package lint

import (
	"fmt"
	"strings"

	"github.com/warden-authz/warden/internal/engine"
)

// memberTypos reports a member of a group or role that is not itself a
// group or role, when a group or role is one edit away: `admin =
// ['staf']` beside a group `staff` makes a user named staf an admin, and
// leaves the staff out. It uses the same edits as typo (one letter
// changed, added or removed, two neighbours swapped, or the case), over
// group and role names only.
//
// It stays silent where the near name is most likely a user's own: a
// member one edit from the group that lists it (admins = ['admin']), a
// member the near group lists too (the same user in both), and an edit
// that involves a digit (user1 beside users). Resource and action groups
// are not judged: their members are resource and action names, which are
// often one edit from the group that gathers them (articles =
// ['article']).
func (l *linter) memberTypos() {
	groups := l.src.Groups
	if len(groups) < 2 {
		return
	}
	k := l.kinds[engine.Subjects]
	names := newNameIndex(groups)
	var buf []byte
	for i, g := range groups {
		if id, _ := k.index(g.Name); id != i {
			continue // a repeated declaration; the compiler reports it
		}
		for _, m := range g.Members {
			if _, isGroup := k.index(m.Name); isGroup || len(m.Name) < 4 || len(m.Name) > maxTypoLen {
				continue
			}
			near := l.nearGroup(names, k, g.Name, m.Name, &buf)
			if near == "" {
				continue
			}
			what := "group"
			if id, _ := k.index(near); groups[id].Role {
				what = "role"
			}
			l.add(Warning, CodeMemberTypo, m.Pos,
				fmt.Sprintf("did you mean %q? If %q is a user, rename the %s or ignore this", near, m.Name, what),
				"member %q of %s %q is not a group or role, so it adds one user of that name; %s %q is one letter away",
				m.Name, g.Section, g.Name, what, near)
		}
	}
}

// nearGroup returns the group or role one edit from member, of those
// that are not in, by that rule, its own user (see memberTypos); the
// smallest if several are, "" if none. Every member of every group is
// looked up, so the keys are built in buf, which a map lookup reads
// without allocating a string.
func (l *linter) nearGroup(names *nameIndex, k *kind, in, member string, buf *[]byte) string {
	best := ""
	lower := strings.ToLower(member)
	if len(lower) < 2 || !names.lead[lower[0]] && !names.lead[lower[1]] {
		return "" // see nameIndex.lead
	}
	for i := -1; i < len(lower); i++ {
		b := append((*buf)[:0], lower...)
		if i >= 0 {
			b = append(b[:i], lower[i+1:]...)
		}
		*buf = b
		e, ok := names.lookup(b)
		for ; ok && e >= 0; e = names.next[e] {
			c := names.names[e]
			switch {
			case c == in, c == member, osa(lower, strings.ToLower(c)) > 1, digitEdit(member, c):
				continue
			case listsMember(l.src.Groups[k.mustIndex(c)], member):
				continue
			}
			if best == "" || c < best {
				best = c
			}
		}
	}
	return best
}

// nameIndex is typoIndex for group and role names, built for being asked
// about every member of every group: its keys are substrings of one
// string and its lists are chains through one slice, so building it
// allocates a few times, not once per key; and it is built only once a
// member gets past lead.
type nameIndex struct {
	groups []engine.Group
	// lead holds the first two bytes of every name, lowered. One edit
	// leaves one of a name's first two bytes among the first two of the
	// other (a change, insertion or deletion at the first or second byte,
	// or the two swapped, each keeps one), so a member with neither byte
	// here is one edit from no name, and most members are ruled out
	// without a lookup: users are rarely spelt like groups.
	lead [256]bool

	built bool
	keys  map[string]int32 // deletion key to the first entry with it
	names []string         // by entry: the name filed under the key
	next  []int32          // by entry: the next entry with the same key, or -1
}

func newNameIndex(groups []engine.Group) *nameIndex {
	ix := &nameIndex{groups: groups}
	for _, g := range groups {
		if lower := strings.ToLower(g.Name); len(lower) >= 2 && len(lower) <= maxTypoLen+1 {
			ix.lead[lower[0]], ix.lead[lower[1]] = true, true
		}
	}
	return ix
}

// lookup returns the first entry filed under key, building the index on
// first use.
func (ix *nameIndex) lookup(key []byte) (int32, bool) {
	if !ix.built {
		ix.build()
	}
	e, ok := ix.keys[string(key)]
	return e, ok
}

func (ix *nameIndex) build() {
	ix.built = true
	lowers := make([]string, len(ix.groups))
	size, count := 0, 0
	for i, g := range ix.groups {
		lower := strings.ToLower(g.Name)
		if n := len(lower); n >= 2 && n <= maxTypoLen+1 {
			lowers[i] = lower
			size += n * (n + 1) // the name and its n deletions of n-1 bytes
			count += n + 1
		}
	}
	arena := make([]byte, 0, size)
	for _, lower := range lowers {
		arena = append(arena, lower...)
		for i := range len(lower) {
			arena = append(arena, lower[:i]...)
			arena = append(arena, lower[i+1:]...)
		}
	}
	all := string(arena)
	ix.keys = make(map[string]int32, count)
	ix.names = make([]string, 0, count)
	ix.next = make([]int32, 0, count)
	off := 0
	for gi, lower := range lowers {
		n := len(lower)
		for i := -1; i < n && n > 0; i++ {
			kl := n - 1
			if i < 0 {
				kl = n
			}
			key := all[off : off+kl]
			off += kl
			name := ix.groups[gi].Name
			head, ok := ix.keys[key]
			if ok && ix.names[head] == name {
				continue // a name files under a key once (aab: ab twice)
			}
			if !ok {
				head = -1
			}
			ix.keys[key] = int32(len(ix.names))
			ix.names = append(ix.names, name)
			ix.next = append(ix.next, head)
		}
	}
}

func listsMember(g engine.Group, name string) bool {
	for _, m := range g.Members {
		if m.Name == name {
			return true
		}
	}
	return false
}

// digitEdit reports whether the one edit between a and b adds, removes or
// changes a digit: what differs between them, once their common prefix
// and suffix are set aside, holds one. Numbered names (user1, users) are
// not slips of the hand.
func digitEdit(a, b string) bool {
	p := 0
	for p < len(a) && p < len(b) && a[p] == b[p] {
		p++
	}
	s := 0
	for s < len(a)-p && s < len(b)-p && a[len(a)-1-s] == b[len(b)-1-s] {
		s++
	}
	return strings.ContainsAny(a[p:len(a)-s], "0123456789") || strings.ContainsAny(b[p:len(b)-s], "0123456789")
}
