package cli

import (
	"os"
	"runtime"
	"runtime/debug"
	rtmetrics "runtime/metrics"
	"sync/atomic"

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
// under any load, when its policy and data hold state bytes of heap
// beyond what memBase allows for a small policy: heapBound, twice the
// state (the collector's factor again), and SQLite's page caches.
func MemoryBound(f memoryFlags, state int64) int64 {
	n := heapBound(f) + 2*state
	if f.SQLite {
		n += memSQLiteWriter + memSQLiteReader*int64(max(4, runtime.GOMAXPROCS(0)))
	}
	return n
}

// memoryLimit keeps the Go runtime's soft memory limit at
//
//	heapBound(f) + 2 × state
//
// where state is the live heap outside the bounded buffers: the compiled
// policy and the store's data, which no flag bounds. A limit of
// heapBound alone, below a large state's live heap (1,000,000 memberships
// and 1,000,000 grants hold about 470 MiB), would make the collector run
// without pause, at half the CPU, for as long as the process lives. The
// limit follows the state: after every collection it is set anew from
// the live heap that collection found, less what the buffers hold then.
// So near the buffers' bound the collector runs sooner, as it should, and
// a growing state raises the limit before the heap can reach it (the
// limit is always above the 2 × live the collector aims for at GOGC=100).
//
// Its zero value does nothing; make one with startMemoryLimit. Safe for
// concurrent use.
type memoryLimit struct {
	bound int64
	held  atomic.Pointer[func() int64] // the buffers' bytes; nil until a server is made
	live  func() int64                 // the live heap at the last collection
	set   func(int64)                  // debug.SetMemoryLimit
	stop  atomic.Bool
}

// startMemoryLimit sets the limit for flags f and keeps it up to date
// after every collection, unless GOMEMLIMIT is set, which wins. Stop it
// with stopMemoryLimit.
func startMemoryLimit(f memoryFlags) *memoryLimit {
	if v, set := os.LookupEnv("GOMEMLIMIT"); set && v != "" { // the runtime treats an empty one as unset
		return nil
	}
	l := &memoryLimit{bound: heapBound(f), live: liveHeap, set: func(n int64) { debug.SetMemoryLimit(n) }}
	l.update()
	l.arm()
	return l
}

// setHeld names the function that reports what the bounded buffers hold.
func (l *memoryLimit) setHeld(f func() int64) {
	if l != nil {
		l.held.Store(&f)
	}
}

// stopMemoryLimit stops following collections and leaves the limit where
// it is.
func (l *memoryLimit) stopMemoryLimit() {
	if l != nil {
		l.stop.Store(true)
	}
}

// limit is the memory limit for a live heap of live bytes, held of them
// in the bounded buffers.
func (l *memoryLimit) limit(live, held int64) int64 {
	return l.bound + 2*max(0, live-held)
}

func (l *memoryLimit) update() {
	if l == nil || l.set == nil || l.live == nil {
		return
	}
	var held int64
	if f := l.held.Load(); f != nil {
		held = (*f)()
	}
	l.set(l.limit(l.live(), held))
}

// arm runs update after the next collection, and arms again: a sentinel
// object unreachable from the start is finalized by the next cycle.
func (l *memoryLimit) arm() {
	s := &gcSentinel{l}
	runtime.SetFinalizer(s, func(s *gcSentinel) {
		if s.l.stop.Load() {
			return
		}
		s.l.update()
		s.l.arm()
	})
}

// gcSentinel exists to be collected; it holds a pointer so that it is
// never a tiny allocation, which may share a block and outlive its cycle.
type gcSentinel struct{ l *memoryLimit }

// liveHeap is the heap the last collection found live.
func liveHeap() int64 {
	s := []rtmetrics.Sample{{Name: "/gc/heap/live:bytes"}}
	rtmetrics.Read(s)
	if s[0].Value.Kind() != rtmetrics.KindUint64 {
		return 0
	}
	return int64(s[0].Value.Uint64())
}
