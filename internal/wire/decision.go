package wire

import (
	"errors"
	"fmt"
	"strconv"
	"unicode/utf8"

	"github.com/warden-authz/warden/types"
)

// Encoding decisions on the hot path. encoding/json reflects over the
// struct and allocates for every value; a decision is a fixed shape, so it
// is appended to a reused buffer by hand. The output is the JSON of
// types.Decision (SPEC 9.3): the same fields in the same order, the same
// omitempty choices, strings escaped as encoding/json escapes them with
// HTML escaping off. TestAppendDecisionMatchesJSON holds it to that.

// AppendDecision appends the decision object of d (SPEC 9.3, 10.4).
func AppendDecision(b []byte, d *types.Decision) []byte {
	if d.Allowed {
		b = append(b, `{"allowed":true,"effect":`...)
	} else {
		b = append(b, `{"allowed":false,"effect":`...)
	}
	b = AppendString(b, d.Effect.String())
	if d.Rule != "" {
		b = append(b, `,"rule":`...)
		b = AppendString(b, d.Rule)
	}
	if d.Item != 0 {
		b = append(b, `,"item":`...)
		b = strconv.AppendInt(b, int64(d.Item), 10)
	}
	b = append(b, `,"reason":`...)
	b = AppendString(b, d.Reason)
	if len(d.SubjectPath) > 0 {
		b = append(b, `,"subject_path":`...)
		b = appendStrings(b, d.SubjectPath)
	}
	if len(d.ResourcePath) > 0 {
		b = append(b, `,"resource_path":`...)
		b = appendStrings(b, d.ResourcePath)
	}
	b = append(b, `,"policy_version":`...)
	b = AppendString(b, d.PolicyVersion)
	if d.Revision != 0 {
		b = append(b, `,"revision":`...)
		b = strconv.AppendUint(b, d.Revision, 10)
	}
	if len(d.MissingContext) > 0 {
		b = append(b, `,"missing_context":`...)
		b = appendStrings(b, d.MissingContext)
	}
	for i, e := range d.ConditionErrors {
		if i == 0 {
			b = append(b, `,"condition_errors":[`...)
		} else {
			b = append(b, ',')
		}
		b = append(b, `{"rule":`...)
		b = AppendString(b, e.Rule)
		b = append(b, `,"when":`...)
		b = AppendString(b, e.When)
		b = append(b, `,"error":`...)
		b = AppendString(b, e.Error)
		b = append(b, '}')
	}
	if len(d.ConditionErrors) > 0 {
		b = append(b, ']')
	}
	return append(b, '}')
}

func appendStrings(b []byte, ss []string) []byte {
	b = append(b, '[')
	for i, s := range ss {
		if i > 0 {
			b = append(b, ',')
		}
		b = AppendString(b, s)
	}
	return append(b, ']')
}

const hex = "0123456789abcdef"

// plain marks the bytes a JSON string holds as they are; appendString
// copies runs of them without looking further.
var plain = func() (t [256]bool) {
	for c := 0x20; c < utf8.RuneSelf; c++ {
		t[c] = c != '"' && c != '\\'
	}
	return t
}()

// AppendString appends s as a JSON string the way encoding/json writes it
// with SetEscapeHTML(false): invalid UTF-8 becomes U+FFFD, and U+2028 and
// U+2029 are escaped so the output is also valid JavaScript.
func AppendString(b []byte, s string) []byte {
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); {
		for i < len(s) && plain[s[i]] {
			i++
		}
		if i == len(s) {
			break
		}
		c := s[i]
		if c < utf8.RuneSelf {
			b = append(b, s[start:i]...)
			switch c {
			case '"', '\\':
				b = append(b, '\\', c)
			case '\n':
				b = append(b, '\\', 'n')
			case '\r':
				b = append(b, '\\', 'r')
			case '\t':
				b = append(b, '\\', 't')
			case '\b':
				b = append(b, '\\', 'b')
			case '\f':
				b = append(b, '\\', 'f')
			default:
				b = append(b, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xf])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			b = append(b, s[start:i]...)
			b = append(b, `\ufffd`...)
			i += size
			start = i
			continue
		}
		if r == '\u2028' || r == '\u2029' {
			b = append(b, s[start:i]...)
			b = append(b, '\\', 'u', '2', '0', '2', hex[r&0xf])
			i += size
			start = i
			continue
		}
		i += size
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}

// DecodeDecision decodes one decision object (SPEC 9.3), refusing anything
// that is not plainly one: a missing or null field, a wrong type, a key
// given twice, an error object, or allowed contradicting effect. Empty
// chains decode as nil, as Decide leaves them.
func DecodeDecision(data []byte) (types.Decision, error) {
	o, err := parseObject(data)
	if err != nil {
		return types.Decision{}, err
	}
	return o.decision()
}

func (o *object) decision() (types.Decision, error) {
	if o.has("error") {
		// An error object, or a decision with one: either way, not an
		// answer to rely on.
		return types.Decision{}, errors.New(`an error object ("error" field) where a decision belongs`)
	}
	var d types.Decision
	o.field("allowed", true, &d.Allowed)
	o.field("effect", true, &d.Effect)
	o.field("reason", true, &d.Reason)
	o.field("policy_version", true, &d.PolicyVersion)
	o.field("rule", false, &d.Rule)
	o.field("item", false, &d.Item)
	o.field("subject_path", false, &d.SubjectPath)
	o.field("resource_path", false, &d.ResourcePath)
	o.field("revision", false, &d.Revision)
	o.field("missing_context", false, &d.MissingContext)
	o.field("condition_errors", false, &d.ConditionErrors)
	if o.err != nil {
		return types.Decision{}, fmt.Errorf("not a decision: %w", o.err)
	}
	// An empty path and a missing one mean the same; nil keeps a decoded
	// decision equal to the one Policy.Decide makes.
	if len(d.SubjectPath) == 0 {
		d.SubjectPath = nil
	}
	if len(d.ResourcePath) == 0 {
		d.ResourcePath = nil
	}
	switch {
	case d.Item < 0:
		return types.Decision{}, fmt.Errorf("not a decision: item %d is negative", d.Item)
	case d.Allowed && d.Effect == types.EffectDeny:
		return types.Decision{}, errors.New(`not a decision: "allowed" is true with effect "deny"`)
	case !d.Allowed && d.Effect == types.EffectAllow:
		return types.Decision{}, errors.New(`not a decision: "allowed" is false with effect "allow"`)
	}
	return d, nil
}
