package store

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// PolicyVersion is one policy file kept in a store (SPEC 11.3): a fleet's
// instances started with a store and no file follow the store's current
// version. Seq numbers the store's policy history: 1 for the first
// publish, then one more for each publish and each rollback.
type PolicyVersion struct {
	Seq uint64 `json:"seq"`
	// Version is the policy's content hash, as decisions report it.
	Version string `json:"version"`
	// Name is the file name it was published from, for error positions.
	Name string `json:"name"`
	// Text is the policy file, as published.
	Text []byte    `json:"text,omitempty"`
	Time time.Time `json:"time"`
	// RollbackOf is, for a rollback, the Seq of the version it restored.
	RollbackOf uint64 `json:"rollback_of,omitempty"`
}

// Policies is a Store that keeps policy versions too. Like Store, every
// method may be called from many goroutines at once, and a Publish or
// Rollback that returned is durable and visible to every later call.
//
// A store does not check that a policy loads; the caller must (warden
// publish compiles it first), so that a file that does not load is never
// published.
type Policies interface {
	// Publish stores a new version and makes it current. Seq and Time
	// are set by the store; Version, Name and Text by the caller.
	Publish(ctx context.Context, v PolicyVersion) (PolicyVersion, error)
	// CurrentPolicy returns the current version, with its text, or
	// ErrNoPolicy when none was published.
	CurrentPolicy(ctx context.Context) (PolicyVersion, error)
	// PolicyHistory returns up to limit versions, newest first, without
	// their texts (0 means DefaultLimit).
	PolicyHistory(ctx context.Context, limit int) ([]PolicyVersion, error)
	// Rollback makes the version with content hash version current
	// again, as a new entry of the history, and returns that entry. A
	// version the history does not hold is ErrNoPolicy.
	Rollback(ctx context.Context, version string) (PolicyVersion, error)
	// WaitPolicy returns once the current Seq is past after, or ctx is
	// done: a fleet's instances switch within a second (SPEC 11.3).
	WaitPolicy(ctx context.Context, after uint64) (uint64, error)
}

// ErrNoPolicy: the store holds no policy version, or not the one asked
// for.
var ErrNoPolicy = errors.New("no policy published")

// MaxPolicyBytes bounds a published policy file.
const MaxPolicyBytes = 16 << 20

// Check validates a version before it is published.
func (v PolicyVersion) Check() error {
	switch {
	case v.Version == "":
		return fmt.Errorf("%w: policy version: no version (content hash)", ErrInvalid)
	case len(v.Text) == 0:
		return fmt.Errorf("%w: policy version %s: no text", ErrInvalid, v.Version)
	case len(v.Text) > MaxPolicyBytes:
		return fmt.Errorf("%w: policy version %s: %d bytes, over the limit of %d", ErrInvalid, v.Version, len(v.Text), MaxPolicyBytes)
	}
	return nil
}
