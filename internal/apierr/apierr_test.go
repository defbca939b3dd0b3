package apierr

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
)

func TestErrorMessages(t *testing.T) {
	cases := []struct {
		err  *Error
		want string
	}{
		{&Error{Kind: Permission, Op: "list firewalls", Resource: "projects/p", Permission: "compute.firewalls.list"}, "list firewalls projects/p: permission denied: missing compute.firewalls.list"},
		{NotConfiguredf("gcloud auth application-default login", "no Application Default Credentials"), "no Application Default Credentials (run: gcloud auth application-default login)"},
		{&Error{Kind: NotFound, Op: "get service", Resource: "default/x", Err: errors.New("404")}, "get service default/x: 404"},
	}
	for _, c := range cases {
		if got := strings.TrimSpace(c.err.Error()); got != c.want {
			t.Errorf("got %q, want %q", got, c.want)
		}
	}
}

func TestKindOf(t *testing.T) {
	wrapped := fmt.Errorf("outer: %w", &Error{Kind: Permission})
	if KindOf(wrapped) != Permission || !IsCouldNotLook(wrapped) {
		t.Fatalf("wrapped permission not recognised")
	}
	if KindOf(fmt.Errorf("x: %w", context.DeadlineExceeded)) != Timeout {
		t.Fatalf("deadline not recognised as timeout")
	}
	if IsCouldNotLook(errors.New("boom")) || KindOf(nil) != "" {
		t.Fatalf("plain errors are not could-not-look")
	}
}
