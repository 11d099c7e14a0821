package store

import (
	"context"
	"errors"
	"fmt"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/warden-authz/warden/internal/pattern"
)

// PolicyVersion is one policy file kept in a store (SPEC 11.3): a fleet's
// instances started with a store and no file follow the store's current
// version. Seq numbers the store's policy history: 1 for the first
// publish, then one more for each publish and each rollback, with no
// gaps.
type PolicyVersion struct {
	Seq uint64 `json:"seq"`
	// Version is the policy's content hash, as decisions report it.
	Version string `json:"version"`
	// Name is the file name it was published from, for error positions.
	Name string `json:"name"`
	// Text is the policy file, as published, byte for byte.
	Text []byte `json:"text,omitempty"`
	// Time is when the entry was made, as the store keeps it (to the
	// microsecond in SQLite and PostgreSQL): Publish and Rollback return
	// the time later reads return.
	Time time.Time `json:"time"`
	// RollbackOf is, for a rollback, the Seq of the entry it restored:
	// the newest entry of the history with that Version.
	RollbackOf uint64 `json:"rollback_of,omitempty"`
}

// Policies is a Store that keeps policy versions too. Like Store, every
// method may be called from many goroutines at once; publishes and
// rollbacks are linearizable, each with the next Seq, and one that
// returned is durable and visible to every later call, in every process
// sharing the store. A method that returns an error has changed nothing
// (but see ErrUnavailable). After Close, and on the zero value, every
// method returns ErrClosed.
//
// A store does not check that a policy loads; the caller must (warden
// publish compiles it first), so that a file that does not load is never
// published.
type Policies interface {
	// Publish checks v (PolicyVersion.Check), stores it as a new entry
	// of the history and makes it current. Seq, Time and RollbackOf are
	// set by the store; Version, Name and Text by the caller. It returns
	// the entry, without its text.
	Publish(ctx context.Context, v PolicyVersion) (PolicyVersion, error)
	// CurrentPolicy returns the current version, with its text, or
	// ErrNoPolicy when none was published.
	CurrentPolicy(ctx context.Context) (PolicyVersion, error)
	// PolicyHistory returns up to limit entries, newest first, without
	// their texts (0 means DefaultLimit; below 0 or over MaxLimit is
	// ErrInvalid).
	PolicyHistory(ctx context.Context, limit int) ([]PolicyVersion, error)
	// Rollback makes the version with content hash version current
	// again, as a new entry of the history with the text and name of
	// the newest entry holding that version, and returns the new entry
	// without its text. A version the history does not hold is
	// ErrNoPolicy.
	Rollback(ctx context.Context, version string) (PolicyVersion, error)
	// WaitPolicy returns the current Seq once it is past after, ctx's
	// error once ctx is done, or ErrClosed once the store is closed. It
	// wakes on publishes and rollbacks made through any process sharing
	// the store within a second, so that a fleet's instances switch
	// within a second (SPEC 11.3). Like Notifier.Wait, it does not
	// report outages.
	WaitPolicy(ctx context.Context, after uint64) (uint64, error)
}

// ErrNoPolicy: the store holds no policy version, or not the one asked
// for.
var ErrNoPolicy = errors.New("no policy published")

// Limits of a published version, so that a history is bounded in bytes:
// a page of PolicyHistory holds at most MaxLimit entries of about 4 KiB.
const (
	// MaxPolicyBytes bounds a published policy file.
	MaxPolicyBytes = 16 << 20
	// MaxPolicyVersionBytes bounds a version (a content hash).
	MaxPolicyVersionBytes = 128
	// MaxPolicyNameBytes bounds a version's file name (PATH_MAX).
	MaxPolicyNameBytes = 4096
)

// Check validates a version before it is published: the version is a
// content hash of 1 to MaxPolicyVersionBytes printable ASCII characters
// (CheckPolicyVersion); the name is at most MaxPolicyNameBytes of valid
// UTF-8 without control characters, since it is shown in error positions
// and listings, where a NUL, a newline or an escape sequence could pass
// for something else; the text is 1 to MaxPolicyBytes bytes, any bytes.
// The error wraps ErrInvalid.
func (v PolicyVersion) Check() error {
	if err := CheckPolicyVersion(v.Version); err != nil {
		return err
	}
	switch {
	case len(v.Name) > MaxPolicyNameBytes:
		return fmt.Errorf("%w: policy version %s: name of %d bytes, over the limit of %d", ErrInvalid, v.Version, len(v.Name), MaxPolicyNameBytes)
	case !utf8.ValidString(v.Name):
		return fmt.Errorf("%w: policy version %s: name %q is not valid UTF-8", ErrInvalid, v.Version, pattern.Shorten(v.Name))
	}
	for i, r := range v.Name {
		if unicode.IsControl(r) {
			return fmt.Errorf("%w: policy version %s: name %q has the control character %U at byte %d", ErrInvalid, v.Version, pattern.Shorten(v.Name), r, i)
		}
	}
	switch {
	case len(v.Text) == 0:
		return fmt.Errorf("%w: policy version %s: no text", ErrInvalid, v.Version)
	case len(v.Text) > MaxPolicyBytes:
		return fmt.Errorf("%w: policy version %s: %d bytes, over the limit of %d", ErrInvalid, v.Version, len(v.Text), MaxPolicyBytes)
	}
	return nil
}

// CheckPolicyVersion validates a version (a content hash, such as
// "sha256:0123456789abcdef"): 1 to MaxPolicyVersionBytes characters, each
// printable ASCII other than the space. Publish refuses any other with
// ErrInvalid; Rollback answers ErrNoPolicy for one, as no history can
// hold it. The error wraps ErrInvalid.
func CheckPolicyVersion(version string) error {
	switch {
	case version == "":
		return fmt.Errorf("%w: policy version: no version (content hash)", ErrInvalid)
	case len(version) > MaxPolicyVersionBytes:
		return fmt.Errorf("%w: policy version %q: %d bytes, over the limit of %d", ErrInvalid, pattern.Shorten(version), len(version), MaxPolicyVersionBytes)
	}
	for i := 0; i < len(version); i++ {
		if c := version[i]; c <= ' ' || c > '~' {
			return fmt.Errorf("%w: policy version %q: byte %d is %#x, not printable ASCII (want a content hash, such as sha256:0123456789abcdef)", ErrInvalid, pattern.Shorten(version), i, c)
		}
	}
	return nil
}
