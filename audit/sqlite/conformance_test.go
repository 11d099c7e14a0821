package sqlite_test

import (
	"testing"

	"github.com/warden-authz/warden/audit"
	"github.com/warden-authz/warden/audit/audittest"
)

// TestConformance runs the audit package's sink conformance suite: the
// promises of audit.Sink, audit.BatchSink and audit.Querier, checked
// against audit.Memory.
func TestConformance(t *testing.T) {
	t.Parallel()
	audittest.Run(t, func(t *testing.T) audit.Sink { return open(t) })
}
