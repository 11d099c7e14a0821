// Package config reads warden's policy file, a TOML document in the format of
// AccessControl, into an [engine.Source].
//
// # Example
//
//	# who is who: user groups (nested, cycles allowed) and roles
//	[groups]
//	g1 = ['user1', 'user2']
//	g2 = ['user2', 'user3']
//	g4 = ['g5', 'g1']
//	g5 = ['g4']
//
//	[roles]
//	admin  = ['g4', 'user3']
//	reader = ['g2', 'user5']
//
//	# what is what: resource groups and action groups
//	[resources]
//	res1    = ['part_a', 'part_b']
//	res2    = ['part_a', 'part_c']
//	animals = ['articles:animals:*']
//
//	[actions]
//	write = ['PUT', 'POST', 'DELETE']
//
//	[rules.r1]
//	allow = [
//	  ['reader', 'res1', 'GET'],
//	  ['admin',  'res1', '*'],
//	]
//
//	[rules.r2]
//	deny = [['reader', 'res2', 'write']]
//
//	[rule_policy]
//	strategy = 'deny-overrides'
//	mismatch_decision = 'deny'
//
// # Keys
//
// The top level has six keys, all optional; any other key is an error:
//
//   - groups: user groups, name = [members]. A member is a user or a group.
//   - roles: roles, name = [members]. A member is a user, a group or a role.
//   - resources: resource groups, name = [members]. A member is a resource
//     name, another resource group or a pattern ('articles:animals:*').
//   - actions: action groups, name = [members], like resources.
//   - rules: the allow and deny rules, described below.
//   - rule_policy: strategy and mismatch_decision, described below.
//
// Groups may be nested and cyclic: every member of a cycle reaches every other.
// Groups and roles share one namespace (a name may not be both); resource and
// action groups each have their own. Names and patterns follow SPEC sections
// 1 and 2 and are checked when the policy is compiled, not by this package.
//
// # Rules
//
// A rule is a table with an allow list, a deny list, or both (at least one);
// each list holds [subject, resource, action] triples of non-empty strings,
// each of which is a name, a group or a pattern ('*' matches anything).
// Rules are written in one of two ways, not both in one file:
//
//	[[rules]]                    # an array of rules: ids rules.1, rules.2, ...
//	allow = [['user1', 'resource_a', 'GET']]
//	deny  = [['user1', 'resource_a', 'DELETE']]
//
//	[rules.r1]                   # named rules: id rules.r1
//	allow = [['admin', 'res1', '*']]
//
// The array may also be written inline (rules = [{allow = [...]}, ...]) and
// named rules with dotted keys (rules.r1.allow = [...]). Rule names may contain
// only ASCII letters, digits, '_' and '-', so that an id names one rule.
//
// Document order is rule order: rules in the order they are written, and
// inside one rule the allow and deny lists in the order their keys are
// written, items in order. An item is identified by its rule id, its effect
// and its 1-based index within that list: the second triple of r1's deny list
// is (rules.r1, deny, 2). Decisions name the rule id.
//
// # Rule policy
//
// rule_policy.strategy chooses how the rules that match a request combine
// (SPEC 5.2). It is spelt exactly as one of:
//
//   - deny-overrides (the default; alias ALL_ALLOW): any matching deny
//     denies, else any matching allow allows.
//   - allow-overrides (alias ANY_ALLOW): any matching allow allows, else any
//     matching deny denies.
//   - first-match (alias FIRST_MATCH): the first matching item in document
//     order decides.
//   - most-specific: the most specific matching item decides; ties go to deny,
//     then to document order.
//
// rule_policy.mismatch_decision, 'allow' or 'deny', is the decision when no
// rule matches. It defaults to 'deny'.
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
// The file is UTF-8 TOML (https://toml.io, v1.1); a byte order mark at its
// start is ignored.
//
// # Differences from AccessControl
//
// warden reads AccessControl's files, and decides as AccessControl did
// except that:
//
//   - A rule's subject matches group names too, not only users and roles
//     (SPEC 3.4), as AccessControl's README promised for its ACL example.
//   - No match is denied unless mismatch_decision = 'allow' is written (SPEC
//     5.3); AccessControl allowed.
//   - The default strategy is deny-overrides; AccessControl's was FIRST_MATCH.
//     Write strategy = 'FIRST_MATCH' to keep its behaviour.
//
// warden is also stricter: unknown keys, values of the wrong type and rule
// names that are not bare keys are errors, where AccessControl ignored or
// accepted them. And it adds to the format: roles may contain roles (SPEC
// 3.2), the [actions] section, patterns in rules and resource groups (SPEC 2),
// and the most-specific strategy.
package config
