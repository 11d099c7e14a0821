// Package sqlitedriver measures what the audit log's SQLite insert costs
// with the pure-Go driver warden uses (modernc.org/sqlite) and with a cgo
// build of SQLite (github.com/mattn/go-sqlite3), on the schema and
// settings of warden's audit/sqlite store. It answers one question for
// docs/performance.md: would a cgo driver make the audit log fast enough
// for the throughput targets? It holds no code warden uses.
//
// It builds SQLite's C source through cgo, which takes a minute or more, so
// it is behind the sqlitedriver build tag and out of CI:
//
//	cd bench && go test -tags sqlitedriver ./sqlitedriver -run '^$' -bench . -benchtime 100x -count 3
package sqlitedriver
