package postgres_test

import (
	"testing"

	"github.com/warden-authz/warden/audit"
	"github.com/warden-authz/warden/audit/audittest"
)

// TestConformance runs the audit package's sink conformance suite.
func TestConformance(t *testing.T) {
	dsn(t)
	audittest.Run(t, func(t *testing.T) audit.Sink { return open(t) })
}
