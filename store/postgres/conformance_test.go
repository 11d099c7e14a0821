package postgres_test

import (
	"testing"

	"github.com/warden-authz/warden/store"
	"github.com/warden-authz/warden/store/storetest"
)

// TestConformance runs the store conformance suite, each check in a
// schema of its own.
func TestConformance(t *testing.T) {
	dsn(t)
	t.Parallel()
	storetest.Run(t, func(t *testing.T) store.Store { return open(t) })
}
