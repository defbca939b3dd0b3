// Package fixes holds fix plans, the code that applies them, the journal that makes every applied fix
// undoable, and undo itself.
//
// The safety rules of DESIGN §7 live here, below any UI: a fix in read-only mode is an error; the
// journal entry with the prior objects is written (and synced) before anything changes; appliers use
// the APIs' optimistic-concurrency guards and stop on a concurrent change; undo is data-driven so a
// fix applied by one process can be undone by another.
package fixes

import (
	"context"
	"encoding/json"
	"errors"
	"time"
)

// Plan is one proposed fix: what it changes, how risky it is, the commands a person could run instead,
// and the code that applies it.
type Plan struct {
	ID          string `json:"id"`    // stable, e.g. "create-internal-lb/default/development-agent"
	Check       string `json:"check"` // the check id that proposes it
	Title       string `json:"title"`
	Description string `json:"description,omitempty"`
	Diff        string `json:"diff,omitempty"` // before/after, unified style ("- "/"+ " lines)
	Destructive bool   `json:"destructive"`
	Reversible  bool   `json:"reversible"`
	VPCWide     bool   `json:"vpcWide,omitempty"` // affects more than the target (a peering, a zone)
	Affects     string `json:"affects,omitempty"` // what else it affects, said before the second key
	// JudgedAgainst lists, concretely, what else uses what the fix changes, as judged when the plan was
	// built ("network default: 3 other ingress rules to tag gke-…-node", "the binding's members: …").
	// Every plan states it; a plan whose judgement needs a fact that could not be read is advice.
	JudgedAgainst []string `json:"judgedAgainst,omitempty"`
	Advice        bool     `json:"advice,omitempty"` // advice only: nothing the tool can apply
	// Alternative plans are offered but not applied by `gkedoctor fix CHECK-ID`; they need their own id.
	Alternative bool `json:"alternative,omitempty"`
	// CarriedOut plans record advice the operator carried out outside gkedoctor (made by CarriedOut):
	// the tool changes nothing, journals the statement and runs the checks again.
	CarriedOut bool     `json:"carriedOut,omitempty"`
	Commands   []string `json:"commands"` // equivalent gcloud/kubectl commands

	// Snapshot reads and returns the objects the fix will change and the undo actions, before any
	// change. Its output is journaled before Apply runs.
	Snapshot func(ctx context.Context) (Snapshot, error) `json:"-"`
	// Apply makes the change, guarded by the versions captured in the snapshot.
	Apply func(ctx context.Context, snap Snapshot) (Outcome, error) `json:"-"`
	// Wait, when set, polls for the change to take effect (an LB IP, an operation), bounded by ctx.
	// progress receives human lines ("waiting for ingress IP, 4m50s left").
	Wait func(ctx context.Context, progress func(string)) (string, error) `json:"-"`
	// WaitTimeout bounds Wait (shown to the user as the deadline).
	WaitTimeout time.Duration `json:"-"`
}

// NeedsConfirmation reports whether the plan asks for a second key (DESIGN §7).
func (p *Plan) NeedsConfirmation() bool { return p.Destructive || p.VPCWide }

// Object is a saved copy of an API object as it was before a fix.
type Object struct {
	API      string          `json:"api"`  // "kubernetes", "run.googleapis.com", …
	Kind     string          `json:"kind"` // "Service", "ManagedZone", …
	Name     string          `json:"name"` // namespaced or resource name
	Absent   bool            `json:"absent,omitempty"`
	Version  string          `json:"version,omitempty"` // resourceVersion / etag / fingerprint seen
	Contents json.RawMessage `json:"contents,omitempty"`
}

// UndoAction is one data-driven step of an undo; Type selects a registered Undoer.
type UndoAction struct {
	Type   string          `json:"type"`
	Params json.RawMessage `json:"params"`
	// State is StepPlanned (journaled before its write), StepDone or StepUndone; empty in entries
	// written by older versions, which journaled only done steps.
	State string `json:"state,omitempty"`
}

// Snapshot is what a fix saves before it changes anything.
type Snapshot struct {
	Prior []Object     `json:"prior"`
	Undo  []UndoAction `json:"undo"`
	// Steps journals each further write before it is made (set by Applier.Apply; nil otherwise).
	// Undo actions known before the first write belong in Undo; ones learned during Apply (a
	// generated name, a second object) go through Steps.Will before their write.
	Steps *Steps `json:"-"`
}

// Version is the version (resourceVersion, etag) of the first object the snapshot saved, "" when it
// saved none: what Apply's write is conditioned on.
func (s Snapshot) Version() string {
	if len(s.Prior) == 0 {
		return ""
	}
	return s.Prior[0].Version
}

// RequireVersion is Version for a write that must be conditional on it (a Kubernetes patch carrying
// metadata.resourceVersion): without a saved version the patch would overwrite whatever is there,
// so it is refused instead.
func (s Snapshot) RequireVersion() (string, error) {
	if v := s.Version(); v != "" {
		return v, nil
	}
	return "", errors.New("no resourceVersion was saved: not patching without one")
}

// Outcome is what Apply reports.
type Outcome struct {
	Message string       `json:"message"`
	Created []Object     `json:"created,omitempty"`
	Undo    []UndoAction `json:"undo,omitempty"` // replaces the snapshot's undo when set (e.g. with a UID)
}

// NewUndo builds an UndoAction from params.
func NewUndo(typ string, params any) UndoAction {
	b, err := json.Marshal(params)
	if err != nil {
		b = []byte("null")
	}
	return UndoAction{Type: typ, Params: b}
}

// ErrReadOnly is returned when a fix or undo is attempted in read-only mode.
var ErrReadOnly = errors.New("read-only mode: no fix can be applied (run without --read-only to change anything)")

// ErrAdviceOnly is returned when an advice-only plan is applied.
var ErrAdviceOnly = errors.New("this fix is advice only: run the listed commands or make the code change yourself")
