package testenv

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"time"

	authnv1 "k8s.io/api/authentication/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
)

// AuditEvent is the subset of an audit.k8s.io/v1 Event that tests assert
// on, with the same JSON names. It is declared here so that the module does
// not depend on k8s.io/apiserver for one struct.
type AuditEvent struct {
	Level                    string            `json:"level"`
	AuditID                  types.UID         `json:"auditID"`
	Stage                    string            `json:"stage"`
	RequestURI               string            `json:"requestURI"`
	Verb                     string            `json:"verb"`
	User                     authnv1.UserInfo  `json:"user"`
	ImpersonatedUser         *authnv1.UserInfo `json:"impersonatedUser,omitempty"`
	SourceIPs                []string          `json:"sourceIPs,omitempty"`
	UserAgent                string            `json:"userAgent,omitempty"`
	ObjectRef                *AuditObjectRef   `json:"objectRef,omitempty"`
	ResponseStatus           *metav1.Status    `json:"responseStatus,omitempty"`
	RequestReceivedTimestamp metav1.MicroTime  `json:"requestReceivedTimestamp"`
	StageTimestamp           metav1.MicroTime  `json:"stageTimestamp"`
	Annotations              map[string]string `json:"annotations,omitempty"`
}

// AuditObjectRef is audit.k8s.io/v1 ObjectReference.
type AuditObjectRef struct {
	Resource        string    `json:"resource,omitempty"`
	Namespace       string    `json:"namespace,omitempty"`
	Name            string    `json:"name,omitempty"`
	UID             types.UID `json:"uid,omitempty"`
	APIGroup        string    `json:"apiGroup,omitempty"`
	APIVersion      string    `json:"apiVersion,omitempty"`
	ResourceVersion string    `json:"resourceVersion,omitempty"`
	Subresource     string    `json:"subresource,omitempty"`
}

// Code returns the response's HTTP status code, or 0 when the event has none.
func (e AuditEvent) Code() int {
	if e.ResponseStatus == nil {
		return 0
	}
	return int(e.ResponseStatus.Code)
}

// AuditEvents reads every event in the audit log so far, oldest first.
func (s *APIServer) AuditEvents() ([]AuditEvent, error) {
	f, err := os.Open(s.AuditLogPath)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read audit log: %w", err)
	}
	defer f.Close()
	return parseAuditLog(f)
}

// parseAuditLog parses JSON lines. A last line without its newline is a
// write in progress and is left for the next read.
func parseAuditLog(r io.Reader) ([]AuditEvent, error) {
	var events []AuditEvent
	br := bufio.NewReaderSize(r, 64<<10)
	for n := 1; ; n++ {
		line, err := br.ReadBytes('\n')
		if errors.Is(err, io.EOF) {
			return events, nil
		}
		if err != nil {
			return events, fmt.Errorf("read audit log: %w", err)
		}
		line = bytes.TrimSpace(line)
		if len(line) == 0 {
			continue
		}
		var e AuditEvent
		if err := json.Unmarshal(line, &e); err != nil {
			return events, fmt.Errorf("audit log line %d: %w", n, err)
		}
		events = append(events, e)
	}
}

// AwaitAuditEvents polls the audit log until at least one event matches and
// returns the matching events, or fails when ctx ends. The log is written
// synchronously, so the first read normally has the event already.
func (s *APIServer) AwaitAuditEvents(ctx context.Context, match func(AuditEvent) bool) ([]AuditEvent, error) {
	for {
		events, err := s.AuditEvents()
		if err != nil {
			return nil, err
		}
		var found []AuditEvent
		for _, e := range events {
			if match(e) {
				found = append(found, e)
			}
		}
		if len(found) > 0 {
			return found, nil
		}
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("no matching audit event among %d in %s: %w", len(events), s.AuditLogPath, context.Cause(ctx))
		case <-time.After(50 * time.Millisecond):
		}
	}
}
