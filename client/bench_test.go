package client_test

import (
	"context"
	"net/http"
	"strings"
	"testing"

	"github.com/warden-authz/warden"
	"github.com/warden-authz/warden/client"
)

// BenchmarkCheckBatchDecode measures the client's side of a full batch:
// encoding MaxBatch requests and decoding MaxBatch decisions, with the
// network replaced by a fixed answer.
func BenchmarkCheckBatchDecode(b *testing.B) {
	const d = `{"allowed":true,"effect":"allow","rule":"rules.edit","item":1,"reason":"[rules.edit] \"editors\" is allowed to do \"articles:update\" on \"articles:*\"","policy_version":"sha256:937958ea0c267d86"}`
	body := []byte(`{"decisions":[` + strings.Repeat(d+",", client.MaxBatch-1) + d + `]}`)
	c, err := client.New("http://warden.invalid", &client.Options{HTTPClient: &http.Client{Transport: answerWith{200, "application/json", body}}})
	if err != nil {
		b.Fatal(err)
	}
	reqs := make([]warden.Request, client.MaxBatch)
	for i := range reqs {
		reqs[i] = warden.Request{Subject: "alice", Resource: "articles:animals:42", Action: "articles:update"}
	}
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	for b.Loop() {
		res, err := c.CheckBatch(context.Background(), reqs)
		if err != nil || len(res) != client.MaxBatch {
			b.Fatal(len(res), err)
		}
	}
}

// BenchmarkCheckDecode is the same for one decision.
func BenchmarkCheckDecode(b *testing.B) {
	body := []byte(`{"allowed":true,"effect":"allow","rule":"rules.edit","item":1,"reason":"[rules.edit] \"editors\" is allowed to do \"articles:update\" on \"articles:*\"","policy_version":"sha256:937958ea0c267d86"}`)
	c, err := client.New("http://warden.invalid", &client.Options{HTTPClient: &http.Client{Transport: answerWith{200, "application/json", body}}})
	if err != nil {
		b.Fatal(err)
	}
	req := warden.Request{Subject: "alice", Resource: "articles:animals:42", Action: "articles:update"}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := c.Check(context.Background(), req); err != nil {
			b.Fatal(err)
		}
	}
}
