package store

import (
	"context"
	"fmt"
	"slices"
	"time"
)

// Publish implements Policies.
func (m *Memory) Publish(ctx context.Context, v PolicyVersion) (PolicyVersion, error) {
	if m == nil {
		return PolicyVersion{}, ErrClosed
	}
	if err := v.Check(); err != nil {
		return PolicyVersion{}, err
	}
	if err := ctx.Err(); err != nil {
		return PolicyVersion{}, fmt.Errorf("store: publish: %w", err)
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if !m.open {
		return PolicyVersion{}, ErrClosed
	}
	v.Seq = uint64(len(m.policies)) + 1
	v.Time = time.Now().UTC()
	v.RollbackOf = 0
	v.Text = slices.Clone(v.Text)
	m.policies = append(m.policies, v)
	m.wakeAll()
	return withoutText(v), nil
}

// CurrentPolicy implements Policies.
func (m *Memory) CurrentPolicy(ctx context.Context) (PolicyVersion, error) {
	if m == nil {
		return PolicyVersion{}, ErrClosed
	}
	m.mu.RLock()
	defer m.mu.RUnlock()
	if !m.open {
		return PolicyVersion{}, ErrClosed
	}
	if len(m.policies) == 0 {
		return PolicyVersion{}, ErrNoPolicy
	}
	v := m.policies[len(m.policies)-1]
	v.Text = slices.Clone(v.Text)
	return v, nil
}

// PolicyHistory implements Policies.
func (m *Memory) PolicyHistory(ctx context.Context, limit int) ([]PolicyVersion, error) {
	if m == nil {
		return nil, ErrClosed
	}
	if limit < 0 || limit > MaxLimit {
		return nil, fmt.Errorf("%w: limit %d is outside 0 to %d", ErrInvalid, limit, MaxLimit)
	}
	if limit == 0 {
		limit = DefaultLimit
	}
	m.mu.RLock()
	defer m.mu.RUnlock()
	if !m.open {
		return nil, ErrClosed
	}
	var out []PolicyVersion
	for i := len(m.policies) - 1; i >= 0 && len(out) < limit; i-- {
		out = append(out, withoutText(m.policies[i]))
	}
	return out, nil
}

// Rollback implements Policies.
func (m *Memory) Rollback(ctx context.Context, version string) (PolicyVersion, error) {
	if m == nil {
		return PolicyVersion{}, ErrClosed
	}
	if err := ctx.Err(); err != nil {
		return PolicyVersion{}, fmt.Errorf("store: rollback: %w", err)
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if !m.open {
		return PolicyVersion{}, ErrClosed
	}
	if err := CheckPolicyVersion(version); err != nil {
		return PolicyVersion{}, fmt.Errorf("%w: %w", ErrNoPolicy, err)
	}
	for i := len(m.policies) - 1; i >= 0; i-- {
		if m.policies[i].Version == version {
			v := m.policies[i]
			v.RollbackOf = v.Seq
			v.Seq = uint64(len(m.policies)) + 1
			v.Time = time.Now().UTC()
			m.policies = append(m.policies, v)
			m.wakeAll()
			return withoutText(v), nil
		}
	}
	return PolicyVersion{}, fmt.Errorf("%w: no version %s in the history", ErrNoPolicy, version)
}

// WaitPolicy implements Policies.
func (m *Memory) WaitPolicy(ctx context.Context, after uint64) (uint64, error) {
	if m == nil {
		return 0, ErrClosed
	}
	for {
		m.mu.RLock()
		open, n, wake := m.open, uint64(len(m.policies)), m.wake
		m.mu.RUnlock()
		if !open {
			return n, ErrClosed
		}
		if n > after {
			return n, nil
		}
		select {
		case <-wake:
		case <-ctx.Done():
			return n, ctx.Err()
		}
	}
}

func withoutText(v PolicyVersion) PolicyVersion {
	v.Text = nil
	return v
}
