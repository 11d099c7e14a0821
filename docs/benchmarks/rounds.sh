#!/usr/bin/env bash
# The audit throughput benchmarks behind docs/performance.md ("Audit
# throughput: the service against a bare handler"), run so that the
# variants compared are measured close together in time: the machine is
# shared and its speed drifts within seconds.
#
#   docs/benchmarks/rounds.sh [rounds] > rounds.txt
#
# 1. serve: BenchmarkLoadCheckInterleaved, whose iterations are rounds of
#    one short slice of load per variant, at 16 and at 128 clients
#    (2 x rounds iterations each).
# 2. the stores: every SQLite and JSON Lines write variant once per round,
#    in a new random order each round; each line is prefixed with the
#    environment it ran with.
#
# Every part starts with a line giving the time and the load average.
# WARDEN_SQLITE_BENCH_EVENTS_LARGE is the size of the store the "large"
# SQLite variants start from (300000 unless set).
set -euo pipefail
cd "$(dirname "$0")/../.."
rounds=${1:-6}
large=${WARDEN_SQLITE_BENCH_EVENTS_LARGE:-300000}
bin=$(mktemp -d)
trap 'rm -rf "$bin"' EXIT
go test -c -o "$bin/server.test" ./internal/server/
go test -c -o "$bin/sqlite.test" ./audit/sqlite/
go test -c -o "$bin/jsonl.test" ./audit/jsonl/

stamp() { echo "# $1: $(date -u +%H:%M:%S) $(uptime | sed 's/.*load/load/')"; }

for par in 8 64; do
	stamp "serve, $((par * 2)) clients"
	(cd internal/server && WARDEN_LOAD_PARALLELISM=$par WARDEN_LOAD_SLICE=500ms \
		"$bin/server.test" -test.run '^$' -test.bench 'LoadCheckInterleaved' -test.benchtime "$((rounds * 2))x")
done

# One store variant per line: package directory, binary, environment,
# benchmark pattern, benchtime.
variants() {
	for v in distinct zipf; do
		for i in all no-resource; do
			echo "audit/sqlite sqlite.test WARDEN_SQLITE_BENCH_EVENTS=0 WriteBatch/$v/indexes=$i\$ 20x"
			echo "audit/sqlite sqlite.test WARDEN_SQLITE_BENCH_EVENTS=$large WriteBatch/$v/indexes=$i\$ 30x"
		done
	done
	echo "audit/sqlite sqlite.test WARDEN_SQLITE_BENCH_EVENTS=0 CommitSize 50x"
	echo "audit/jsonl jsonl.test JSONL=1 WriteBatch\$ 2s"
}

for r in $(seq "$rounds"); do
	stamp "stores, round $r"
	variants | shuf | while read -r dir test envv pattern benchtime; do
		(cd "$dir" && env "$envv" "$bin/$test" -test.run '^$' -test.bench "$pattern" -test.benchtime "$benchtime" 2>&1 |
			grep '^Benchmark' | sed "s/^/$envv /")
	done
done
