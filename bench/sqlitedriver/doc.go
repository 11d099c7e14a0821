// Package sqlitedriver measures what the audit log's SQLite insert costs
// with the pure-Go driver warden uses (modernc.org/sqlite) and with a cgo
// build of SQLite (github.com/mattn/go-sqlite3), on the schema and
// settings of warden's audit/sqlite store. It answers one question for
// docs/performance.md: would a cgo driver make the audit log fast enough
// for the throughput targets? It holds no code warden uses.
//
//	cd bench && go test ./sqlitedriver -run '^$' -bench . -benchtime 100x -count 3
package sqlitedriver
