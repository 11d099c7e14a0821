package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/warden-authz/warden"
	"github.com/warden-authz/warden/audit"
	"github.com/warden-authz/warden/internal/auditurl"
)

// auditLog records check decisions into a store through the batching
// writer, so a long --batch run writes in batches.
type auditLog struct {
	store auditurl.Store
	async *audit.Async
	err   error // the first recording failure, reported at close
}

func openAudit(url string) (*auditLog, error) {
	if url == "" {
		return nil, nil
	}
	st, err := auditurl.Open(url)
	if err != nil {
		return nil, &exitError{code: ExitUsage, err: err}
	}
	l := &auditLog{store: st}
	l.async = audit.NewAsync(st, &audit.AsyncOptions{OnError: func(err error) {
		if l.err == nil {
			l.err = err
		}
	}})
	return l, nil
}

// record queues one decision; a nil log records nothing.
func (l *auditLog) record(req warden.Request, d warden.Decision, derr error, start time.Time) error {
	if l == nil {
		return nil
	}
	id, err := audit.NewID()
	if err != nil {
		return err
	}
	e := &audit.Event{
		ID: id, Time: start.UTC(), Subject: req.Subject, Action: req.Action, Resource: req.Resource,
		Allowed: d.Allowed && derr == nil, Rule: d.Rule, Reason: d.Reason,
		Latency: time.Since(start), PolicyVersion: d.PolicyVersion,
	}
	switch {
	case derr != nil:
		e.Status, e.Error = audit.StatusError, derr.Error()
	case d.Allowed:
		e.Status = audit.StatusAllowed
	default:
		e.Status = audit.StatusDenied
	}
	if req.Context != nil {
		e.Fields = req.Context
	}
	return l.async.Record(context.Background(), e)
}

// close flushes every event and closes the store; an event that could not
// be written is an error, never a silent loss.
func (l *auditLog) close() error {
	if l == nil {
		return nil
	}
	aerr := l.async.Close()
	serr := l.store.Close()
	for _, err := range []error{aerr, l.err, serr} {
		if err != nil {
			return &exitError{code: ExitUsage, err: fmt.Errorf("audit log: %w", err)}
		}
	}
	return nil
}

func newAudit() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "audit",
		Short: "Read the audit log",
	}
	cmd.AddCommand(newAuditQuery())
	return cmd
}

func newAuditQuery() *cobra.Command {
	var (
		url          string
		q            audit.Query
		status       string
		since, until string
		asJSON       bool
	)
	cmd := &cobra.Command{
		Use:   "query --audit URL [filters]",
		Short: "List audit events, oldest first",
		Long: `query lists the events of an audit store (--audit jsonl:PATH or
sqlite:PATH), oldest first, filtered by subject, action and resource
patterns (warden's own pattern language), status and a time range
[--since, --until) given in RFC 3339. Pass the last id shown as --after to
get the next page.`,
		Example: `  warden audit query --audit sqlite:./audit.db --subject alice --since 2026-11-25T00:00:00Z
  warden audit query --audit jsonl:./audit.jsonl --resource 'articles:*' --status denied --json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if url == "" {
				return &exitError{code: ExitUsage, err: auditurl.ErrNoStore}
			}
			q.Status = audit.Status(status)
			for _, t := range []struct {
				text string
				dst  *time.Time
				flag string
			}{{since, &q.Since, "--since"}, {until, &q.Until, "--until"}} {
				if t.text == "" {
					continue
				}
				v, err := time.Parse(time.RFC3339Nano, t.text)
				if err != nil {
					return usage("%s %q: want an RFC 3339 time such as 2026-11-25T12:00:00Z", t.flag, t.text)
				}
				*t.dst = v
			}
			if _, err := q.Compile(); err != nil {
				return &exitError{code: ExitUsage, err: err}
			}
			st, err := auditurl.Open(url)
			if err != nil {
				return &exitError{code: ExitUsage, err: err}
			}
			defer st.Close()
			events, err := st.Query(cmd.Context(), q)
			if err != nil {
				return &exitError{code: ExitUsage, err: err}
			}
			return printEvents(cmd.OutOrStdout(), events, asJSON)
		},
	}
	f := cmd.Flags()
	f.StringVar(&url, "audit", "", "audit store: jsonl:PATH or sqlite:PATH")
	f.StringVar(&q.Subject, "subject", "", "exact subject")
	f.StringVar(&q.Action, "action", "", "action pattern")
	f.StringVar(&q.Resource, "resource", "", "resource pattern")
	f.StringVar(&status, "status", "", "allowed, denied or error")
	f.StringVar(&since, "since", "", "events at or after this time (RFC 3339)")
	f.StringVar(&until, "until", "", "events before this time (RFC 3339)")
	f.StringVar(&q.After, "after", "", "events after this id (the last id of the previous page)")
	f.IntVar(&q.Limit, "limit", 0, fmt.Sprintf("most events shown (default %d, at most %d)", audit.DefaultLimit, audit.MaxLimit))
	f.BoolVar(&asJSON, "json", false, "one JSON event per line")
	return cmd
}

func printEvents(w io.Writer, events []audit.Event, asJSON bool) error {
	if asJSON {
		enc := json.NewEncoder(w)
		enc.SetEscapeHTML(false)
		for i := range events {
			if err := enc.Encode(&events[i]); err != nil {
				return err
			}
		}
		return nil
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "TIME\tID\tSUBJECT\tACTION\tRESOURCE\tSTATUS\tRULE")
	for _, e := range events {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", e.Time.Format(time.RFC3339Nano), e.ID, e.Subject, e.Action, e.Resource, e.Status, e.Rule)
	}
	return tw.Flush()
}
