package sqlite_test

import (
	"path/filepath"
	"testing"

	"github.com/warden-authz/warden/store"
	"github.com/warden-authz/warden/store/sqlite"
	"github.com/warden-authz/warden/store/storetest"
)

var (
	_ store.Store    = (*sqlite.Store)(nil)
	_ store.Notifier = (*sqlite.Store)(nil)
	_ store.Policies = (*sqlite.Store)(nil)
)

// TestConformance runs the store conformance suite on a new file each
// time.
func TestConformance(t *testing.T) {
	t.Parallel()
	storetest.Run(t, func(t *testing.T) store.Store { return open(t) })
}

// open opens a store in a new file, closed when the test ends.
func open(t testing.TB) *sqlite.Store {
	t.Helper()
	return openAt(t, filepath.Join(t.TempDir(), "data.db"))
}

// openAt opens the store at path, closed when the test ends.
func openAt(t testing.TB, path string) *sqlite.Store {
	t.Helper()
	s, err := sqlite.Open(path)
	if err != nil {
		t.Fatalf("Open(%q): %v", path, err)
	}
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return s
}
