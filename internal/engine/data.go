package engine

import (
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"slices"

	"github.com/warden-authz/warden/internal/pattern"
	"github.com/warden-authz/warden/store"
)

// data is the runtime data applied to a compiled policy (SPEC 10): the
// memberships and grants of a store at one revision. A batch of changes
// makes a new data that shares everything it did not change with the old
// one (pmap, pvec), so a decision on the old policy value, running while
// the batch applies, sees the old revision whole. docs/runtime-data.md
// has the design.
type data struct {
	rev       uint64
	subjects  dynKind
	resources dynKind
	grants    dynGrants
	// inert counts records the policy cannot use: a membership that would
	// put a role in a group (SPEC 3.2), a grant to a block that is not
	// dynamic. They stay in the store and apply again if the policy
	// changes to allow them.
	inert int
	// digest is the XOR of every record's hash: a fingerprint of the data
	// that does not depend on the order it was applied in, kept up to
	// date in constant time per change (DataDigest).
	digest [2]uint64
}

// dynKind is the data memberships of one kind (subjects or resources),
// kept beside the compiled graph, which never changes.
//
// Group ids continue the compiled graph's: a group the file declares keeps
// its id, and a name data makes a group gets the next id, for good (ids
// are not reused while the policy lives). Closures are kept per group, as
// in the compiled graph; a name that is not a group keeps only its direct
// parents, and a decision merges their closures, so a change to a group
// with 10,000 members touches one group, not 10,000 names.
type dynKind struct {
	// parents are the data's direct parents of a name, ascending ids.
	parents pmap[[]int32]
	// ids are the ids of groups only data declares; names their names,
	// by id less the compiled graph's group count.
	ids   pmap[int32]
	names pvec[string]
	// children are, per group id, the groups data lists as its members.
	children pvec[[]int32]
	// closure is, per group id, the group's closure where it differs from
	// the compiled one (nil: the compiled one), and every data group's.
	closure pvec[[]int32]
	// slots are the subject-index slots of data groups' names (subjects,
	// when the index's root splits by subject), by id less the count.
	slots pvec[[]int32]
	// size counts each data group's members, by id less the count: a
	// name is a group while data lists members in it.
	size pvec[int32]
	// overridden counts compiled groups whose closure data changed. While
	// it is 0, a name's compiled closure is still exact.
	overridden int
	// reach counts memberships after closure, bounded like compiling.
	reach int
}

// kindView reads one kind's membership graph: the compiled graph with
// the data over it. d may be nil.
type kindView struct {
	m *members
	d *dynKind
}

func (v kindView) compiled() int32 { return int32(len(v.m.names)) }

// groupCount is the number of group ids in use.
func (v kindView) groupCount() int32 {
	if v.d == nil {
		return v.compiled()
	}
	return v.compiled() + int32(v.d.names.Len())
}

func (v kindView) name(id int32) string {
	if nb := v.compiled(); id >= nb {
		return v.d.names.at(int(id - nb))
	}
	return v.m.names[id]
}

// isGroup reports whether id is a group now: every group of the file, and
// a data group while it has members.
func (v kindView) isGroup(id int32) bool {
	nb := v.compiled()
	return id < nb || v.d.size.at(int(id-nb)) > 0
}

func (v kindView) id(name string) (int32, bool) {
	if id, ok := v.m.ids[name]; ok {
		return id, true
	}
	if v.d != nil {
		return v.d.ids.get(name)
	}
	return 0, false
}

// closure returns group id's closure, itself included, ascending.
func (v kindView) closure(id int32) []int32 {
	if v.d != nil && int(id) < v.d.closure.Len() {
		if c := v.d.closure.at(int(id)); c != nil {
			return c
		}
	}
	return v.m.closure[id]
}

// parents returns the groups listing name directly by name, in the file
// and in the data, ascending. It allocates only when both list some.
func (v kindView) parents(name string) []int32 {
	var file []int32
	if id, ok := v.m.ids[name]; ok {
		file = v.m.parents[id]
	} else {
		file = v.m.lookup[name].parents
	}
	if v.d == nil {
		return file
	}
	data, _ := v.d.parents.get(name)
	switch {
	case len(data) == 0:
		return file
	case len(file) == 0:
		return data
	}
	return mergeSorted(file, data)
}

// children returns the groups listing group id directly, in the file and
// in the data.
func (v kindView) children(id int32) []int32 {
	var file, data []int32
	if id < v.compiled() {
		file = v.m.children[id]
	}
	if v.d != nil && int(id) < v.d.children.Len() {
		data = v.d.children.at(int(id))
	}
	if len(data) == 0 {
		return file
	}
	return mergeSorted(file, data)
}

// mergeSorted returns the union of two ascending lists, ascending, in a
// new slice.
func mergeSorted(a, b []int32) []int32 {
	out := make([]int32, 0, len(a)+len(b))
	i, j := 0, 0
	for i < len(a) || j < len(b) {
		switch {
		case j == len(b) || i < len(a) && a[i] < b[j]:
			out = append(out, a[i])
			i++
		case i == len(a) || b[j] < a[i]:
			out = append(out, b[j])
			j++
		default:
			out = append(out, a[i])
			i++
			j++
		}
	}
	return out
}

// groupsOf is members.groupsOf with the data: every group name belongs
// to, the subject-index slots precomputed for name, and whether the
// compiled policy knows name. It allocates only past dst's capacity.
func (v kindView) groupsOf(dst []int32, name string) (groups, slots []int32, known bool) {
	if v.d == nil {
		return v.m.groupsOf(dst, name)
	}
	if name == "" {
		return nil, nil, false
	}
	e, known := v.m.lookup[name]
	var closure []int32
	inDst := false // closure was built in dst
	switch data, inData := v.d.parents.get(name); {
	case e.group >= 0 && known:
		closure = v.closure(e.group)
	case !inData && v.d.overridden == 0:
		if id, ok := v.d.ids.get(name); ok {
			closure = v.closure(id)
		} else {
			closure = e.closure
		}
	default:
		if id, ok := v.d.ids.get(name); ok {
			closure = v.closure(id)
			break
		}
		// A name that is not a group: the union of its parents'
		// closures. One parent needs no copy.
		file := e.parents
		switch {
		case len(file) == 1 && len(data) == 0:
			closure = v.closure(file[0])
		case len(file) == 0 && len(data) == 1:
			closure = v.closure(data[0])
		case len(file)+len(data) > 1:
			inDst = true
			dst = dst[:0]
			for _, p := range file {
				dst = append(dst, v.closure(p)...)
			}
			for _, p := range data {
				dst = append(dst, v.closure(p)...)
			}
			slices.Sort(dst)
			closure = slices.Compact(dst)
		}
	}
	if v.m.patterns.Len() == 0 {
		return closure, e.slots, known
	}
	var slotBuf [8]int32
	matched := v.m.patterns.Append(slotBuf[:0], name)
	if len(matched) == 0 {
		return closure, e.slots, known
	}
	if inDst {
		dst = closure // add to it
	} else {
		dst = append(dst[:0], closure...)
	}
	for _, s := range matched {
		for _, g := range v.m.patternGroups[s] {
			dst = append(dst, v.closure(g)...)
		}
	}
	slices.Sort(dst)
	return slices.Compact(dst), e.slots, known
}

// groupSlots returns the subject-index slots of group id's name.
func (v kindView) groupSlots(id int32) []int32 {
	if nb := v.compiled(); id >= nb {
		return v.d.slots.at(int(id - nb))
	}
	return v.m.groupSlots[id]
}

// memberOf reports whether name reaches group g, or is it.
func (v kindView) memberOf(name string, g int32) bool {
	if id, ok := v.id(name); ok {
		_, found := slices.BinarySearch(v.closure(id), g)
		return found
	}
	var buf [16]int32
	groups, _, _ := v.groupsOf(buf[:0], name)
	_, found := slices.BinarySearch(groups, g)
	return found
}

// dynGrants are the grants of the data, by resource (SPEC 10.2). A
// resource's grants are sorted by subject, so a resource shared with
// thousands is searched, not scanned.
type dynGrants struct {
	byResource pmap[[]*grant]
	n          int
}

// grant is one grant, kept small: a million of them should fit in a few
// hundred megabytes. Its names are literal, so it is ranked against rules
// without compiled patterns (pattern.CompareName), and its reason is built
// once, when it is applied, so deciding by it formats nothing.
type grant struct {
	subject, resource, action string
	reason                    string
	effect                    Effect
	block                     int32 // index of its block in Policy.dynamic
	ord                       order
}

func (g *grant) same(x *store.Grant, block int32) bool {
	return g.block == block && g.effect == x.Effect && g.subject == x.Subject && g.resource == x.Resource && g.action == x.Action
}

// scanMax is the longest list scanned; longer ones are searched by
// subject.
const scanMax = 16

// Apply returns the policy with the changes of a store's changelog
// applied, at revision rev: the same compiled policy, with the data at
// rev (SPEC 10.7). p itself does not change, so decisions running on it
// go on seeing the revision they started with. Changes must come in
// revision order, each once; rev must not be below p's revision.
//
// A change the policy cannot use (a membership that would put a role in
// a group, a grant to a block that is not dynamic) is kept out of the
// decisions and counted (Inert); CheckWrites refuses such writes before
// they reach a store. An error means the data would outgrow the closure
// bound; nothing is applied then.
func (p *Policy) Apply(rev uint64, changes []store.Change) (*Policy, error) {
	b, err := p.Builder(rev)
	if err != nil {
		return nil, err
	}
	for _, c := range changes {
		b.Add(c)
	}
	return b.Finish()
}

// Builder applies changes to a policy in one transaction, as Apply does,
// one change at a time: loading a store's snapshot of millions of records
// at start needs neither the records all in memory at once nor a copy of
// the data per batch. A Builder is for one goroutine; the policy it
// started from never changes.
type Builder struct {
	a   *applier
	rev uint64
}

// Builder starts applying changes that bring the policy to revision rev.
func (p *Policy) Builder(rev uint64) (*Builder, error) {
	if p == nil {
		return nil, ErrNoPolicy
	}
	if rev < p.Revision() {
		return nil, fmt.Errorf("engine: revision %d is before the policy's %d", rev, p.Revision())
	}
	return &Builder{a: newApplier(p), rev: rev}, nil
}

// Add applies one change: a record of a snapshot is the change that added
// it (Op add, Revision its Added, Index its Index).
func (b *Builder) Add(c store.Change) { b.a.change(c) }

// Finish returns the policy with every change added; the Builder must not
// be used again.
func (b *Builder) Finish() (*Policy, error) {
	d, err := b.a.finish(b.rev)
	if err != nil {
		return nil, err
	}
	np := *b.a.p
	np.d = d
	return &np, nil
}

// Revision is the store revision whose data the policy holds; 0 for
// none.
func (p *Policy) Revision() uint64 {
	if p == nil || p.d == nil {
		return 0
	}
	return p.d.rev
}

// DataDigest is a fingerprint of the policy's data: two policies holding
// the same records have the same digest, whatever order they were
// applied in. With the version and the revision, it tells whether the
// instances of a fleet decide on the same state (SPEC 11).
func (p *Policy) DataDigest() string {
	var d [2]uint64
	if p != nil && p.d != nil {
		d = p.d.digest
	}
	return fmt.Sprintf("%016x%016x", d[0], d[1])
}

// Inert counts the data records the policy cannot use (see Apply).
func (p *Policy) Inert() int {
	if p == nil || p.d == nil {
		return 0
	}
	return p.d.inert
}

// Grants counts the grants the policy holds from data.
func (p *Policy) Grants() int {
	if p == nil || p.d == nil {
		return 0
	}
	return p.d.grants.n
}

// applier builds the next data from a policy's current one.
type applier struct {
	p          *Policy
	old        *data
	subj, res  kindTxn
	grants     ptxn[[]*grant]
	grantCount int
	inert      int
	blocks     map[string]int // dynamic block id to its index
	digest     [2]uint64      // data.digest, as the changes move it
}

// kindTxn is one kind's transaction over its dynKind.
type kindTxn struct {
	kind     Kind
	m        *members
	base     dynKind
	parents  ptxn[[]int32]
	ids      ptxn[int32]
	names    vtxn[string]
	children vtxn[[]int32]
	closure  vtxn[[]int32]
	slots    vtxn[[]int32]
	size     vtxn[int32]
	overrid  int
	reach    int
	index    *pattern.Index // the subject index, for new groups' slots
	allSlot  int32
	newIDs   []int32
}

func newApplier(p *Policy) *applier {
	old := p.d
	if old == nil {
		old = &data{}
	}
	a := &applier{p: p, old: old, inert: old.inert, grantCount: old.grants.n, digest: old.digest}
	tag := new(ptxnTag)
	a.subj = newKindTxn(Subjects, p.subjects, old.subjects, tag)
	a.res = newKindTxn(Resources, p.resources, old.resources, tag)
	if p.subjectRoot {
		a.subj.index = &p.root.ix
		a.subj.allSlot = p.root.ix.AllSlot()
	}
	a.grants = old.grants.byResource.txnTagged(tag)
	a.blocks = make(map[string]int, len(p.dynamic))
	for i, b := range p.dynamic {
		a.blocks[b.ID] = i
	}
	return a
}

func newKindTxn(k Kind, m *members, d dynKind, tag *ptxnTag) kindTxn {
	return kindTxn{
		kind: k, m: m, base: d, overrid: d.overridden, reach: d.reach,
		parents: d.parents.txnTagged(tag), ids: d.ids.txnTagged(tag), names: d.names.txnTagged(tag),
		children: d.children.txnTagged(tag), closure: d.closure.txnTagged(tag), slots: d.slots.txnTagged(tag),
		size: d.size.txnTagged(tag),
	}
}

func (t *kindTxn) view() kindView {
	d := t.snapshot()
	return kindView{m: t.m, d: &d}
}

// snapshot is the kind as the transaction has it so far. The transaction
// goes on from it; the snapshot is read only while no write follows.
func (t *kindTxn) snapshot() dynKind {
	return dynKind{
		parents: t.parents.m, ids: t.ids.m, names: t.names.v, children: t.children.v,
		closure: t.closure.v, slots: t.slots.v, size: t.size.v, overridden: t.overrid, reach: t.reach,
	}
}

func (t *kindTxn) compiled() int32 { return int32(len(t.m.names)) }

// groupID returns the id of group name, making name a data group if it is
// not one yet.
func (t *kindTxn) groupID(name string) int32 {
	if id, ok := t.m.ids[name]; ok {
		return id
	}
	if id, ok := t.ids.get(name); ok {
		return id
	}
	id := t.compiled() + int32(t.names.push(name))
	t.ids.set(name, id)
	var slots []int32
	if t.index != nil {
		all := t.allSlot
		slots = slices.Clip(slices.DeleteFunc(t.index.Append(nil, name), func(s int32) bool { return s == all }))
	}
	t.slots.push(slots)
	t.size.push(0)
	t.grow(id)
	t.newIDs = append(t.newIDs, id)
	// name may already be a member of groups, in the file or the data:
	// as a group now, it is their child, so changes above them reach it.
	file := t.m.lookup[name].parents
	data, _ := t.parents.get(name)
	for _, p := range mergeSorted(file, data) {
		t.addChild(p, id)
	}
	return id
}

// addChild records that group id is a member of group g; removeChild
// that it is not.
func (t *kindTxn) addChild(g, id int32) {
	t.grow(g)
	kids := t.children.at(int(g))
	if j, in := slices.BinarySearch(kids, id); !in {
		t.children.set(int(g), slices.Clip(slices.Insert(slices.Clone(kids), j, id)))
	}
}

func (t *kindTxn) removeChild(g, id int32) {
	t.grow(g)
	kids := t.children.at(int(g))
	if j, in := slices.BinarySearch(kids, id); in {
		t.children.set(int(g), slices.Clip(slices.Delete(slices.Clone(kids), j, j+1)))
	}
}

// grow makes the per-id vectors long enough for id.
func (t *kindTxn) grow(id int32) {
	for t.children.v.Len() <= int(id) {
		t.children.push(nil)
	}
	for t.closure.v.Len() <= int(id) {
		t.closure.push(nil)
	}
}

// fileParent reports whether the file lists group id in group g.
func (t *kindTxn) fileParent(id, g int32) bool {
	return id < t.compiled() && slices.Contains(t.m.parents[id], g)
}

// isGroup reports whether name is a group, in the file or the data.
func (t *kindTxn) isGroup(name string) (int32, bool) {
	if id, ok := t.m.ids[name]; ok {
		return id, true
	}
	return t.ids.get(name)
}

// isRole reports whether name is a role of the file (data makes groups,
// never roles).
func (t *kindTxn) isRole(name string) bool {
	id, ok := t.m.ids[name]
	return ok && t.m.roles != nil && t.m.roles[id]
}

func (a *applier) change(c store.Change) {
	// Every change the store lists is effective: an add of a record that
	// was absent, a remove of one that was there; each toggles the
	// record's hash in the digest.
	h := sha256.Sum256([]byte(store.Write{Membership: c.Membership, Grant: c.Grant}.Key()))
	a.digest[0] ^= binary.LittleEndian.Uint64(h[:8])
	a.digest[1] ^= binary.LittleEndian.Uint64(h[8:16])
	switch {
	case c.Membership != nil:
		m := c.Membership
		t, member := &a.subj, m.Member
		if m.Member == "" {
			t, member = &a.res, m.Resource
		}
		if t.kind == Subjects && t.isRole(member) && !t.isRole(m.Group) {
			a.countInert(c.Op) // a group may not contain a role (SPEC 3.2)
			return
		}
		t.edge(member, m.Group, c.Op == store.OpAdd)
	case c.Grant != nil:
		a.grant(c)
	}
}

// edge adds or removes the membership of member in group.
func (t *kindTxn) edge(member, group string, add bool) {
	var g int32
	if add {
		g = t.groupID(group)
	} else {
		var ok bool
		if g, ok = t.isGroup(group); !ok {
			return
		}
	}
	old, _ := t.parents.get(member)
	i, found := slices.BinarySearch(old, g)
	var next []int32
	switch {
	case add && !found:
		next = slices.Insert(slices.Clone(old), i, g)
	case !add && found:
		next = slices.Delete(slices.Clone(old), i, i+1)
	default:
		return // adding what exists, removing what is absent
	}
	if len(next) == 0 {
		t.parents.del(member)
	} else {
		t.parents.set(member, slices.Clip(next))
	}
	if nb := t.compiled(); g >= nb {
		n := t.size.at(int(g - nb))
		if add {
			n++
		} else {
			n--
		}
		t.size.set(int(g-nb), n)
	}
	if id, ok := t.isGroup(member); ok {
		if add {
			t.addChild(g, id)
		} else if !slices.Contains(t.m.lookup[member].parents, g) && !t.fileParent(id, g) {
			t.removeChild(g, id) // unless the file lists it there too
		}
		t.newIDs = append(t.newIDs, id) // its closure, and its members', change
	}
}

// countInert keeps count of the records the policy cannot use: changes
// are effective (the store lists only those), so each add is a new one
// and each remove takes one away.
func (a *applier) countInert(op store.Op) {
	if op == store.OpAdd {
		a.inert++
	} else {
		a.inert--
	}
}

func (a *applier) grant(c store.Change) {
	g := c.Grant
	bi, ok := a.blocks[g.Rule]
	if !ok {
		a.countInert(c.Op)
		return
	}
	grants, _ := a.grants.get(g.Resource)
	at := slices.IndexFunc(grants, func(x *grant) bool { return x.same(g, int32(bi)) })
	switch {
	case c.Op == store.OpAdd && at < 0:
		b := a.p.dynamic[bi]
		src := Rule{ID: b.ID, Effect: g.Effect, Subject: g.Subject, Resource: g.Resource, Action: g.Action}
		ng := &grant{
			subject: g.Subject, resource: g.Resource, action: g.Action, reason: reason(src),
			effect: g.Effect, block: int32(bi),
			ord: order{pos: uint32(2*b.End + 1), blk: uint32(bi), seq: c.Revision<<20 | uint64(c.Index)},
		}
		i, _ := slices.BinarySearchFunc(grants, ng, compareGrants)
		grants = slices.Insert(slices.Clone(grants), i, ng)
		a.grantCount++
	case c.Op == store.OpRemove && at >= 0:
		grants = slices.Delete(slices.Clone(grants), at, at+1)
		a.grantCount--
	default:
		return
	}
	if len(grants) == 0 {
		a.grants.del(g.Resource)
		return
	}
	a.grants.set(g.Resource, slices.Clip(grants))
}

// compareGrants orders a resource's grants by subject, then document
// order.
func compareGrants(x, y *grant) int {
	if x.subject != y.subject {
		if x.subject < y.subject {
			return -1
		}
		return 1
	}
	switch {
	case x.ord.before(y.ord):
		return -1
	case y.ord.before(x.ord):
		return 1
	}
	return 0
}

// finish recomputes the closures the batch touched and returns the new
// data.
func (a *applier) finish(rev uint64) (*data, error) {
	for _, t := range []*kindTxn{&a.subj, &a.res} {
		if err := t.recompute(); err != nil {
			return nil, err
		}
	}
	d := &data{rev: rev, inert: a.inert, digest: a.digest}
	d.subjects = a.subj.done()
	d.resources = a.res.done()
	d.grants = dynGrants{byResource: a.grants.done(), n: a.grantCount}
	return d, nil
}

func (t *kindTxn) done() dynKind {
	return dynKind{
		parents: t.parents.done(), ids: t.ids.done(), names: t.names.done(), children: t.children.done(),
		closure: t.closure.done(), slots: t.slots.done(), size: t.size.done(), overridden: t.overrid, reach: t.reach,
	}
}

// recompute brings the closures of every group the batch touched, and of
// every group below them, up to date: the groups whose closure can
// contain a touched group are found by following members backwards, and
// their closures are computed again from their parents', component by
// component, as compiling does. Groups outside that set keep theirs; none
// of their paths went through a touched group.
func (t *kindTxn) recompute() error {
	if len(t.newIDs) == 0 {
		return nil
	}
	v := t.view()
	// Every group that reaches a touched group: the touched groups and
	// their members, transitively.
	affected := map[int32]bool{}
	queue := slices.Clone(t.newIDs)
	for _, id := range queue {
		affected[id] = true
	}
	for i := 0; i < len(queue); i++ {
		for _, c := range v.children(queue[i]) {
			if !affected[c] {
				affected[c] = true
				queue = append(queue, c)
			}
		}
	}
	slices.Sort(queue)
	comps := components(queue, func(id int32) []int32 { return v.parents(v.name(id)) }, affected)
	nb := t.compiled()
	closure := func(id int32) []int32 {
		if int(id) < t.closure.v.Len() {
			if c := t.closure.at(int(id)); c != nil || id >= nb {
				return c
			}
		}
		return t.m.closure[id]
	}
	for _, comp := range comps {
		// Every group of a component reaches every other; beyond them,
		// it reaches what their parents outside the component reach,
		// whose closures are final: outside the affected set they did
		// not change, and inside it their components came first.
		var set []int32
		for _, g := range comp {
			set = append(set, g)
		}
		for _, g := range comp {
			for _, p := range v.parents(v.name(g)) {
				if !slices.Contains(comp, p) {
					set = append(set, closure(p)...)
				}
			}
		}
		slices.Sort(set)
		set = slices.Clip(slices.Compact(set))
		for _, g := range comp {
			old := closure(g)
			t.reach += len(set) - len(old)
			if g < nb {
				overridden := int(g) < t.closure.v.Len() && t.closure.at(int(g)) != nil
				if slices.Equal(set, t.m.closure[g]) {
					if overridden {
						t.closure.set(int(g), nil)
						t.overrid--
					}
					continue
				}
				if !overridden {
					t.overrid++
				}
			}
			t.grow(g)
			t.closure.set(int(g), set)
		}
		if t.reach > maxMemberships {
			return &tooDeepError{kind: t.kind, group: v.name(comp[0]), reach: len(set)}
		}
	}
	t.newIDs = t.newIDs[:0]
	return nil
}

// components returns the strongly connected components of the graph on
// nodes (ascending) whose edges are parents, restricted to the nodes in
// set, each component after every component it reaches: Tarjan's
// algorithm with an explicit stack, as members.components.
func components(nodes []int32, parents func(int32) []int32, set map[int32]bool) [][]int32 {
	index := make(map[int32]int32, len(nodes))
	low := make(map[int32]int32, len(nodes))
	onStack := make(map[int32]bool, len(nodes))
	var (
		next  int32
		stack []int32
		comps [][]int32
	)
	type frame struct {
		v     int32
		edges []int32
		edge  int
	}
	for _, root := range nodes {
		if _, seen := index[root]; seen {
			continue
		}
		calls := []frame{{v: root, edges: parents(root)}}
		index[root], low[root] = next, next
		next++
		stack = append(stack, root)
		onStack[root] = true
		for len(calls) > 0 {
			f := &calls[len(calls)-1]
			v := f.v
			if f.edge < len(f.edges) {
				w := f.edges[f.edge]
				f.edge++
				if !set[w] {
					continue // outside: its closure stands
				}
				if _, seen := index[w]; !seen {
					index[w], low[w] = next, next
					next++
					stack = append(stack, w)
					onStack[w] = true
					calls = append(calls, frame{v: w, edges: parents(w)})
				} else if onStack[w] {
					low[v] = min(low[v], index[w])
				}
				continue
			}
			calls = calls[:len(calls)-1]
			if len(calls) > 0 {
				u := calls[len(calls)-1].v
				low[u] = min(low[u], low[v])
			}
			if low[v] == index[v] {
				var comp []int32
				for {
					w := stack[len(stack)-1]
					stack = stack[:len(stack)-1]
					onStack[w] = false
					comp = append(comp, w)
					if w == v {
						break
					}
				}
				comps = append(comps, comp)
			}
		}
	}
	return comps
}

// withSupplied merges into dst the subject's groups with those the caller
// supplied (SPEC 7.1): a supplied name that is a group, in the file or
// the data, brings its closure; any other name is kept in extra, so rules
// naming it match, and brings the groups it is a member of. The result is
// sorted and free of duplicates, like a closure, so each group is tried
// once.
func (v kindView) withSupplied(dst, groups []int32, supplied []string, extra []string) ([]int32, []string) {
	merged := false
	for _, name := range supplied {
		var closure []int32
		if id, ok := v.id(name); ok {
			closure = v.closure(id)
		} else {
			if !slices.Contains(extra, name) {
				extra = append(extra, name)
			}
			var buf [8]int32
			closure, _, _ = v.groupsOf(buf[:0], name)
		}
		if len(closure) == 0 {
			continue
		}
		if !merged {
			// groups may be a closure shared by the whole policy: copy it
			// before adding to it.
			dst = append(dst[:0], groups...)
			merged = true
		}
		dst = append(dst, closure...)
	}
	if !merged {
		return groups, extra
	}
	slices.Sort(dst)
	return slices.Compact(dst), extra
}

// directParents returns the groups that list name directly, by name or by
// a matching pattern, ascending. It allocates; only explanations use it.
func (v kindView) directParents(name string) []int32 {
	if name == "" {
		return nil
	}
	out := slices.Clone(v.parents(name))
	for _, s := range v.m.patterns.Append(nil, name) {
		out = append(out, v.m.patternGroups[s]...)
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// step is one group's place on the shortest chain from a name: the group
// before it (-1 when the name lists it directly, or a supplied name
// reaches it) and how many groups the chain has up to and including it.
// via is the supplied name, not itself a group, that the chain goes
// through, when it does.
type step struct {
	pred  int32
	depth int32
	via   string
}

// paths finds, for every group name reaches, one shortest chain of
// membership from name to it, by breadth-first search in id order so the
// chain is the same on every run (SPEC 5.5). Supplied groups are one step
// from name, as if name listed them.
func (v kindView) paths(name string, supplied []string) map[int32]step {
	steps := make(map[int32]step)
	queue := v.directParents(name)
	for _, g := range queue {
		steps[g] = step{pred: -1, depth: 1}
	}
	for _, s := range supplied {
		if g, ok := v.id(s); ok {
			if _, seen := steps[g]; !seen {
				steps[g] = step{pred: -1, depth: 1}
				queue = append(queue, g)
			}
		}
	}
	for _, s := range supplied {
		if _, ok := v.id(s); ok {
			continue
		}
		for _, g := range v.directParents(s) {
			if _, seen := steps[g]; !seen {
				steps[g] = step{pred: -1, depth: 2, via: s}
				queue = append(queue, g)
			}
		}
	}
	for i := 0; i < len(queue); i++ {
		g := queue[i]
		for _, p := range v.parents(v.name(g)) {
			if _, seen := steps[p]; !seen {
				steps[p] = step{pred: g, depth: steps[g].depth + 1}
				queue = append(queue, p)
			}
		}
	}
	return steps
}

// chain renders the membership chain from name to group g using pred from
// paths: ["user1", "g1", "g4", "admin"].
func (v kindView) chain(name string, g int32, steps map[int32]step) []string {
	var rev []string
	via := ""
	for {
		rev = append(rev, v.name(g))
		s, ok := steps[g]
		if !ok || s.pred < 0 {
			via = s.via
			break
		}
		g = s.pred
	}
	out := make([]string, 0, len(rev)+2)
	out = append(out, name)
	if via != "" {
		out = append(out, via)
	}
	for i := len(rev) - 1; i >= 0; i-- {
		out = append(out, rev[i])
	}
	return out
}
