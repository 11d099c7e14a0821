// Package config reads warden's policy file, a TOML document in the format of
// AccessControl, into an [engine.Source].
//
// docs/policy-file.md is the user's description of the format: its keys,
// rule ids and order, strategies and defaults, and the differences from
// AccessControl. This package is its implementation; what follows is what
// the code must keep true.
//
// Document order is rule order: rules as written, and inside one rule the
// allow and deny lists in the order their keys are written, items in order,
// which first-match depends on. go-toml's unstable parser is used because it
// keeps that order and every position.
//
// # Errors
//
// Parse reports every problem it finds, not only the first, each with
// file:line:col (columns count bytes) and what was expected: TOML syntax
// errors (after which nothing more is read), keys and tables defined twice
// (all reported, but in a file that is not valid TOML nothing else is
// checked), unknown keys anywhere (with the closest valid key suggested:
// rule_policy.mismatched → mismatch_decision), unknown strategies (likewise),
// values of the wrong type, triples that are not exactly three strings, empty
// strings in triples, rules with neither allow nor deny, rule names that are
// not bare keys. A file with any error is not loaded.
//
// [schemas] templates are read here as strings, with their positions, and
// checked when the policy is compiled (engine.ParseSchema), so that a
// Source built in Go gets the same checks and the same messages.
//
// The file is UTF-8 TOML (https://toml.io, v1.1); a byte order mark at its
// start is ignored.
package config
