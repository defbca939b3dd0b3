// Package fixrun is gkedoctor's one fix runner: `gkedoctor fix` and the interactive checklist both
// apply a set of fix plans through it, so both follow the same rules.
//
// The stop policy (README "Fixes, the journal and undo"):
//
//   - The plans of a set are applied one at a time, in the order given.
//   - Each is journaled before it changes anything (fixes.Applier.Apply writes the entry first).
//   - After every attempt, whatever its outcome, the inventory is invalidated: a fix that failed
//     half-way may still have changed something, and nothing read before it may be trusted.
//   - The set stops at the first plan that does not end applied — failed, aborted (a concurrent
//     change: nothing was written) or not effective (applied and journaled, but its effect did not
//     show before its deadline). A later plan often builds on an earlier one (a DNS record on the
//     internal load balancer's IP), so going on would act on a state nobody has checked.
//   - Nothing is undone automatically: what was applied stays applied and journaled, and
//     `gkedoctor undo` (u in the checklist) reverts it when the person decides to.
//   - The outcome names every plan of the set: applied, not-effective, failed or aborted, and the
//     ones after a stop as not-attempted. A set with any plan not applied is a failure (exit code 1).
//   - Then the checks are run again on fresh facts (Recheck), with the product's engine
//     configuration (checks.DefaultEngine).
package fixrun

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/gkedoctor/gkedoctor/checks"
	"github.com/gkedoctor/gkedoctor/fixes"
)

// State is what happened to one plan of a set.
type State string

const (
	Applied      State = "applied"
	NotEffective State = "not-effective" // applied and journaled; the effect did not show in time
	Failed       State = "failed"
	Aborted      State = "aborted" // stopped before writing: a concurrent change, or read-only
	NotAttempted State = "not-attempted"
)

// Outcome is one plan's result.
type Outcome struct {
	Plan      *fixes.Plan
	State     State
	JournalID string // the journal entry, when one was written
	Message   string // what the fix and its wait reported
	Err       error
}

// OK reports whether the plan was applied and took effect.
func (o Outcome) OK() bool { return o.State == Applied }

// Applier is what the runner needs of fixes.Applier (tests put a fake here).
type Applier interface {
	Apply(ctx context.Context, p *fixes.Plan, progress func(string)) (*fixes.Applied, error)
}

// Runner applies sets of plans against one session.
type Runner struct {
	Applier Applier
	// Invalidate makes the inventory forget its facts (nil when there is no inventory).
	Invalidate func()
	// Timeout bounds one plan's reads and writes; the plan's own WaitTimeout is added for the wait
	// for its effect. Zero means only the caller's context bounds it.
	Timeout time.Duration
	// Engine re-runs the checks; nil means checks.DefaultEngine().
	Engine *checks.Engine
}

// ApplyOne applies one plan (journal first), invalidates the inventory whatever happened, and
// classifies the outcome. progress receives the applier's lines; it may be nil.
func (r *Runner) ApplyOne(ctx context.Context, p *fixes.Plan, progress func(string)) Outcome {
	if r.Timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, r.Timeout+p.WaitTimeout)
		defer cancel()
	}
	res, err := r.Applier.Apply(ctx, p, progress)
	if r.Invalidate != nil {
		r.Invalidate()
	}
	return classify(p, res, err)
}

func classify(p *fixes.Plan, res *fixes.Applied, err error) Outcome {
	o := Outcome{Plan: p, Err: err}
	if res != nil {
		o.Message = strings.TrimSpace(strings.TrimSpace(res.Message) + " " + strings.TrimSpace(res.Waited))
		if res.Entry != nil {
			o.JournalID = res.Entry.ID
		}
	}
	switch {
	case err == nil:
		o.State = Applied
	case fixes.IsWaitError(err):
		o.State = NotEffective
	case res != nil && res.Entry != nil && res.Entry.State == fixes.StateAborted:
		o.State = Aborted
	default:
		o.State = Failed
	}
	return o
}

// Set is one set of plans under the stop policy. The CLI runs it through Runner.Apply; the checklist
// steps it (Next, then Record the outcome of the plan it applied) so each plan is its own command.
type Set struct {
	plans    []*fixes.Plan
	outcomes []Outcome
	stopped  bool
}

// NewSet starts a set; the plans are applied in this order.
func NewSet(plans []*fixes.Plan) *Set { return &Set{plans: plans} }

// Plans returns the set's plans.
func (s *Set) Plans() []*fixes.Plan { return s.plans }

// Next returns the plan to apply next, or nil when the set is done: every plan attempted, or stopped.
func (s *Set) Next() *fixes.Plan {
	if s.stopped || len(s.outcomes) >= len(s.plans) {
		return nil
	}
	return s.plans[len(s.outcomes)]
}

// Record records the outcome of the plan Next returned; a plan not applied stops the set.
func (s *Set) Record(o Outcome) {
	if s.Next() == nil {
		return
	}
	if o.Plan == nil {
		o.Plan = s.Next()
	}
	s.outcomes = append(s.outcomes, o)
	if !o.OK() {
		s.stopped = true
	}
}

// Done reports whether nothing is left to apply.
func (s *Set) Done() bool { return s.Next() == nil }

// Stopped reports whether the set stopped at a plan that was not applied.
func (s *Set) Stopped() bool { return s.stopped }

// Failed reports whether any plan of the set was not applied (or not attempted): exit code 1.
func (s *Set) Failed() bool {
	for _, o := range s.Outcomes() {
		if !o.OK() {
			return true
		}
	}
	return false
}

// Attempted returns the outcomes of the plans tried so far, in order.
func (s *Set) Attempted() []Outcome { return append([]Outcome(nil), s.outcomes...) }

// Outcomes returns one outcome per plan: the attempted ones, then, once the set is done, the plans
// after a stop as not attempted.
func (s *Set) Outcomes() []Outcome {
	out := s.Attempted()
	if s.Done() {
		for _, p := range s.plans[len(s.outcomes):] {
			out = append(out, Outcome{Plan: p, State: NotAttempted})
		}
	}
	return out
}

// NotAttempted returns the plans a stop left out.
func (s *Set) NotAttempted() []*fixes.Plan {
	if !s.stopped {
		return nil
	}
	return append([]*fixes.Plan(nil), s.plans[len(s.outcomes):]...)
}

// StopNote is the sentence that ends a stopped set's report ("" when the set did not stop or nothing
// was left): how many fixes were not attempted, and that nothing was undone.
func (s *Set) StopNote() string {
	rest := s.NotAttempted()
	if len(rest) == 0 {
		return ""
	}
	applied := 0
	for _, o := range s.outcomes {
		if o.State == Applied || o.State == NotEffective {
			applied++
		}
	}
	note := fmt.Sprintf("Stopped at the first fix that did not take: %d fix(es) after it not attempted", len(rest))
	if applied > 0 {
		note += fmt.Sprintf("; nothing was undone: the %d applied stay applied and journaled (undo reverts them)", applied)
	}
	return note + "."
}

// Events are the runner's progress callbacks; any may be nil.
type Events struct {
	Start    func(p *fixes.Plan)
	Progress func(p *fixes.Plan, line string)
	Done     func(o Outcome)
}

// Apply runs the whole set under the stop policy, synchronously, and returns it.
func (r *Runner) Apply(ctx context.Context, plans []*fixes.Plan, ev Events) *Set {
	s := NewSet(plans)
	for p := s.Next(); p != nil; p = s.Next() {
		if ev.Start != nil {
			ev.Start(p)
		}
		var progress func(string)
		if ev.Progress != nil {
			progress = func(line string) { ev.Progress(p, line) }
		}
		o := r.ApplyOne(ctx, p, progress)
		s.Record(o)
		if ev.Done != nil {
			ev.Done(o)
		}
	}
	return s
}

// Recheck runs list again on fresh facts (the inventory forgets first) with the runner's engine.
func (r *Runner) Recheck(ctx context.Context, env *checks.Env, list []checks.Check, events func(checks.Event)) []checks.Result {
	if r.Invalidate != nil {
		r.Invalidate()
	}
	eng := r.Engine
	if eng == nil {
		eng = checks.DefaultEngine()
	}
	return eng.Run(ctx, env, list, events)
}
