package cli

import (
	"os"
	"runtime"
	"runtime/debug"

	"github.com/warden-authz/warden/internal/server"
)

// memoryFlags are the flags of `warden serve` that bound its memory.
type memoryFlags struct {
	RequestMemory   int64 // --request-memory
	AuditQueueBytes int64 // --audit-queue-bytes
	MaxConns        int   // --max-connections
	SQLite          bool  // --audit sqlite:...
}

func defaultMemoryFlags(sqlite bool) memoryFlags {
	return memoryFlags{server.DefaultRequestMemory, server.DefaultAuditQueueBytes, server.DefaultMaxConns, sqlite}
}

// Terms of MemoryBound (docs/serve.md, "Memory").
const (
	// memBase is what serve holds whatever its load: the program, the Go
	// runtime, the policy, metrics and the audit writer's own state.
	memBase = 48 << 20
	// memPerConn is what one open connection may hold: its goroutine's
	// stack, net/http's read and write buffers, TLS state.
	memPerConn = 64 << 10
	// SQLite's page caches, outside the Go heap: the writer's 64 MiB, and
	// 16 MiB for each reader connection (max(4, GOMAXPROCS) of them).
	memSQLiteWriter = 64 << 20
	memSQLiteReader = 16 << 20
)

// heapBound is the most the Go heap of serve holds with flags f: what
// the bounded buffers hold, twice over, since the collector lets the
// heap grow to twice what is live before it runs (GOGC=100), plus the
// connections and the base.
func heapBound(f memoryFlags) int64 {
	return memBase + 2*(f.RequestMemory+f.AuditQueueBytes) + int64(f.MaxConns)*memPerConn
}

// MemoryBound is the most memory (RSS) `warden serve` uses with flags f,
// under any load: heapBound plus SQLite's page caches.
func MemoryBound(f memoryFlags) int64 {
	n := heapBound(f)
	if f.SQLite {
		n += memSQLiteWriter + memSQLiteReader*int64(max(4, runtime.GOMAXPROCS(0)))
	}
	return n
}

// setMemoryLimit gives the Go runtime heapBound as its soft memory limit
// (unless GOMEMLIMIT says otherwise), so near the bound the collector
// runs sooner and returns freed memory to the system, rather than
// letting garbage from decoding large requests pile up to twice the live
// heap first.
func setMemoryLimit(f memoryFlags) {
	if _, set := os.LookupEnv("GOMEMLIMIT"); set {
		return
	}
	debug.SetMemoryLimit(heapBound(f))
}
