package wire_test

import (
	"testing"

	"github.com/warden-authz/warden/internal/wire"
)

// TestZeroValues: a nil *Error says so instead of panicking, and a nil
// error from deciding gives no error object.
func TestZeroValues(t *testing.T) {
	t.Parallel()
	var e *wire.Error
	if s := e.Error(); s != "wire: nil *Error" {
		t.Errorf("nil *Error says %q", s)
	}
	if s := (&wire.Error{}).Error(); s != ": " {
		t.Errorf("zero Error says %q", s)
	}
	if got := wire.FromDecideError(nil); got != nil {
		t.Errorf("FromDecideError(nil) = %+v, want nil", got)
	}
	if _, err := wire.DecodeRequest(nil); err == nil || err.Code != wire.CodeInvalidJSON {
		t.Errorf("DecodeRequest(nil) = %+v, want invalid_json", err)
	}
}
