package engine

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"slices"
	"strconv"
	"strings"

	"github.com/warden-authz/warden/internal/cond"
	"github.com/warden-authz/warden/internal/diag"
	"github.com/warden-authz/warden/internal/pattern"
)

// Policy is a compiled policy. It is immutable: every method is safe for
// concurrent use without locks, and a new policy replaces an old one by
// swapping a pointer. A nil *Policy denies every request.
type Policy struct {
	strategy   Strategy
	noMatch    Effect
	noMatchSet bool
	version    string

	subjects, resources, actions *members

	rules []rule // document order; a rule's index is its order

	// The rule index is a tree of buckets. The root splits the rules by
	// subject pattern, each bucket below by whichever of the dimensions
	// still open has the most distinct patterns, until a bucket is small
	// enough to check rule by rule. A request walks only the patterns that
	// match.
	root bucket
	// subjectRoot says the root splits by subject, so the subject slots
	// every known name matches are precomputed (members.attachSlots).
	subjectRoot bool

	noMatchOutcome outcome

	// schemas is set when resources must fit a declared schema
	// (Source.StrictSchemas); nil means any resource name is decided.
	schemas *schemaSet

	// dynamic are the blocks that take grants (SPEC 10.2); d is the
	// runtime data applied to this policy, nil for none (Apply).
	dynamic []DynamicBlock
	d       *data

	// cenv compiles and checks conditions (SPEC 12); nil when the policy
	// has neither conditions nor [context]. dynConds are the dynamic
	// blocks' conditions, by block; nil when none has one.
	cenv     *cond.Env
	dynConds []*ruleCond
	// ctxChecked: the policy has a [context] table, which requests'
	// context must agree with (SPEC 12.4).
	ctxChecked bool
}

// ruleCond is the condition of a rule item or of a dynamic block, with
// what deciding by the item says when it held and, for a deny, when it
// could not be evaluated (SPEC 12.5).
type ruleCond struct {
	c            *cond.Condition
	held, failed outcome
}

// bucket holds rules that share the patterns of the dimensions above it. A
// few rules are kept as a flat list checked pattern by pattern: that is
// faster than more maps, and it keeps related rules together in memory.
// More rules are split by the open dimension with the most distinct
// patterns among them, so each level narrows as much as it can.
type bucket struct {
	flat []flatRule
	dim  dimension // what ix indexes, when next is not empty
	ix   pattern.Index
	next []bucket // by slot of ix
}

type flatRule struct {
	pats [3]*pattern.Pattern // by dimension
	rule int32
}

// dimension numbers the three parts of a rule and of a request.
type dimension uint8

const (
	dimSubject dimension = iota
	dimAction
	dimResource
)

// flatMax is the most rules a bucket keeps as a flat list.
const flatMax = 8

type rule struct {
	src                        Rule
	subject, resource, action  *pattern.Pattern // shared by every rule with the same text
	outcome                    outcome          // what deciding by this rule says
	actionRank, resourceRank   int32            // most-specific: higher is more specific
	subjectLiteral, subjectAll bool
	ord                        order     // place in document order
	cond                       *ruleCond // nil: the item has no condition
}

// order is a rule's place in document order. The file's rule i is at
// (2i+2, 0, 0); the grants of the b-th dynamic block, whose own items end
// before rule e, are at (2e+1, b, seq): after rule e-1 and before rule e,
// block by block, in the order they were written (seq grows with the
// revision that wrote them).
type order struct {
	pos uint32
	blk uint32
	seq uint64
}

func (a order) before(b order) bool {
	if a.pos != b.pos {
		return a.pos < b.pos
	}
	if a.blk != b.blk {
		return a.blk < b.blk
	}
	return a.seq < b.seq
}

// Compile checks src and compiles it. It reports every problem it finds;
// when it finds any, it returns no policy, so a broken policy is never
// partly loaded (SPEC 6.2).
func Compile(src *Source) (*Policy, diag.List) {
	var errs diag.List
	if src == nil {
		src = &Source{}
	}
	p := &Policy{
		strategy:   src.Strategy,
		noMatch:    src.NoMatch,
		noMatchSet: src.NoMatchSet,
		subjects:   newMembers(Subjects),
		resources:  newMembers(Resources),
		actions:    newMembers(Actions),
	}
	if p.strategy > MostSpecific {
		errs.Add(diag.Pos{}, "unknown strategy %v", p.strategy)
	}
	switch p.noMatch {
	case EffectNone:
		p.noMatch = EffectDeny
	case EffectAllow, EffectDeny:
	default:
		errs.Add(diag.Pos{}, "unknown mismatch decision %v", p.noMatch)
	}
	compileGroups(p.subjects, src.Groups, &errs)
	compileGroups(p.resources, src.Resources, &errs)
	compileGroups(p.actions, src.Actions, &errs)
	p.schemas = compileSchemas(src.Schemas, src.StrictSchemas, &errs)
	conds := p.compileConditions(src, &errs)
	p.ctxChecked = p.cenv != nil && src.ContextSet && !src.DynamicContext
	p.compileRules(src.Rules, conds, &errs)
	p.dynamic = compileDynamic(src, &errs)
	p.dynConds = dynamicConditions(src.Dynamic, conds)
	if len(errs) > 0 {
		errs.Sort()
		return nil, errs
	}
	for _, k := range []struct {
		m      *members
		groups []Group
	}{{p.subjects, src.Groups}, {p.resources, src.Resources}, {p.actions, src.Actions}} {
		if err := k.m.finish(); err != nil {
			var deep *tooDeepError
			pos := diag.Pos{}
			if errors.As(err, &deep) {
				for _, g := range k.groups {
					if g.Name == deep.group {
						pos = g.Pos
						break
					}
				}
			}
			errs.Add(pos, "%v", err)
			return nil, errs
		}
	}
	p.buildIndex()
	p.version = src.Version
	if p.version == "" {
		p.version = version(src)
	}
	reason := fmt.Sprintf("no rule matched; the default mismatch decision is %q", p.noMatch)
	if p.noMatchSet {
		reason = fmt.Sprintf("no rule matched; rule_policy.mismatch_decision is %q", p.noMatch)
	}
	p.noMatchOutcome = outcome{allowed: p.noMatch == EffectAllow, reason: reason}
	return p, nil
}

// compileGroups declares every group of one kind, then adds their members,
// so a member may name a group declared further down.
func compileGroups(m *members, groups []Group, errs *diag.List) {
	declared := make(map[string]*Group, len(groups))
	for i := range groups {
		g := &groups[i]
		if err := pattern.CheckName(g.Name); err != nil {
			errs.Add(g.Pos, "%s name: %v", section(g), unwrapName(err))
			continue
		}
		if prev, dup := declared[g.Name]; dup {
			if prev.Role != g.Role || prev.Section != g.Section {
				errs.Add(g.Pos, "%q is declared both as %s (at %v) and as %s; %s share one namespace (SPEC 3.3)",
					g.Name, article(prev), prev.Pos, article(g), plural(m.kind))
			} else {
				errs.Add(g.Pos, "%s %q is declared twice (first at %v)", section(g), g.Name, prev.Pos)
			}
			continue
		}
		declared[g.Name] = g
		m.addGroup(g.Name, g.Role)
	}
	for i := range groups {
		g := &groups[i]
		id, ok := m.ids[g.Name]
		if !ok || declared[g.Name] != g {
			continue
		}
		for _, mem := range g.Members {
			addMember(m, g, id, mem, declared, errs)
		}
	}
}

func addMember(m *members, g *Group, id int32, mem Member, declared map[string]*Group, errs *diag.List) {
	if strings.ContainsAny(mem.Name, "*,") {
		p, err := pattern.Parse(mem.Name)
		switch {
		case err != nil:
			errs.Add(mem.Pos, "member of %s %q: %v", section(g), g.Name, unwrapPattern(err))
		case m.kind == Subjects:
			errs.Add(mem.Pos, "member %q of %s %q is a pattern; members of groups and roles are names (patterns are allowed in resource and action groups)",
				mem.Name, section(g), g.Name)
		default:
			m.addPattern(p, id)
		}
		return
	}
	if err := pattern.CheckName(mem.Name); err != nil {
		errs.Add(mem.Pos, "member of %s %q: %v", section(g), g.Name, unwrapName(err))
		return
	}
	target, isGroup := declared[mem.Name]
	if !isGroup {
		m.addEdge(-1, mem.Name, id)
		return
	}
	if m.kind == Subjects && target.Role && !g.Role {
		errs.Add(mem.Pos, "group %q lists role %q; groups may contain users and groups, and roles may contain groups and roles (SPEC 3.2): list %q in the role instead",
			g.Name, mem.Name, g.Name)
		return
	}
	m.addEdge(m.ids[mem.Name], mem.Name, id)
}

func section(g *Group) string {
	switch {
	case g.Section != "":
		return strings.TrimSuffix(g.Section, "s")
	case g.Role:
		return "role"
	}
	return "group"
}

func article(g *Group) string {
	s := section(g)
	if strings.IndexByte("aeiou", s[0]) >= 0 {
		return "an " + s
	}
	return "a " + s
}

func plural(k Kind) string {
	switch k {
	case Subjects:
		return "groups and roles"
	case Resources:
		return "resource groups"
	}
	return "action groups"
}

// unwrapName and unwrapPattern drop the sentinel's prefix: in a policy error
// the position and context already say what kind of thing is wrong.
func unwrapName(err error) string {
	return strings.TrimPrefix(err.Error(), pattern.ErrInvalidName.Error()+": ")
}

func unwrapPattern(err error) string {
	return strings.TrimPrefix(err.Error(), pattern.ErrInvalidPattern.Error()+": ")
}

func (p *Policy) compileRules(src []Rule, conds map[*Condition]*cond.Condition, errs *diag.List) {
	p.rules = make([]rule, 0, len(src))
	// Rules repeat the same patterns ("read", "*"); compiling each text
	// once lets them share memory, which keeps decisions in cache.
	cache := make(map[string]*pattern.Pattern)
	for _, r := range src {
		c := rule{src: r}
		ok := true
		parse := func(what, text string, pos diag.Pos) *pattern.Pattern {
			if pat, hit := cache[text]; hit {
				return pat
			}
			pat, err := pattern.Parse(text)
			if err != nil {
				errs.Add(pos, "%s: %s pattern: %v", itemName(r), what, unwrapPattern(err))
				ok = false
				return nil
			}
			cache[text] = &pat
			return &pat
		}
		c.subject = parse("subject", r.Subject, r.SubjectPos)
		c.resource = parse("resource", r.Resource, r.ResourcePos)
		c.action = parse("action", r.Action, r.ActionPos)
		if r.Effect != EffectAllow && r.Effect != EffectDeny {
			errs.Add(r.Pos, "%s: effect must be allow or deny", itemName(r))
			ok = false
		}
		if !ok {
			continue
		}
		c.subjectLiteral = c.subject.IsLiteral()
		c.subjectAll = c.subject.IsAll()
		c.ord = order{pos: uint32(2*len(p.rules) + 2)}
		c.outcome = outcome{allowed: r.Effect == EffectAllow, effect: r.Effect, rule: r.ID, item: r.Item, reason: reason(r)}
		if r.When != nil {
			cc, compiled := conds[r.When]
			if !compiled {
				continue // its error is reported
			}
			c.cond = &ruleCond{c: cc, held: c.outcome, failed: c.outcome}
			c.cond.held.reason = heldReason(c.outcome.reason, cc)
			c.cond.failed.reason = failedReason(c.outcome.reason, cc)
		}
		p.rules = append(p.rules, c)
	}
	if len(p.rules) > maxRules {
		errs.Add(diag.Pos{}, "%d rules, over the limit of %d", len(p.rules), maxRules)
	}
}

// compileDynamic checks the dynamic blocks: each once, each within the
// rules.
func compileDynamic(src *Source, errs *diag.List) []DynamicBlock {
	seen := map[string]bool{}
	for _, b := range src.Dynamic {
		switch {
		case seen[b.ID]:
			errs.Add(b.Pos, "rule block %s is declared dynamic twice", b.ID)
		case b.End < 0 || b.End > len(src.Rules):
			errs.Add(b.Pos, "rule block %s: dynamic block ends at item %d of %d", b.ID, b.End, len(src.Rules))
		}
		seen[b.ID] = true
	}
	return slices.Clone(src.Dynamic)
}

// maxRules keeps rule indexes within int32 with room to spare.
const maxRules = 1 << 28

// itemName names one rule item as a user reads it: rules.r1 allow[2].
func itemName(r Rule) string {
	return fmt.Sprintf("%s %s[%d]", r.ID, r.Effect, r.Item)
}

// reason renders AccessControl's sentence for a rule item (SPEC 5.4). It is
// built once, at compile time, so deciding never formats strings.
func reason(r Rule) string {
	// Appended, not formatted: runtime grants build one each, by the
	// million when a store loads.
	b := make([]byte, 0, 40+len(r.ID)+len(r.Subject)+len(r.Action)+len(r.Resource))
	b = append(b, '[')
	b = append(b, r.ID...)
	b = append(b, "] "...)
	b = strconv.AppendQuote(b, r.Subject)
	if r.Effect == EffectDeny {
		b = append(b, " is not allowed to do "...)
	} else {
		b = append(b, " is allowed to do "...)
	}
	if r.Action == "*" {
		b = append(b, `"any action"`...)
	} else {
		b = strconv.AppendQuote(b, r.Action)
	}
	b = append(b, " on "...)
	b = strconv.AppendQuote(b, r.Resource)
	return string(b)
}

func (p *Policy) buildIndex() {
	actionRanks := rankPatterns(p.rules, func(r *rule) *pattern.Pattern { return r.action })
	resourceRanks := rankPatterns(p.rules, func(r *rule) *pattern.Pattern { return r.resource })
	all := make([]int32, len(p.rules))
	for i := range p.rules {
		r := &p.rules[i]
		r.actionRank = actionRanks[r.action.String()]
		r.resourceRank = resourceRanks[r.resource.String()]
		all[i] = int32(i)
	}
	p.buildBucket(&p.root, all, [3]bool{true, true, true}, true)
	p.subjectRoot = len(p.root.next) > 0 && p.root.dim == dimSubject
	if p.subjectRoot {
		p.subjects.attachSlots(&p.root.ix)
	}
}

// buildBucket fills b with rules, splitting them by whichever open
// dimension has the most distinct patterns; ties go to subject, then
// resource, so the choice is deterministic.
//
// The root prefers subjects whenever they split the rules at all. A count
// of distinct patterns says nothing of how costly they are to look up:
// subject patterns are mostly literal names, whose slots are precomputed,
// while a resource-first trie over many globs scans every glob edge of a
// namespace. Measured on the glob workload, subject first is twice as fast.
func (p *Policy) buildBucket(b *bucket, rules []int32, open [3]bool, root bool) {
	var counts [3]int
	if len(rules) > flatMax {
		for d := range counts {
			if !open[d] {
				continue
			}
			seen := make(map[*pattern.Pattern]struct{})
			for _, i := range rules {
				seen[p.rules[i].pattern(dimension(d))] = struct{}{}
			}
			counts[d] = len(seen)
		}
	}
	best := dimSubject
	for _, d := range []dimension{dimResource, dimAction} {
		if counts[d] > counts[best] {
			best = d
		}
	}
	if root && counts[dimSubject] > 1 {
		best = dimSubject
	}
	if counts[best] <= 1 {
		b.flat = make([]flatRule, len(rules))
		for j, i := range rules {
			r := &p.rules[i]
			b.flat[j] = flatRule{pats: [3]*pattern.Pattern{r.subject, r.action, r.resource}, rule: i}
		}
		return
	}
	b.dim = best
	var groups [][]int32
	for _, i := range rules {
		s := b.ix.Add(*p.rules[i].pattern(best))
		if int(s) == len(groups) {
			groups = append(groups, nil)
		}
		groups[s] = append(groups[s], i)
	}
	b.ix.Freeze()
	open[best] = false
	b.next = make([]bucket, len(groups))
	for s, sub := range groups {
		p.buildBucket(&b.next[s], sub, open, false)
	}
}

func (r *rule) pattern(d dimension) *pattern.Pattern {
	switch d {
	case dimSubject:
		return r.subject
	case dimAction:
		return r.action
	}
	return r.resource
}

// rankPatterns numbers the distinct patterns of one dimension by
// specificity (SPEC 2.4), equal patterns equal numbers, so most-specific
// compares two integers per dimension at decision time.
func rankPatterns(rules []rule, get func(*rule) *pattern.Pattern) map[string]int32 {
	seen := make(map[string]bool)
	var pats []pattern.Pattern
	for i := range rules {
		pat := get(&rules[i])
		if !seen[pat.String()] {
			seen[pat.String()] = true
			pats = append(pats, *pat)
		}
	}
	sortPatterns(pats)
	ranks := make(map[string]int32, len(pats))
	var rank int32
	for i, pat := range pats {
		if i > 0 && pattern.Compare(pats[i-1], pat) != 0 {
			rank++
		}
		ranks[pat.String()] = rank
	}
	return ranks
}

// sortPatterns orders patterns from least to most specific; equal patterns
// keep source-text order so the ranking is deterministic.
func sortPatterns(pats []pattern.Pattern) {
	slices.SortStableFunc(pats, func(a, b pattern.Pattern) int {
		if c := pattern.Compare(a, b); c != 0 {
			return c
		}
		switch {
		case a.String() < b.String():
			return -1
		case a.String() > b.String():
			return 1
		}
		return 0
	})
}

// version is a content hash of everything that affects decisions, so two
// processes that load the same policy report the same version (SPEC 5.5)
// and a change of comments or layout does not look like a new policy.
func version(src *Source) string {
	h := sha256.New()
	str := func(s string) {
		writeLen(h, len(s))
		h.Write([]byte(s))
	}
	for _, groups := range [][]Group{src.Groups, src.Resources, src.Actions} {
		writeLen(h, len(groups))
		for _, g := range groups {
			str(g.Section)
			str(g.Name)
			writeLen(h, boolInt(g.Role))
			writeLen(h, len(g.Members))
			for _, m := range g.Members {
				str(m.Name)
			}
		}
	}
	writeLen(h, len(src.Rules))
	for _, r := range src.Rules {
		str(r.ID)
		writeLen(h, r.Item)
		writeLen(h, int(r.Effect))
		str(r.Subject)
		str(r.Resource)
		str(r.Action)
	}
	writeLen(h, int(src.Strategy))
	noMatch := src.NoMatch
	if noMatch == EffectNone {
		noMatch = EffectDeny
	}
	writeLen(h, int(noMatch))
	writeLen(h, boolInt(src.NoMatchSet)) // it changes the reasons decisions give
	if len(src.Dynamic) > 0 {
		// Which blocks take grants changes decisions; hashing nothing
		// otherwise keeps the versions of policies without them as they
		// were.
		writeLen(h, len(src.Dynamic))
		for _, b := range src.Dynamic {
			str(b.ID)
			writeLen(h, b.End)
		}
	}
	if hasConditions(src) {
		// Conditions, the context they read and the cost limit change
		// decisions; hashing nothing otherwise keeps the versions of
		// policies without them as they were.
		for i, r := range src.Rules {
			if r.When != nil {
				writeLen(h, i)
				str(r.When.Text)
			}
		}
		for i, b := range src.Dynamic {
			if b.When != nil {
				writeLen(h, i)
				str(b.When.Text)
			}
		}
		writeLen(h, len(src.Context))
		for _, a := range src.Context {
			str(a.Name)
			str(a.Type)
		}
		writeLen(h, boolInt(src.ContextSet))
		writeLen(h, boolInt(src.DynamicContext))
		writeLen(h, int(src.CostLimit))
	}
	if src.StrictSchemas {
		// Only strict schemas change decisions; hashing nothing otherwise
		// keeps the versions of policies without them as they were.
		writeLen(h, len(src.Schemas))
		for _, s := range src.Schemas {
			str(s.Name)
			str(s.Template)
		}
	}
	return "sha256:" + hex.EncodeToString(h.Sum(nil))[:16]
}

func writeLen(h hash.Hash, n int) {
	var b [8]byte
	binary.LittleEndian.PutUint64(b[:], uint64(n))
	h.Write(b[:])
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

// Errors a request can get. A request error is not a deny: the caller
// learns that the request itself was malformed (SPEC 1.3).
var (
	ErrInvalidRequest = errors.New("invalid request")
	ErrNoPolicy       = errors.New("no policy loaded")
)
