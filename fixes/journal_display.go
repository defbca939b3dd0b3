package fixes

import "github.com/gkedoctor/gkedoctor/internal/safeout"

// forDisk is the entry as the journal file holds it. The fields that are only ever shown to a person
// — the title, the equivalent commands, the outcome's message and error — are redacted before they
// are written (an error body or a Cloud Run URL with ?token= in it must not sit in a file in clear).
// The prior objects and the undo parameters keep the raw values: undo must put back exactly what was
// there (the client-env fix restores an environment variable whose URL carries ?token=…), so the
// journal stores them, in a 0600 file in a 0700 directory, and nothing ever prints them: every
// display of an entry (undo, undo --list, the checklist) shows the redacted fields only, through
// safeout.
func (e *Entry) forDisk() *Entry {
	c := *e
	c.Title = safeout.Redact(c.Title)
	c.Message = safeout.Redact(c.Message)
	c.Error = safeout.Redact(c.Error)
	if c.Commands != nil {
		cmds := make([]string, len(c.Commands))
		for i, s := range c.Commands {
			cmds[i] = safeout.Redact(s)
		}
		c.Commands = cmds
	}
	return &c
}
