package jsonl_test

import (
	"context"
	"fmt"
	"log"
	"os"
	"path/filepath"
	"time"

	"github.com/warden-authz/warden/audit"
	"github.com/warden-authz/warden/audit/jsonl"
)

func Example() {
	dir, err := os.MkdirTemp("", "audit")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)

	f, err := jsonl.Open(filepath.Join(dir, "audit.jsonl"))
	if err != nil {
		log.Fatal(err)
	}
	defer f.Close()
	if f.Recovered() > 0 {
		log.Printf("cut %d bytes of a torn last line", f.Recovered())
	}

	ctx := context.Background()
	at := time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)
	var batch []audit.Event
	for i, who := range []string{"alice", "bob", "alice"} {
		id, err := audit.NewID()
		if err != nil {
			log.Fatal(err)
		}
		status := audit.StatusDenied
		if who == "alice" {
			status = audit.StatusAllowed
		}
		batch = append(batch, audit.Event{
			ID: id, Time: at.Add(time.Duration(i) * time.Second), Subject: who,
			Action: "articles:read", Resource: fmt.Sprintf("articles:animals:%d", i),
			Allowed: status == audit.StatusAllowed, Status: status,
		})
	}
	// One write and one fsync: once WriteBatch returns, all three are on disk.
	if err := f.WriteBatch(ctx, batch); err != nil {
		log.Fatal(err)
	}

	denied := false
	events, err := f.Query(ctx, audit.Query{Resource: "articles:*", Allowed: &denied})
	if err != nil {
		log.Fatal(err)
	}
	for _, e := range events {
		fmt.Println(e.Time.Format(time.TimeOnly), e.Subject, e.Resource, e.Status)
	}
	// Output:
	// 12:00:01 bob articles:animals:1 denied
}
