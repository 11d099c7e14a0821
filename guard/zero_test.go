package guard_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/warden-authz/warden"
	"github.com/warden-authz/warden/guard"
)

// TestZeroAuthAndGuard: an Auth or Guard not made by their constructors
// authorizes no one and denies every call, and nil errors still say what
// they stand for.
func TestZeroAuthAndGuard(t *testing.T) {
	t.Parallel()
	roles, err := warden.NewRoles()
	if err != nil {
		t.Fatal(err)
	}
	alice, err := roles.Actor("alice")
	if err != nil {
		t.Fatal(err)
	}
	withAlice := guard.WithActor(context.Background(), alice)
	var nilAuth *guard.Auth
	for name, a := range map[string]*guard.Auth{"zero": {}, "nil": nilAuth} {
		if _, err := a.Authorize(context.Background(), "alice"); !errors.Is(err, warden.ErrUnauthorized) {
			t.Errorf("%s Auth: Authorize = %v, want ErrUnauthorized", name, err)
		}
	}
	var nilGuard *guard.Guard
	for name, g := range map[string]*guard.Guard{"zero": {}, "nil": nilGuard} {
		d, err := g.Check(withAlice)
		if err == nil || d.Allowed {
			t.Errorf("%s Guard: Check = %+v, %v; want a denial with an error", name, d, err)
		}
	}
	if _, err := (&guard.Guard{}).Check(withAlice); !errors.Is(err, warden.ErrInvalidRequest) {
		t.Errorf("zero Guard: %v, want ErrInvalidRequest", err)
	}
	var pe *warden.PolicyError
	var de *guard.DeniedError
	for _, err := range []error{pe, de} {
		if s := err.Error(); !strings.HasPrefix(s, "warden: ") {
			t.Errorf("nil %T says %q", err, s)
		}
	}
	if !errors.Is(de, guard.ErrAccessDenied) {
		t.Error("a nil *DeniedError is not ErrAccessDenied")
	}
}
