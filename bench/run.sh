#!/usr/bin/env bash
# Runs warden's side-by-side benchmarks against casbin and cedar-go,
# summarises them with benchstat and prints warden's speed-up per workload.
#
#   bench/run.sh              # full run: -count 6, kept in docs/benchmarks
#   QUICK=1 bench/run.sh      # one short pass, output in a temporary dir
#
# Environment: COUNT (default 6), BENCHTIME (default 500ms), WORKLOADS
# (space-separated, default all), BENCH (the benchmarks, a regexp for the
# first level of -bench, default all), ENGINES (engine names as a regexp
# alternation such as 'warden|opa', default all), OUT (raw output file).
# Every benchmark first checks that the engines agree with warden on the
# workload's sample and fails if they do not.
#
# Each workload runs in a process of its own: the loaded policies of the
# large workloads take gigabytes, and with them live, the full collection
# the testing package runs before every benchmark takes seconds.
set -euo pipefail
cd "$(dirname "$0")"

if [[ "${QUICK:-0}" == 1 ]]; then
	COUNT=${COUNT:-1}
	BENCHTIME=${BENCHTIME:-100ms}
	OUT=${OUT:-$(mktemp -d)/comparison-raw.txt}
fi
COUNT=${COUNT:-6}
BENCHTIME=${BENCHTIME:-500ms}
BENCH=${BENCH:-.}
WORKLOADS=${WORKLOADS:-acl rbac5 rbac-small rbac-medium rbac-large deny-override glob-1000 glob-100000 toffi}
OUT=${OUT:-../docs/benchmarks/comparison-raw.txt}
STAT=${OUT%-raw.txt}-benchstat.txt
[[ "$STAT" == "$OUT" ]] && STAT=$OUT.benchstat

benchstat=$(go env GOPATH)/bin/benchstat
if [[ ! -x "$benchstat" ]]; then
	go install golang.org/x/perf/cmd/benchstat@latest
fi

start=$(date +%s)
echo "# bench/run.sh: COUNT=$COUNT BENCHTIME=$BENCHTIME BENCH='$BENCH' ENGINES='${ENGINES:-}' WORKLOADS='$WORKLOADS' ($(date -u +%Y-%m-%dT%H:%MZ), $(go version | cut -d' ' -f3), $(nproc) cores)" >"$OUT"
bin=$(mktemp -d)/bench.test
go test -c -o "$bin" .
trap 'rm -rf "$(dirname "$bin")"' EXIT
for w in $WORKLOADS; do
	pat="$BENCH/workload=$w\$/${ENGINES:+engine=($ENGINES)\$}"
	echo "# workload $w: -test.bench '$pat'" | tee -a "$OUT"
	"$bin" -test.run '^$' -test.bench "$pat" -test.count "$COUNT" \
		-test.benchtime "$BENCHTIME" -test.timeout 0 | tee -a "$OUT"
	[[ ${PIPESTATUS[0]} == 0 ]] || { echo "run.sh: benchmarks of $w failed" >&2; exit 1; }
done
"$benchstat" -col /engine "$OUT" >"$STAT"
echo
echo "raw: $OUT"
echo "benchstat: $STAT"
go run ./cmd/ratios <"$OUT"
echo
echo "took $(($(date +%s) - start)) s"
