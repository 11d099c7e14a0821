// Package cond compiles and evaluates the conditions of rule blocks: the
// CEL expressions of `when = '...'` (SPEC 12).
//
// An Env is made once per policy from its [context] table: the attributes a
// condition may read and their types. Compile parses and type-checks one
// expression against it, once, when the policy loads; a Condition is then
// evaluated per decision against the request's names, principals, context
// and time (Vars).
//
// # Cost
//
// Every evaluation is bounded by a cost limit in CEL's cost units (about
// one per operation, one per ten bytes a string function reads). At compile
// time CEL estimates each condition's worst case from the bounds on its
// inputs (names are at most 1 KiB, context values at most MaxValueBytes);
// a condition whose worst case is within the limit can never exceed it, so
// it runs without CEL's cost tracker, which would triple the cost of a
// small condition. Only conditions whose worst case passes the limit pay
// for tracking, and fail when an evaluation passes it.
//
// # Concurrency
//
// Env and Condition are immutable once made and safe for concurrent use.
// A Vars is for one decision: take one with NewVars, give it back with
// Release.
package cond
