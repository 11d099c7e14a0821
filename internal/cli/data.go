package cli

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/warden-authz/warden"
	"github.com/warden-authz/warden/client"
	"github.com/warden-authz/warden/internal/storeurl"
	"github.com/warden-authz/warden/store"
)

// storeFlag adds --store, defaulting to $WARDEN_STORE.
func storeFlag(cmd *cobra.Command, dst *string) {
	cmd.Flags().StringVar(dst, "store", os.Getenv("WARDEN_STORE"), "data store: "+strings.Join(storeurl.Schemes, ", ")+"; default $WARDEN_STORE")
}

// openStore opens the store url names; a bad URL is a usage error.
func openStore(ctx context.Context, url string) (storeurl.Store, error) {
	if url == "" {
		return nil, usage("no data store: pass --store URL or set WARDEN_STORE (or --server URL for a running warden serve)")
	}
	st, err := storeurl.Open(ctx, url)
	if err != nil {
		return nil, &exitError{code: ExitUsage, err: err}
	}
	return st, nil
}

// openCommandStore opens the store of a command that ends when it has
// run (data, changes, publish, policy, check). A memory: store would
// vanish with the process: a write or a publish into it would report
// success and keep nothing, and a read would find nothing, so it is
// refused rather than obeyed.
func openCommandStore(ctx context.Context, url string) (storeurl.Store, error) {
	if strings.HasPrefix(url, "memory:") {
		return nil, usage("--store %s: a memory store lives only as long as one process, so this command would keep or find nothing; name a sqlite: or postgres:// store, or use --server with a running warden serve", url)
	}
	return openStore(ctx, url)
}

// dataTarget is where data commands read and write: a store opened
// directly, or a running `warden serve` through its data endpoints (SPEC
// 10.5), which checks each write against the policy it serves.
type dataTarget interface {
	Write(ctx context.Context, b store.Batch) (store.Revision, error)
	List(ctx context.Context, f store.Filter) ([]store.Record, string, error)
	Changes(ctx context.Context, after store.Revision, limit int) ([]store.Change, store.Revision, error)
	// Wait returns once a revision after after may have committed, or
	// when ctx ends.
	Wait(ctx context.Context, after store.Revision) (store.Revision, error)
	Close() error
}

// targetFlags are --store, or --server with the admin token's file.
type targetFlags struct {
	store, server, tokenFile string
}

func (t *targetFlags) add(cmd *cobra.Command) {
	storeFlag(cmd, &t.store)
	cmd.Flags().StringVar(&t.server, "server", os.Getenv("WARDEN_SERVER"), "a running warden serve's base URL, instead of --store; default $WARDEN_SERVER")
	cmd.Flags().StringVar(&t.tokenFile, "token-file", os.Getenv("WARDEN_ADMIN_TOKEN_FILE"), "with --server: the file holding its admin token; default $WARDEN_ADMIN_TOKEN_FILE")
}

// open opens the store, or a client of the server. Exactly one must be
// named: a --store beside --server would say two places to write.
func (t *targetFlags) open(ctx context.Context, cmd *cobra.Command) (dataTarget, error) {
	storeFlag, serverFlag := cmd.Flags().Changed("store"), cmd.Flags().Changed("server")
	useServer := false
	switch {
	case storeFlag && serverFlag:
		return nil, usage("--store and --server both name where the data is; give one")
	case storeFlag:
	case serverFlag:
		useServer = true
	case t.server != "" && t.store != "":
		return nil, usage("WARDEN_STORE and WARDEN_SERVER are both set; pass --store or --server to choose")
	default:
		useServer = t.server != ""
	}
	if !useServer {
		if cmd.Flags().Changed("token-file") {
			return nil, usage("--token-file is the admin token of --server; give --server too")
		}
		return openCommandStore(ctx, t.store)
	}
	if t.tokenFile == "" {
		return nil, usage("--server needs the admin token: pass --token-file FILE or set WARDEN_ADMIN_TOKEN_FILE")
	}
	tok, err := readToken("--token-file", t.tokenFile)
	if err != nil {
		return nil, &exitError{code: ExitUsage, err: err}
	}
	c, err := client.New(t.server, &client.Options{Token: tok, UserAgent: "warden-cli"})
	if err != nil {
		return nil, usage("--server: %v", err)
	}
	return remote{c}, nil
}

// remote is a dataTarget on a running server.
type remote struct{ c *client.Client }

func (r remote) Write(ctx context.Context, b store.Batch) (store.Revision, error) {
	return r.c.Write(ctx, b)
}

func (r remote) List(ctx context.Context, f store.Filter) ([]store.Record, string, error) {
	return r.c.Data(ctx, f)
}

func (r remote) Changes(ctx context.Context, after store.Revision, limit int) ([]store.Change, store.Revision, error) {
	return r.c.Changes(ctx, after, limit, 0)
}

// remoteWait is the server-side wait of one follow request, under the
// client's timeout.
const remoteWait = client.DefaultTimeout - 2*time.Second

func (r remote) Wait(ctx context.Context, after store.Revision) (store.Revision, error) {
	_, through, err := r.c.Changes(ctx, after, 1, remoteWait)
	return through, err
}

func (remote) Close() error { return nil }

func newData() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "data",
		Short: "Write and list runtime data: memberships and grants",
		Long: `data writes and lists the runtime data a store keeps beside the policy
file (SPEC 10): memberships (a member in a group or role, a resource in a
resource group) and grants (items of rule blocks declared dynamic = true).

Records name literals only; a pattern character is an error. Each add or
remove is one atomic batch and prints the revision it committed.

Each subcommand works on a store directly (--store URL, $WARDEN_STORE) or
through a running server (--server URL with --token-file holding its admin
token), which checks every write against the policy it serves.`,
	}
	cmd.AddCommand(newDataWrite(store.OpAdd), newDataWrite(store.OpRemove), newDataList())
	return cmd
}

// newDataWrite is `data add` and `data remove`.
func newDataWrite(op store.Op) *cobra.Command {
	var (
		target     targetFlags
		config     string
		batch      bool
		ifRevision int64
	)
	cmd := &cobra.Command{
		Use: op.String() + ` (--store URL | --server URL --token-file FILE) (member MEMBER GROUP | resource RESOURCE GROUP | grant RULE allow|deny SUBJECT RESOURCE ACTION)
  warden data ` + op.String() + ` --store URL --batch < writes.jsonl`,
		Short: op.String() + " a membership or a grant",
		Long: op.String() + ` one record, as one batch; with --batch, read records from standard
input, one JSON write per line ({"membership": {...}} or {"grant": {...}}),
and ` + op.String() + ` them all as one batch. With --config, the writes are first
checked against the policy (grants only to dynamic blocks, no role in a
group); without it, only the store's own checks apply.

Exit codes: 0 written, 2 usage or input error (nothing written).`,
		RunE: func(cmd *cobra.Command, args []string) error {
			var writes []store.Write
			var err error
			if batch {
				if len(args) > 0 {
					return usage("--batch reads the records from standard input; give no arguments")
				}
				writes, err = readWrites(cmd.InOrStdin(), op)
			} else {
				writes, err = writeFromArgs(op, args)
			}
			if err != nil {
				return err
			}
			b := store.Batch{Writes: writes}
			if cmd.Flags().Changed("if-revision") {
				if ifRevision < 0 {
					return usage("--if-revision %d: want a revision, 0 or more", ifRevision)
				}
				r := store.Revision(ifRevision)
				b.IfRevision = &r
			}
			if config != "" {
				p, err := loadPolicy(config)
				if err != nil {
					return err
				}
				if err := p.CheckWrites(writes); err != nil {
					return &exitError{code: ExitUsage, err: err}
				}
			}
			ctx := cmd.Context()
			st, err := target.open(ctx, cmd)
			if err != nil {
				return err
			}
			defer st.Close()
			rev, err := st.Write(ctx, b)
			if err != nil {
				return &exitError{code: ExitUsage, err: err}
			}
			fmt.Fprintf(cmd.OutOrStdout(), "revision %d\n", rev)
			return nil
		},
	}
	target.add(cmd)
	cmd.Flags().StringVarP(&config, "config", "c", "", "check the writes against this policy file first")
	cmd.Flags().BoolVar(&batch, "batch", false, "read the records from standard input, one JSON write per line")
	cmd.Flags().Int64Var(&ifRevision, "if-revision", 0, "refuse the batch unless the store is at this revision (optimistic concurrency)")
	return cmd
}

// writeFromArgs reads one record from the command line.
func writeFromArgs(op store.Op, args []string) ([]store.Write, error) {
	if len(args) == 0 {
		return nil, usage("name a record: member MEMBER GROUP, resource RESOURCE GROUP, or grant RULE allow|deny SUBJECT RESOURCE ACTION")
	}
	w := store.Write{Op: op}
	switch kind, rest := args[0], args[1:]; kind {
	case "member":
		if len(rest) != 2 {
			return nil, usage("member takes MEMBER GROUP, got %d arguments", len(rest))
		}
		w.Membership = &store.Membership{Member: rest[0], Group: rest[1]}
	case "resource":
		if len(rest) != 2 {
			return nil, usage("resource takes RESOURCE GROUP, got %d arguments", len(rest))
		}
		w.Membership = &store.Membership{Resource: rest[0], Group: rest[1]}
	case "grant":
		if len(rest) != 5 {
			return nil, usage("grant takes RULE allow|deny SUBJECT RESOURCE ACTION, got %d arguments", len(rest))
		}
		var eff warden.Effect
		if err := eff.UnmarshalText([]byte(rest[1])); err != nil || eff == warden.EffectNone {
			return nil, usage("grant effect %q: want allow or deny", rest[1])
		}
		w.Grant = &store.Grant{Rule: rest[0], Effect: eff, Subject: rest[2], Resource: rest[3], Action: rest[4]}
	default:
		return nil, usage("unknown record %q: want member, resource or grant", kind)
	}
	if err := w.Check(); err != nil {
		return nil, &exitError{code: ExitUsage, err: err}
	}
	return []store.Write{w}, nil
}

// readWrites reads JSON Lines of records for a batch; a line that is not
// one record fails the whole batch, naming the line.
func readWrites(r io.Reader, op store.Op) ([]store.Write, error) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 64<<10), 1<<20)
	var writes []store.Write
	for line := 1; sc.Scan(); line++ {
		text := strings.TrimSpace(sc.Text())
		if text == "" {
			continue
		}
		var w store.Write
		dec := json.NewDecoder(strings.NewReader(text))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&w); err != nil {
			return nil, usage("line %d: %v", line, err)
		}
		if dec.More() {
			return nil, usage("line %d: more than one JSON value", line)
		}
		if w.Op != 0 && w.Op != op {
			return nil, usage("line %d: op %q in a %s batch", line, w.Op, op)
		}
		w.Op = op
		if err := w.Check(); err != nil {
			return nil, usage("line %d: %v", line, err)
		}
		if len(writes) == store.MaxBatch {
			return nil, usage("more than %d records; a batch holds at most %d", store.MaxBatch, store.MaxBatch)
		}
		writes = append(writes, w)
	}
	if err := sc.Err(); err != nil {
		return nil, usage("reading standard input: %v", err)
	}
	if len(writes) == 0 {
		return nil, usage("no records on standard input")
	}
	return writes, nil
}

func newDataList() *cobra.Command {
	var (
		target targetFlags
		f      store.Filter
		kind   string
		all    bool
		asJSON bool
	)
	cmd := &cobra.Command{
		Use:   "list (--store URL | --server URL --token-file FILE) [--member M] [--group G] [--resource R] [--rule B] [--subject S] [--kind memberships|grants]",
		Short: "List the records a store holds",
		Long: `list prints the records the filters select, oldest first, one a line:
a page of --limit (default 100) and, when there is more, the cursor of the
next page on standard error; --all reads every page.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			switch kind {
			case "":
			case "memberships":
				f.Kind = store.Memberships
			case "grants":
				f.Kind = store.Grants
			default:
				return usage("--kind %q: want memberships or grants", kind)
			}
			if err := f.Check(); err != nil {
				return &exitError{code: ExitUsage, err: err}
			}
			ctx := cmd.Context()
			st, err := target.open(ctx, cmd)
			if err != nil {
				return err
			}
			defer st.Close()
			out := cmd.OutOrStdout()
			for {
				recs, next, err := st.List(ctx, f)
				if err != nil {
					return &exitError{code: ExitUsage, err: err}
				}
				for _, r := range recs {
					if asJSON {
						if err := writeJSON(out, r); err != nil {
							return err
						}
					} else {
						fmt.Fprintln(out, recordText(r))
					}
				}
				if next == "" {
					return nil
				}
				if !all {
					fmt.Fprintf(cmd.ErrOrStderr(), "more: --after %s\n", next)
					return nil
				}
				f.After = next
			}
		},
	}
	target.add(cmd)
	cmd.Flags().StringVar(&f.Member, "member", "", "memberships of this member")
	cmd.Flags().StringVar(&f.Group, "group", "", "memberships in this group")
	cmd.Flags().StringVar(&f.Resource, "resource", "", "memberships and grants of this resource")
	cmd.Flags().StringVar(&f.Rule, "rule", "", "grants of this rule block")
	cmd.Flags().StringVar(&f.Subject, "subject", "", "grants to this subject")
	cmd.Flags().StringVar(&kind, "kind", "", "memberships or grants")
	cmd.Flags().StringVar(&f.After, "after", "", "cursor: the next page after the one it ended")
	cmd.Flags().IntVar(&f.Limit, "limit", 0, "records a page (default 100, at most 10000)")
	cmd.Flags().BoolVar(&all, "all", false, "read every page")
	cmd.Flags().BoolVar(&asJSON, "json", false, "one JSON record a line")
	return cmd
}

// recordText is one record as list prints it.
func recordText(r store.Record) string {
	switch {
	case r.Membership != nil && r.Membership.Member != "":
		return fmt.Sprintf("member    %q in %q", r.Membership.Member, r.Membership.Group)
	case r.Membership != nil:
		return fmt.Sprintf("resource  %q in %q", r.Membership.Resource, r.Membership.Group)
	case r.Grant != nil:
		g := r.Grant
		return fmt.Sprintf("grant     [%s] %s %q %q %q", g.Rule, g.Effect, g.Subject, g.Resource, g.Action)
	}
	return "?"
}

func changeText(c store.Change) string {
	return fmt.Sprintf("%d  %-6s %s", c.Revision, c.Op, recordText(store.Record{Membership: c.Membership, Grant: c.Grant}))
}

func newChanges() *cobra.Command {
	var (
		target targetFlags
		after  int64
		follow bool
		asJSON bool
	)
	cmd := &cobra.Command{
		Use:   "changes (--store URL | --server URL --token-file FILE) [--after REVISION] [--follow]",
		Short: "Print the store's changes in revision order",
		Long: `changes prints every change after a revision (default: from the
first), one a line, in revision order. With --follow it waits for new
changes and prints them as they commit, until interrupted.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if after < 0 {
				return usage("--after %d: want a revision, 0 or more", after)
			}
			ctx := cmd.Context()
			if ctx == nil {
				ctx = context.Background()
			}
			st, err := target.open(ctx, cmd)
			if err != nil {
				return err
			}
			defer st.Close()
			out := cmd.OutOrStdout()
			cur := store.Revision(after)
			for {
				changes, through, err := st.Changes(ctx, cur, store.MaxLimit)
				switch {
				case errors.Is(err, context.Canceled):
					return nil
				case err != nil:
					return &exitError{code: ExitUsage, err: err}
				}
				for _, c := range changes {
					if asJSON {
						if err := writeJSON(out, c); err != nil {
							return err
						}
					} else {
						fmt.Fprintln(out, changeText(c))
					}
				}
				if through > cur {
					cur = through
					continue
				}
				if !follow {
					return nil
				}
				wctx, cancel := context.WithTimeout(ctx, 30*time.Second)
				_, err = st.Wait(wctx, cur)
				cancel()
				if ctx.Err() != nil {
					return nil // interrupted: a clean stop
				}
				_ = err // a timeout or a lost notification: ask again
			}
		},
	}
	target.add(cmd)
	cmd.Flags().Int64Var(&after, "after", 0, "print the changes after this revision")
	cmd.Flags().BoolVarP(&follow, "follow", "f", false, "wait for new changes and print them as they commit")
	cmd.Flags().BoolVar(&asJSON, "json", false, "one JSON change a line")
	return cmd
}

// snapshot reads every record of the store at url, and its revision.
func snapshot(ctx context.Context, url string) (store.Revision, []store.Record, error) {
	st, err := openCommandStore(ctx, url)
	if err != nil {
		return 0, nil, err
	}
	defer st.Close()
	var recs []store.Record
	rev, err := st.Snapshot(ctx, func(r store.Record) error {
		recs = append(recs, r)
		return nil
	})
	if err != nil {
		return 0, nil, &exitError{code: ExitUsage, err: err}
	}
	return rev, recs, nil
}

// loadPolicyData loads the policy and, with a store URL, the store's data
// merged into it, for the commands that read a whole policy (SPEC 10.7).
func loadPolicyData(ctx context.Context, config, storeURL string) (*warden.Policy, error) {
	p, err := loadPolicy(config)
	if err != nil || storeURL == "" {
		return p, err
	}
	rev, recs, err := snapshot(ctx, storeURL)
	if err != nil {
		return nil, err
	}
	if p, err = p.WithData(rev, recs); err != nil {
		return nil, &exitError{code: ExitUsage, err: err}
	}
	return p, nil
}
