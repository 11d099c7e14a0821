// Package template implements the index templates of guards (SPEC 7.3–7.4):
// the `articles:{category}:{id}` that names the resource a guarded call
// touches, filled in from the call's values.
//
// # Grammar
//
// A template is segments joined by ':', like a name (SPEC 1). Each segment
// is either
//
//	articles     literal text, a valid name segment (checked by pattern.CheckName)
//	{id}         exactly one placeholder filling the whole segment
//	{user.id}    whose path is identifiers ([A-Za-z_][A-Za-z0-9_]*) joined by '.'
//
// A template without placeholders is a fixed name, and the empty template
// means "no particular resource" (SPEC 1.4) and resolves to "". Parse
// rejects, naming the template and the byte offset: unbalanced or nested
// braces, `{}`, a placeholder sharing its segment with text (`user-{id}`),
// '*' or ',' anywhere (a template names one resource, never a pattern),
// empty segments, characters SPEC 1.1 forbids, and templates over the
// SPEC 1.2 limits of 1024 bytes and 64 segments.
//
// A placeholder must fill a whole segment so that the template alone fixes
// the shape of every name it can produce, and so that names and values
// correspond one to one. With `{a}-{b}` the values ("x-y", "z") and ("x",
// "y-z") would both give `x-y-z`, letting a caller choose how its input is
// split; with whole segments, and values that cannot contain ':', a name
// reads back into exactly one tuple of values.
//
// # Resolution
//
// Resolve takes sources in order of precedence; for each placeholder the
// first source that has its path supplies the value. A source has a path
// when the field or key exists; if the value there is unusable (nil, of the
// wrong type, or hostile), that is an error, never a reason to consult the
// next source, so one source's bad value cannot silently become another's.
//
// Sources are a struct or pointer to one (fields by their encoding/json
// names, embedded structs promoted as json promotes them), maps with string
// keys, explicit values (Values, whose keys may be whole dotted paths), an
// *http.Request (path values, then query parameters), or a Lookuper. Each
// dot walks one level into a field or map entry, following pointers and
// interfaces; a nil on the way is an error.
//
// A value is written as its MarshalText (encoding.TextMarshaler), its
// String (fmt.Stringer), or by its kind: a string, an integer of any kind
// in decimal, or a bool as true/false. Anything else, floats included
// (1e6 and 1000000 would name one resource two ways), is an error naming
// the placeholder and the type.
//
// # Injection
//
// Every resolved value must be exactly one valid segment: non-empty, free
// of ':', and accepted by pattern.CheckName, which refuses '*', ',', braces,
// whitespace, control and invisible characters and invalid UTF-8. The
// whole name must be within the SPEC 1.2 limits. Anything else is an
// ErrInvalidReference and Resolve returns no name.
//
// This is what makes a guard safe to feed with request data. The name a
// template produces is looked up as a literal resource (SPEC 1.3) against
// rules that are patterns, so a value that could add a separator or a
// pattern character would let the caller choose which rules apply: `{id}`
// = `1:*` would turn `articles:{id}` into `articles:1:*`, a different and
// wider resource, and an invisible character such as a zero-width space or
// a no-break space would make two different names look alike in the audit
// log. Because
// each value is confined to its own segment and the literal segments are
// fixed at Parse, a resolved name always has the template's segment count,
// its literal segments in place, and each value verbatim in its segment;
// the property and fuzz tests check exactly that.
//
// # Cost
//
// A *Template is immutable and safe for concurrent use. The reflection work
// for a source type (finding each placeholder's field index path) is done
// once per type and cached in the Template, so resolving from a struct
// costs a few field reads and the result string: one allocation, none for
// a fixed template.
package template
