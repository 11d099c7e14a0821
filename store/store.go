// Package store defines warden's runtime data and the stores that keep it
// (SPEC 10).
//
// The policy file is the model: people write, review and deploy it. The
// data changes every second as an application runs: a user joins a team
// (a Membership), a document is shared (a Grant). Data is written in
// atomic batches; each committed batch gets the next Revision, so every
// decision can say which state it saw, and a caller can ask for a state
// that includes its own write.
//
// A Store keeps the data and its changelog. It is shaped like audit.Sink:
// a small interface with its concurrency rules written down, and a
// conformance suite, storetest, that any store can run. Provided:
// store.Memory (tests), store/sqlite (the embedded default) and
// store/postgres (a fleet's shared store).
//
// A store checks what it can check alone: every name is a valid literal
// name, every write is one membership or one grant, batches are bounded.
// What depends on the policy (is this block dynamic? would this make a
// group contain a role?) is checked by the engine before it writes.
package store

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/warden-authz/warden/internal/pattern"
	"github.com/warden-authz/warden/types"
)

// Revision numbers committed batches: 1 for the first, then 2, 3, …, with
// no gaps. Revision 0 is the empty store before any write.
type Revision = uint64

// Op is what a write does.
type Op uint8

const (
	// OpAdd adds a record; adding a record that exists changes nothing.
	OpAdd Op = iota + 1
	// OpRemove removes a record; removing one that is absent changes
	// nothing.
	OpRemove
)

func (o Op) String() string {
	switch o {
	case OpAdd:
		return "add"
	case OpRemove:
		return "remove"
	}
	return fmt.Sprintf("Op(%d)", uint8(o))
}

// MarshalText renders "add" or "remove".
func (o Op) MarshalText() ([]byte, error) {
	if o != OpAdd && o != OpRemove {
		return nil, fmt.Errorf("store: unknown op %d", uint8(o))
	}
	return []byte(o.String()), nil
}

// UnmarshalText accepts "add" and "remove".
func (o *Op) UnmarshalText(b []byte) error {
	switch string(b) {
	case "add":
		*o = OpAdd
	case "remove":
		*o = OpRemove
	default:
		return fmt.Errorf("store: unknown op %q (want add or remove)", pattern.Shorten(string(b)))
	}
	return nil
}

// Membership puts a subject in a group or role, or a resource in a
// resource group (SPEC 10.2). Exactly one of Member and Resource is set.
// Group is a group or role of the policy, a resource group of it, or a
// new name, which becomes a group.
type Membership struct {
	Member   string `json:"member,omitempty"`
	Resource string `json:"resource,omitempty"`
	Group    string `json:"group"`
}

// Grant is one item of a rule block the policy declares dynamic: Effect
// for Subject on Resource for Action, every name literal (SPEC 10.2). Its
// place in document order is after the block's own items, in the order
// grants were written.
type Grant struct {
	Rule     string       `json:"rule"`
	Effect   types.Effect `json:"effect"`
	Subject  string       `json:"subject"`
	Resource string       `json:"resource"`
	Action   string       `json:"action"`
}

// Write is one change of a batch: an Op on exactly one of Membership and
// Grant.
type Write struct {
	Op         Op          `json:"op"`
	Membership *Membership `json:"membership,omitempty"`
	Grant      *Grant      `json:"grant,omitempty"`
}

// Batch is an atomic set of writes (SPEC 10.3): all are applied, or none.
// With IfRevision set, the batch is refused with ErrRevisionConflict
// unless the store is at exactly that revision.
type Batch struct {
	Writes     []Write   `json:"writes"`
	IfRevision *Revision `json:"if_revision,omitempty"`
}

// Record is one membership or grant the store holds. Added is the
// revision that added it and Index its place in that batch: grants are in
// document order by (Added, Index).
type Record struct {
	Membership *Membership `json:"membership,omitempty"`
	Grant      *Grant      `json:"grant,omitempty"`
	Added      Revision    `json:"added"`
	Index      int         `json:"index"`
}

// Change is one write a committed batch applied: it is in the changelog
// only when it changed something (adding what existed or removing what
// was absent is not a change). Index is the write's place in its batch.
type Change struct {
	Revision   Revision    `json:"revision"`
	Index      int         `json:"index"`
	Op         Op          `json:"op"`
	Membership *Membership `json:"membership,omitempty"`
	Grant      *Grant      `json:"grant,omitempty"`
}

// Filter selects records for List. Empty fields select everything; set
// fields must all match. Member matches a membership's member, Group its
// group, Resource a membership's resource or a grant's resource, Rule and
// Subject a grant's. After is a cursor: the next of the previous page.
// Set fields must be valid names, as written records' are, so a filter
// can never be a pattern (Check).
type Filter struct {
	Member, Group, Resource, Rule, Subject string
	// Kind limits the listing to memberships or to grants.
	Kind  Kind
	After string
	// Limit is the most records returned; 0 means DefaultLimit, and more
	// than MaxLimit is an error.
	Limit int
}

// Kind says which records a Filter lists.
type Kind uint8

const (
	AnyKind Kind = iota
	Memberships
	Grants
)

// Check validates a filter: every set name is a valid literal name, Kind
// is known, Limit is 0 to MaxLimit and After is empty or a cursor. The
// error wraps ErrInvalid and names the field.
func (f Filter) Check() error {
	for _, c := range []struct{ field, v string }{
		{"member", f.Member}, {"group", f.Group}, {"resource", f.Resource}, {"rule", f.Rule}, {"subject", f.Subject},
	} {
		if c.v != "" {
			if err := checkName("filter", c.field, c.v); err != nil {
				return err
			}
		}
	}
	if f.Kind > Grants {
		return fmt.Errorf("%w: filter: unknown kind %d", ErrInvalid, f.Kind)
	}
	if f.Limit < 0 || f.Limit > MaxLimit {
		return fmt.Errorf("%w: filter: limit %d is outside 0 to %d", ErrInvalid, f.Limit, MaxLimit)
	}
	if f.After != "" {
		if _, _, err := ParseCursor(f.After); err != nil {
			return err
		}
	}
	return nil
}

// Cursor returns the cursor that lists the records after position
// (added, index) in List's order: the After of the next page once a page
// ended with the record (added, index). Its form, "added.index" in
// decimal, is the same in every store, so a cursor from one instance of a
// fleet works on another; callers treat it as opaque.
func Cursor(added Revision, index int) string {
	return strconv.FormatUint(added, 10) + "." + strconv.Itoa(index)
}

// ParseCursor returns the position a cursor names. It accepts exactly
// what Cursor returns for a possible record (added at least 1, index
// below MaxBatch): no signs, spaces or leading zeros, so each position
// has one spelling. A cursor past every record is valid; it lists
// nothing. The error wraps ErrInvalid.
func ParseCursor(s string) (added Revision, index int, err error) {
	a, i, ok := strings.Cut(s, ".")
	bad := func(why string) (Revision, int, error) {
		return 0, 0, fmt.Errorf("%w: cursor %q: %s (want the next of a List page)", ErrInvalid, pattern.Shorten(s), why)
	}
	if !ok || !decimal(a) || !decimal(i) {
		return bad("not two decimal numbers joined by a dot")
	}
	added, err = strconv.ParseUint(a, 10, 64)
	if err != nil || added == 0 {
		return bad("revision out of range")
	}
	n, err := strconv.ParseUint(i, 10, 32)
	if err != nil || n >= MaxBatch {
		return bad("index out of range")
	}
	return added, int(n), nil
}

// decimal reports whether s is a decimal number without sign or leading
// zero.
func decimal(s string) bool {
	if s == "" || len(s) > 20 || (s[0] == '0' && len(s) > 1) {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// Limits. Every name is at most 1024 bytes, so they bound memory in
// bytes too: a batch, a List page or a page of Changes holds at most
// 10,000 records of at most 5 KiB each.
const (
	// MaxBatch is the most writes one batch may hold; a larger batch is
	// refused whole with ErrInvalid.
	MaxBatch = 10000
	// DefaultLimit and MaxLimit bound one page of List and Changes. A
	// limit below 0 or above MaxLimit is an error wrapping ErrInvalid.
	DefaultLimit = 100
	MaxLimit     = 10000
)

// Errors a store returns. Each is wrapped with what and where.
var (
	// ErrInvalid: the input is malformed: a batch or a write in it (a
	// pattern character in a name, an empty name, both or neither of
	// membership and grant, an unknown op, over MaxBatch), a filter, a
	// cursor, a limit, or a policy version. Nothing was written.
	ErrInvalid = errors.New("invalid input")
	// ErrRevisionConflict: IfRevision was set and the store is at another
	// revision. Nothing was written.
	ErrRevisionConflict = errors.New("revision conflict")
	// ErrRevisionUnavailable: the changes after a revision are no longer,
	// or not yet, in the changelog.
	ErrRevisionUnavailable = errors.New("revision unavailable")
	// ErrUnavailable: the store cannot be reached; a retry may succeed.
	// When a networked store loses its connection while a batch commits,
	// Write cannot know whether the commit happened: it returns
	// ErrUnavailable, and the batch may have been committed. A writer
	// that must know sets IfRevision, or reads Changes.
	ErrUnavailable = errors.New("store unavailable")
	// ErrClosed: the store was closed, or is the zero value.
	ErrClosed = errors.New("store closed")
)

// Store keeps runtime data and its changelog.
//
// Every method may be called from many goroutines at once. Write is
// linearizable: batches commit one after another, each with the next
// revision, and a batch whose Write returned is durable (it survives a
// crash of the process, and of the machine for durable stores) and
// visible to every later Snapshot, Changes, List and Revision. A method
// that returns an error has changed nothing (but see ErrUnavailable).
type Store interface {
	// Write checks and commits a batch and returns its revision. A batch
	// of writes that change nothing, or of no writes, still commits, with
	// a new revision. Write does not keep b: the caller may reuse it, and
	// the records Snapshot, Changes and List return are the caller's.
	Write(ctx context.Context, b Batch) (Revision, error)
	// Snapshot calls fn with every record at one revision, which it
	// returns: memberships in any order, grants in document order. An
	// error from fn stops it and is returned.
	Snapshot(ctx context.Context, fn func(Record) error) (Revision, error)
	// Changes returns a page of the changes after revision after, in
	// order (by revision, then index), and through: the page holds every
	// change of the revisions after+1 to through, and none later. The
	// next page starts after through; once through is the latest
	// revision the reader has caught up (it may then Wait). Revisions
	// whose batches changed nothing are passed over in through, so a
	// reader reaches them too.
	//
	// A page holds whole revisions, never part of one, so a reader can
	// apply each page atomically: as many as fit in limit changes (0
	// means DefaultLimit), or, when the first revision alone holds more,
	// that one revision (at most MaxBatch changes). It returns
	// ErrRevisionUnavailable when after is beyond the latest revision, or
	// the changes after it are no longer kept.
	Changes(ctx context.Context, after Revision, limit int) (changes []Change, through Revision, err error)
	// List returns one page of the records f selects, in the order they
	// were added, (Added, Index), and the cursor of the next page: "" when
	// no selected record follows the page.
	List(ctx context.Context, f Filter) (records []Record, next string, err error)
	// Revision returns the latest committed revision.
	Revision(ctx context.Context) (Revision, error)
	// Close releases the store. Every other call after Close, and every
	// call on the zero value, returns ErrClosed; Close itself may be
	// called again, and on the zero value, and then returns nil.
	Close() error
}

// Notifier is a Store that can wake its readers when a batch commits, so
// that they need not poll. Wait returns the latest revision once it is
// past after, ctx's error once ctx is done, or ErrClosed once the store
// is closed. A store shared by several processes wakes on commits made
// by any of them (PostgreSQL by notification, SQLite by polling). Wait
// does not report outages: a reader learns of them from Changes.
type Notifier interface {
	Wait(ctx context.Context, after Revision) (Revision, error)
}

// Check validates a batch as every store must before writing it: the
// size bound, each write's shape and every name (SPEC 1, 10.2), so data
// written from user input can never become a pattern. The error wraps
// ErrInvalid and names the write by its index.
func (b Batch) Check() error {
	if len(b.Writes) > MaxBatch {
		return fmt.Errorf("%w: %d writes, over the limit of %d", ErrInvalid, len(b.Writes), MaxBatch)
	}
	for i, w := range b.Writes {
		if err := w.Check(); err != nil {
			return fmt.Errorf("writes[%d]: %w", i, err)
		}
	}
	return nil
}

// Check validates one write (see Batch.Check).
func (w Write) Check() error {
	if w.Op != OpAdd && w.Op != OpRemove {
		return fmt.Errorf("%w: op must be add or remove", ErrInvalid)
	}
	switch {
	case (w.Membership == nil) == (w.Grant == nil):
		return fmt.Errorf("%w: a write holds exactly one of membership and grant", ErrInvalid)
	case w.Membership != nil:
		return w.Membership.Check()
	}
	return w.Grant.Check()
}

// Check validates a membership.
func (m *Membership) Check() error {
	if (m.Member == "") == (m.Resource == "") {
		return fmt.Errorf("%w: membership: exactly one of member and resource is set", ErrInvalid)
	}
	if m.Member != "" {
		if err := checkName("membership", "member", m.Member); err != nil {
			return err
		}
	} else if err := checkName("membership", "resource", m.Resource); err != nil {
		return err
	}
	return checkName("membership", "group", m.Group)
}

// Check validates a grant.
func (g *Grant) Check() error {
	if g.Effect != types.EffectAllow && g.Effect != types.EffectDeny {
		return fmt.Errorf("%w: grant: effect must be allow or deny", ErrInvalid)
	}
	for _, f := range []struct{ field, v string }{
		{"rule", g.Rule}, {"subject", g.Subject}, {"resource", g.Resource}, {"action", g.Action},
	} {
		if err := checkName("grant", f.field, f.v); err != nil {
			return err
		}
	}
	return nil
}

func checkName(what, field, name string) error {
	if err := pattern.CheckName(name); err != nil {
		return fmt.Errorf("%w: %s: %s: %w", ErrInvalid, what, field, err)
	}
	return nil
}

// Key identifies a record: two writes with the same key add or remove
// the same record. Grants are keyed by every field, so the same subject,
// resource and action under two effects are two records.
func (w Write) Key() string {
	if m := w.Membership; m != nil {
		if m.Member != "" {
			return "m\x00" + m.Member + "\x00" + m.Group
		}
		return "r\x00" + m.Resource + "\x00" + m.Group
	}
	if g := w.Grant; g != nil {
		return "g\x00" + g.Rule + "\x00" + g.Effect.String() + "\x00" + g.Subject + "\x00" + g.Resource + "\x00" + g.Action
	}
	return ""
}
