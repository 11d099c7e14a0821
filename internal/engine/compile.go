package engine

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"strconv"
	"strings"

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

	// The rule index has one level per dimension: subject patterns lead to
	// action patterns, which lead to resource patterns, which lead to rules.
	// A request walks each level only along the patterns that match it.
	subjectIx pattern.Index
	byAction  []actionLevel // by subject slot

	noMatchReason string
}

// actionLevel holds the rules under one subject pattern. A few rules are
// kept as a flat list checked pattern by pattern: with a handful of rules
// that is faster than two more levels of maps, and it keeps the rules of a
// subject in one place in memory. More rules get nested indexes.
type actionLevel struct {
	flat       []flatRule
	ix         pattern.Index
	byResource []resourceLevel // by action slot
}

type flatRule struct {
	action, resource pattern.Pattern
	rule             int32
}

// flatMax is the most rules a subject pattern keeps in a flat list.
const flatMax = 8

type resourceLevel struct {
	ix    pattern.Index
	rules [][]int32 // by resource slot: rule indexes, ascending
}

type rule struct {
	src                        Rule
	subject, resource, action  pattern.Pattern
	reason                     string
	actionRank, resourceRank   int32 // most-specific: higher is more specific
	subjectLiteral, subjectAll bool
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
	if _, ok := strategyOK[p.strategy]; !ok {
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
	p.compileRules(src.Rules, &errs)
	if len(errs) > 0 {
		errs.Sort()
		return nil, errs
	}
	p.subjects.finish()
	p.resources.finish()
	p.actions.finish()
	p.buildIndex()
	p.version = version(src)
	if p.noMatchSet {
		p.noMatchReason = fmt.Sprintf("no rule matched; rule_policy.mismatch_decision is %q", p.noMatch)
	} else {
		p.noMatchReason = fmt.Sprintf("no rule matched; the default mismatch decision is %q", p.noMatch)
	}
	return p, nil
}

var strategyOK = map[Strategy]struct{}{DenyOverrides: {}, AllowOverrides: {}, FirstMatch: {}, MostSpecific: {}}

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

func (p *Policy) compileRules(src []Rule, errs *diag.List) {
	p.rules = make([]rule, 0, len(src))
	// Rules repeat the same patterns ("read", "*"); compiling each text
	// once lets them share memory, which keeps decisions in cache.
	cache := make(map[string]pattern.Pattern)
	for _, r := range src {
		c := rule{src: r}
		ok := true
		parse := func(what, text string, pos diag.Pos) pattern.Pattern {
			if pat, hit := cache[text]; hit {
				return pat
			}
			pat, err := pattern.Parse(text)
			if err == nil {
				cache[text] = pat
			}
			if err != nil {
				errs.Add(pos, "%s: %s pattern: %v", itemName(r), what, unwrapPattern(err))
				ok = false
			}
			return pat
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
		c.reason = reason(r)
		p.rules = append(p.rules, c)
	}
	if len(p.rules) > maxRules {
		errs.Add(diag.Pos{}, "%d rules, over the limit of %d", len(p.rules), maxRules)
	}
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
	verb := "is allowed"
	if r.Effect == EffectDeny {
		verb = "is not allowed"
	}
	action := strconv.Quote(r.Action)
	if r.Action == "*" {
		action = `"any action"`
	}
	return fmt.Sprintf("[%s] %s %s to do %s on %s", r.ID, strconv.Quote(r.Subject), verb, action, strconv.Quote(r.Resource))
}

func (p *Policy) buildIndex() {
	actionRanks := rankPatterns(p.rules, func(r *rule) pattern.Pattern { return r.action })
	resourceRanks := rankPatterns(p.rules, func(r *rule) pattern.Pattern { return r.resource })
	var bySubject [][]int32
	for i := range p.rules {
		r := &p.rules[i]
		r.actionRank = actionRanks[r.action.String()]
		r.resourceRank = resourceRanks[r.resource.String()]
		s := p.subjectIx.Add(r.subject)
		if int(s) == len(bySubject) {
			bySubject = append(bySubject, nil)
		}
		bySubject[s] = append(bySubject[s], int32(i))
	}
	p.byAction = make([]actionLevel, len(bySubject))
	for s, rules := range bySubject {
		al := &p.byAction[s]
		if len(rules) <= flatMax {
			al.flat = make([]flatRule, len(rules))
			for j, i := range rules {
				al.flat[j] = flatRule{action: p.rules[i].action, resource: p.rules[i].resource, rule: i}
			}
			continue
		}
		for _, i := range rules {
			r := &p.rules[i]
			a := al.ix.Add(r.action)
			if int(a) == len(al.byResource) {
				al.byResource = append(al.byResource, resourceLevel{})
			}
			rl := &al.byResource[a]
			x := rl.ix.Add(r.resource)
			if int(x) == len(rl.rules) {
				rl.rules = append(rl.rules, nil)
			}
			rl.rules[x] = append(rl.rules[x], i)
		}
		al.ix.Freeze()
		for j := range al.byResource {
			al.byResource[j].ix.Freeze()
		}
	}
	p.subjects.attachSlots(&p.subjectIx)
	p.subjectIx.Freeze()
}

// rankPatterns numbers the distinct patterns of one dimension by
// specificity (SPEC 2.4), equal patterns equal numbers, so most-specific
// compares two integers per dimension at decision time.
func rankPatterns(rules []rule, get func(*rule) pattern.Pattern) map[string]int32 {
	seen := make(map[string]bool)
	var pats []pattern.Pattern
	for i := range rules {
		pat := get(&rules[i])
		if !seen[pat.String()] {
			seen[pat.String()] = true
			pats = append(pats, pat)
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
