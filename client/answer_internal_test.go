package client

import (
	"strings"
	"testing"
)

// BenchmarkAnswerCheck measures what client strictness adds to reading an
// answer: the media type and the Unicode check of a full batch answer
// (MaxBatch decisions) and of one decision, each with escaped quotes in
// its reason, as the service sends them.
func BenchmarkAnswerCheck(b *testing.B) {
	const d = `{"allowed":true,"effect":"allow","rule":"rules.edit","item":1,"reason":"[rules.edit] \"editors\" is allowed to do \"articles:update\" on \"articles:*\"","policy_version":"sha256:937958ea0c267d86"}`
	for _, tc := range []struct {
		name string
		body []byte
	}{
		{"batch", []byte(`{"decisions":[` + strings.Repeat(d+",", MaxBatch-1) + d + `]}`)},
		{"decision", []byte(d)},
	} {
		b.Run(tc.name, func(b *testing.B) {
			a := answer{status: 200, contentType: "application/json", body: tc.body}
			b.SetBytes(int64(len(tc.body)))
			b.ReportAllocs()
			for b.Loop() {
				if err := a.check(); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
