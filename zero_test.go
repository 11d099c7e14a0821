package warden_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/warden-authz/warden"
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
	withAlice := warden.WithActor(context.Background(), alice)
	var nilAuth *warden.Auth
	for name, a := range map[string]*warden.Auth{"zero": {}, "nil": nilAuth} {
		if _, err := a.Authorize(context.Background(), "alice"); !errors.Is(err, warden.ErrUnauthorized) {
			t.Errorf("%s Auth: Authorize = %v, want ErrUnauthorized", name, err)
		}
	}
	var nilGuard *warden.Guard
	for name, g := range map[string]*warden.Guard{"zero": {}, "nil": nilGuard} {
		d, err := g.Check(withAlice)
		if err == nil || d.Allowed {
			t.Errorf("%s Guard: Check = %+v, %v; want a denial with an error", name, d, err)
		}
	}
	if _, err := (&warden.Guard{}).Check(withAlice); !errors.Is(err, warden.ErrInvalidRequest) {
		t.Errorf("zero Guard: %v, want ErrInvalidRequest", err)
	}
	var pe *warden.PolicyError
	var de *warden.DeniedError
	for _, err := range []error{pe, de} {
		if s := err.Error(); !strings.HasPrefix(s, "warden: ") {
			t.Errorf("nil %T says %q", err, s)
		}
	}
	if !errors.Is(de, warden.ErrAccessDenied) {
		t.Error("a nil *DeniedError is not ErrAccessDenied")
	}
}
