package cli

import (
	"fmt"
	"io"
	"os"
	"time"

	"github.com/spf13/cobra"

	"github.com/warden-authz/warden"
	"github.com/warden-authz/warden/store"
)

// policiesOf returns the store at url as a keeper of policy versions:
// every store a URL names keeps them (storeurl.Store).
func policiesOf(cmd *cobra.Command, url string) (store.Policies, func() error, error) {
	st, err := openCommandStore(cmd.Context(), url)
	if err != nil {
		return nil, nil, err
	}
	return st, st.Close, nil
}

// readPolicyFile reads a file to publish, refusing one larger than a
// store keeps before reading it all, so a huge file costs no memory.
func readPolicyFile(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	text, err := io.ReadAll(io.LimitReader(f, store.MaxPolicyBytes+1))
	if err != nil {
		return nil, err
	}
	if len(text) > store.MaxPolicyBytes {
		return nil, fmt.Errorf("%s: over %d bytes, the most a store keeps of a policy file", path, store.MaxPolicyBytes)
	}
	return text, nil
}

func newPublish() *cobra.Command {
	var storeURL string
	cmd := &cobra.Command{
		Use:   "publish --store URL POLICY.toml",
		Short: "Store a policy file in a store as its current version",
		Long: `publish checks that a policy file loads, then stores it in the data store
as the new current version: every warden serve started with --store and no
--config switches to it (SPEC 11.3). A file that does not load is never
published; its problems are printed as validate prints them.

Exit codes: 0 published, 2 usage or input error (nothing published).`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			text, err := readPolicyFile(args[0])
			if err != nil {
				return &exitError{code: ExitUsage, err: err}
			}
			ps, closeStore, err := policiesOf(cmd, storeURL)
			if err != nil {
				return err
			}
			defer closeStore()
			v, err := warden.Publish(cmd.Context(), ps, args[0], text)
			if err != nil {
				return &exitError{code: ExitUsage, err: err}
			}
			fmt.Fprintf(cmd.OutOrStdout(), "published %s as version %d\n", v.Version, v.Seq)
			return nil
		},
	}
	storeFlag(cmd, &storeURL)
	return cmd
}

func newPolicy() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "policy",
		Short: "Read and roll back the policy versions a store keeps",
	}
	var storeURL string
	var limit int
	var asJSON bool
	history := &cobra.Command{
		Use:   "history --store URL",
		Short: "List the policy versions a store keeps, newest first",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			ps, closeStore, err := policiesOf(cmd, storeURL)
			if err != nil {
				return err
			}
			defer closeStore()
			vs, err := ps.PolicyHistory(cmd.Context(), limit)
			if err != nil {
				return &exitError{code: ExitUsage, err: err}
			}
			out := cmd.OutOrStdout()
			for i, v := range vs {
				if asJSON {
					if err := writeJSON(out, v); err != nil {
						return err
					}
					continue
				}
				mark, what := " ", "published"
				if i == 0 {
					mark = "*"
				}
				if v.RollbackOf > 0 {
					what = fmt.Sprintf("rolled back to version %d", v.RollbackOf)
				}
				fmt.Fprintf(out, "%s %4d  %s  %s  %s  %s\n", mark, v.Seq, v.Time.Format(time.RFC3339), v.Version, v.Name, what)
			}
			return nil
		},
	}
	storeFlag(history, &storeURL)
	history.Flags().IntVar(&limit, "limit", 20, "versions to list")
	history.Flags().BoolVar(&asJSON, "json", false, "one JSON version a line")
	var rbStore string
	rollback := &cobra.Command{
		Use:   "rollback --store URL VERSION",
		Short: "Make an earlier policy version current again",
		Long: `rollback makes the policy version with the given content hash (as
history lists it, sha256:...) current again, as a new entry of the history;
every instance following the store switches to it.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ps, closeStore, err := policiesOf(cmd, rbStore)
			if err != nil {
				return err
			}
			defer closeStore()
			v, err := ps.Rollback(cmd.Context(), args[0])
			if err != nil {
				return &exitError{code: ExitUsage, err: err}
			}
			fmt.Fprintf(cmd.OutOrStdout(), "rolled back to %s (version %d) as version %d\n", v.Version, v.RollbackOf, v.Seq)
			return nil
		},
	}
	storeFlag(rollback, &rbStore)
	cmd.AddCommand(history, rollback)
	return cmd
}
