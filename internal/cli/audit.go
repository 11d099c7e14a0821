package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
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

// submit queues one decision and returns its receipt, to wait on before
// the decision is printed; a nil log records nothing (a zero receipt).
func (l *auditLog) submit(req warden.Request, d warden.Decision, derr error, start time.Time) (audit.Receipt, error) {
	if l == nil {
		return audit.Receipt{}, nil
	}
	e, err := audit.NewEvent(req, d, derr, start, time.Now())
	if err != nil {
		return audit.Receipt{}, err
	}
	return l.async.Submit(context.Background(), &e)
}

// record queues one decision; a nil log records nothing.
func (l *auditLog) record(req warden.Request, d warden.Decision, derr error, start time.Time) error {
	if l == nil {
		return nil
	}
	e, err := audit.NewEvent(req, d, derr, start, time.Now())
	if err != nil {
		return err
	}
	return l.async.Record(context.Background(), &e)
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
	cmd.AddCommand(newAuditQuery(), newAuditTail(), newAuditStats())
	return cmd
}

func newAuditQuery() *cobra.Command {
	var (
		f      queryFlags
		asJSON bool
	)
	cmd := &cobra.Command{
		Use:   "query --audit URL [filters]",
		Short: "List audit events, oldest first",
		Long: `query lists the events of an audit store (--audit jsonl:PATH,
sqlite:PATH or postgres://...), oldest first, filtered by subject, action and resource
patterns (warden's own pattern language), status and a time range
[--since, --until) given in RFC 3339. Pass the last id shown as --after to
get the next page.`,
		Example: `  warden audit query --audit sqlite:./audit.db --subject alice --since 2026-11-25T00:00:00Z
  warden audit query --audit jsonl:./audit.jsonl --resource 'articles:*' --status denied --json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			st, q, err := f.open()
			if err != nil {
				return err
			}
			defer st.Close()
			events, err := st.Query(cmd.Context(), q)
			if err != nil {
				return &exitError{code: ExitUsage, err: err}
			}
			return printEvents(cmd.OutOrStdout(), events, asJSON, true)
		},
	}
	f.add(cmd)
	cmd.Flags().StringVar(&f.q.After, "after", "", "events after this id (the last id of the previous page)")
	cmd.Flags().IntVar(&f.q.Limit, "limit", 0, fmt.Sprintf("most events shown (default %d, at most %d)", audit.DefaultLimit, audit.MaxLimit))
	cmd.Flags().BoolVar(&asJSON, "json", false, "one JSON event per line")
	return cmd
}

// printEvents prints events as JSON lines, or as a table, with its
// header line when header is set (tail --follow prints it only once).
// REVISION is the store revision the decision saw, left blank for a
// decision made without a store; it comes before RULE so that every row
// has the same columns whichever are blank.
func printEvents(w io.Writer, events []audit.Event, asJSON, header bool) error {
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
	if header {
		fmt.Fprintln(tw, "TIME\tID\tSUBJECT\tACTION\tRESOURCE\tSTATUS\tREVISION\tRULE")
	}
	for _, e := range events {
		rev := ""
		if e.Revision != 0 {
			rev = strconv.FormatUint(e.Revision, 10)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", e.Time.Format(time.RFC3339Nano), e.ID, e.Subject, e.Action, e.Resource, e.Status, rev, e.Rule)
	}
	return tw.Flush()
}

// auditSchemes lists the audit store URLs for the help of every --audit
// flag, from the package that opens them.
var auditSchemes = strings.Join(auditurl.Schemes, ", ")

// queryFlags are the filters query, tail and stats share.
type queryFlags struct {
	url          string
	q            audit.Query
	status       string
	since, until string
}

func (f *queryFlags) add(cmd *cobra.Command) {
	fl := cmd.Flags()
	fl.StringVar(&f.url, "audit", "", "audit store: "+auditSchemes)
	fl.StringVar(&f.q.Subject, "subject", "", "exact subject")
	fl.StringVar(&f.q.Action, "action", "", "action pattern")
	fl.StringVar(&f.q.Resource, "resource", "", "resource pattern")
	fl.StringVar(&f.status, "status", "", "allowed, denied or error")
	fl.StringVar(&f.since, "since", "", "events at or after this time (RFC 3339)")
	fl.StringVar(&f.until, "until", "", "events before this time (RFC 3339)")
}

// open checks the filters and opens the store.
func (f *queryFlags) open() (auditurl.Store, audit.Query, error) {
	if f.url == "" {
		return nil, f.q, &exitError{code: ExitUsage, err: auditurl.ErrNoStore}
	}
	q := f.q
	q.Status = audit.Status(f.status)
	for _, t := range []struct {
		text string
		dst  *time.Time
		flag string
	}{{f.since, &q.Since, "--since"}, {f.until, &q.Until, "--until"}} {
		if t.text == "" {
			continue
		}
		v, err := time.Parse(time.RFC3339Nano, t.text)
		if err != nil {
			return nil, q, usage("%s %q: want an RFC 3339 time such as 2026-11-25T12:00:00Z", t.flag, t.text)
		}
		*t.dst = v
	}
	if _, err := q.Compile(); err != nil {
		return nil, q, &exitError{code: ExitUsage, err: err}
	}
	st, err := auditurl.Open(f.url)
	if err != nil {
		return nil, q, &exitError{code: ExitUsage, err: err}
	}
	return st, q, nil
}

// each pages through every event the query selects.
func each(ctx context.Context, st auditurl.Store, q audit.Query, fn func(*audit.Event)) error {
	q.Limit = audit.MaxLimit
	for {
		page, err := st.Query(ctx, q)
		if err != nil {
			return err
		}
		for i := range page {
			fn(&page[i])
		}
		if len(page) < q.Limit {
			return nil
		}
		q.After = page[len(page)-1].ID
	}
}

func newAuditTail() *cobra.Command {
	var (
		f      queryFlags
		follow bool
		every  time.Duration
		asJSON bool
	)
	cmd := &cobra.Command{
		Use:   "tail --audit URL [--follow] [filters]",
		Short: "Show the newest audit events, and with --follow new ones as they arrive",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			st, q, err := f.open()
			if err != nil {
				return err
			}
			defer st.Close()
			ctx := cmd.Context()
			var last []audit.Event
			if err := each(ctx, st, q, func(e *audit.Event) {
				last = append(last, *e)
				if len(last) > 10 {
					last = last[1:]
				}
			}); err != nil {
				return &exitError{code: ExitUsage, err: err}
			}
			out := cmd.OutOrStdout()
			if err := printEvents(out, last, asJSON, true); err != nil || !follow {
				return err
			}
			if len(last) > 0 {
				q.After = last[len(last)-1].ID
			}
			for {
				select {
				case <-ctx.Done():
					return nil
				case <-time.After(every):
				}
				var fresh []audit.Event
				if err := each(ctx, st, q, func(e *audit.Event) { fresh = append(fresh, *e) }); err != nil {
					if ctx.Err() != nil {
						return nil // interrupted while asking: the usual way to stop
					}
					return &exitError{code: ExitUsage, err: err}
				}
				if len(fresh) == 0 {
					continue
				}
				q.After = fresh[len(fresh)-1].ID
				// The format of the first lines: a reader of the table
				// gets more rows, a reader of JSON more JSON lines.
				if err := printEvents(out, fresh, asJSON, false); err != nil {
					return err
				}
			}
		},
	}
	f.add(cmd)
	cmd.Flags().BoolVarP(&follow, "follow", "f", false, "keep printing new events, in the same format, until interrupted")
	cmd.Flags().DurationVar(&every, "interval", time.Second, "how often --follow looks for new events")
	cmd.Flags().BoolVar(&asJSON, "json", false, "one JSON event per line")
	return cmd
}

func newAuditStats() *cobra.Command {
	var (
		f      queryFlags
		bucket time.Duration
		top    int
		asJSON bool
	)
	cmd := &cobra.Command{
		Use:   "stats --audit URL [filters]",
		Short: "Count audit events by status, by subject and over time",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if bucket <= 0 {
				return usage("--bucket must be positive")
			}
			st, q, err := f.open()
			if err != nil {
				return err
			}
			defer st.Close()
			s := stats{Statuses: map[audit.Status]int{}, Subjects: map[string]int{}, Over: map[string]int{}}
			if err := each(cmd.Context(), st, q, func(e *audit.Event) {
				s.Total++
				s.Statuses[e.Status]++
				s.Subjects[e.Subject]++
				s.Over[e.Time.Truncate(bucket).UTC().Format(time.RFC3339)]++
			}); err != nil {
				return &exitError{code: ExitUsage, err: err}
			}
			return s.print(cmd.OutOrStdout(), top, asJSON)
		},
	}
	f.add(cmd)
	cmd.Flags().DurationVar(&bucket, "bucket", time.Hour, "width of the time buckets")
	cmd.Flags().IntVar(&top, "top", 10, "how many subjects to list, busiest first")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the counts as JSON")
	return cmd
}

type stats struct {
	Total    int                  `json:"total"`
	Statuses map[audit.Status]int `json:"by_status"`
	Subjects map[string]int       `json:"by_subject"`
	Over     map[string]int       `json:"by_time"`
}

func (s stats) print(w io.Writer, top int, asJSON bool) error {
	if asJSON {
		return writeJSON(w, s)
	}
	fmt.Fprintf(w, "%d events\n\nby status:\n", s.Total)
	for _, st := range []audit.Status{audit.StatusAllowed, audit.StatusDenied, audit.StatusError} {
		fmt.Fprintf(w, "  %-8s %d\n", st, s.Statuses[st])
	}
	subjects := make([]string, 0, len(s.Subjects))
	for k := range s.Subjects {
		subjects = append(subjects, k)
	}
	slices.SortFunc(subjects, func(a, b string) int {
		if c := s.Subjects[b] - s.Subjects[a]; c != 0 {
			return c
		}
		return strings.Compare(a, b)
	})
	fmt.Fprintln(w, "\nby subject (busiest first):")
	for _, k := range subjects[:min(top, len(subjects))] {
		fmt.Fprintf(w, "  %-24s %d\n", k, s.Subjects[k])
	}
	times := make([]string, 0, len(s.Over))
	for k := range s.Over {
		times = append(times, k)
	}
	slices.Sort(times)
	fmt.Fprintln(w, "\nover time:")
	for _, k := range times {
		fmt.Fprintf(w, "  %s  %d\n", k, s.Over[k])
	}
	return nil
}
