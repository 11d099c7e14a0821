// Command warden decides, explains and validates authorization policies.
//
//	warden check    --config FILE SUBJECT RESOURCE ACTION   decide one request
//	warden check    --config FILE --batch < requests.jsonl  decide many
//	warden explain  --config FILE SUBJECT RESOURCE ACTION   every matching rule, and why
//	warden validate --config FILE                           every problem in a policy
//
// Exit codes: 0 allowed (or valid), 1 denied, 2 usage or input error.
package main

import (
	"os"

	"github.com/warden-authz/warden/internal/cli"
)

func main() {
	os.Exit(cli.Run(os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
}
