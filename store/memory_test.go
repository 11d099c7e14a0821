package store_test

import (
	"testing"

	"github.com/warden-authz/warden/store"
	"github.com/warden-authz/warden/store/storetest"
)

var (
	_ store.Store    = (*store.Memory)(nil)
	_ store.Notifier = (*store.Memory)(nil)
)

// TestMemoryConformance runs the store conformance suite on Memory, the
// reference store.
func TestMemoryConformance(t *testing.T) {
	t.Parallel()
	storetest.Run(t, func(t *testing.T) store.Store {
		m := store.NewMemory()
		t.Cleanup(func() { m.Close() })
		return m
	})
}
