package fixes

import (
	"context"
	"fmt"
	"strings"
	"time"
)

// CarriedOut turns advice (a code change, commands a person runs) into a plan that records that the
// operator carried it out outside gkedoctor. Applying it changes nothing: the journal keeps the
// statement (who said what was done, and when) with nothing to undo, and the checks run again on
// fresh facts — so the verdict, not the statement, says whether the change worked.
func CarriedOut(advice *Plan) *Plan {
	return &Plan{
		ID:    advice.ID,
		Check: advice.Check,
		Title: "Carried out outside gkedoctor: " + advice.Title,
		Description: "You made this change yourself (gkedoctor cannot). Recording it changes nothing; the check runs again " +
			"on fresh facts and says whether it worked. Nothing to undo: revert your own change if you need to.",
		Reversible: false,
		CarriedOut: true,
		Commands:   advice.Commands,
	}
}

// recordCarriedOut journals a CarriedOut plan. In a simulated world Deps.CarryOut plays the person
// who makes the change first; its error leaves the entry failed.
func (a *Applier) recordCarriedOut(ctx context.Context, p *Plan, progress func(string)) (*Applied, error) {
	if progress == nil {
		progress = func(string) {}
	}
	now := time.Now
	if a.Now != nil {
		now = a.Now
	}
	e := a.newEntry(p, now())
	if err := a.Journal.Write(e); err != nil {
		return nil, fmt.Errorf("fix %s not recorded: %w", p.ID, err)
	}
	msg := "recorded as carried out by you; gkedoctor changed nothing, so there is nothing to undo"
	if a.Deps != nil && a.Deps.CarryOut != nil {
		progress("the simulated world carries out the advice")
		did, err := a.Deps.CarryOut(ctx, p.ID)
		if err != nil {
			e.State, e.Error = StateFailed, err.Error()
			_ = a.Journal.Write(e)
			return &Applied{Entry: e}, fmt.Errorf("advice %s could not be carried out: %w", p.ID, err)
		}
		if did = strings.TrimSpace(did); did != "" {
			msg = did + "; " + msg
		}
	}
	e.State, e.Message = StateApplied, msg
	if err := a.Journal.Write(e); err != nil {
		return &Applied{Entry: e, Message: msg}, fmt.Errorf("advice %s recorded but its journal entry could not be updated: %w", p.ID, err)
	}
	return &Applied{Entry: e, Message: msg}, nil
}
