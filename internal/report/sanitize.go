package report

import "github.com/gkedoctor/gkedoctor/internal/safeout"

// Every renderer passes every string of the report through safeout.Text (the one output layer:
// escape sequences, controls, bidi and invisible characters replaced by a visible placeholder,
// secrets redacted) once, with mapStrings, instead of at every print. Checks quote things they read
// from the cluster and the network; an ESC sequence in an annotation or a DNS answer must not drive
// the user's terminal or end up in a ticket, and a token in an error body must not either.

// mapStrings returns a deep copy of r with f applied to every string a person reads. Renderers use it
// to redact and sanitise once, instead of at every print.
func (r *Report) mapStrings(f func(string) string) *Report {
	c := *r.normalized()
	c.Tool = Tool{Name: f(c.Tool.Name), Version: f(c.Tool.Version)}
	c.Mode = f(c.Mode)
	c.Target = Target{
		Project:   f(c.Target.Project),
		Location:  f(c.Target.Location),
		Cluster:   f(c.Target.Cluster),
		Namespace: f(c.Target.Namespace),
		Context:   f(c.Target.Context),
	}
	c.StartedAt = f(c.StartedAt)
	c.Where = f(c.Where)
	c.NotTested = mapSlice(c.NotTested, f)
	for i := range c.Results {
		c.Results[i] = c.Results[i].mapStrings(f)
	}
	return &c
}

func (res Result) mapStrings(f func(string) string) Result {
	res.ID = f(res.ID)
	res.Title = f(res.Title)
	res.Cause = f(res.Cause)
	res.Summary = f(res.Summary)
	res.Parent = f(res.Parent)
	res.Path = mapSlice(res.Path, f)
	ev := make([]Evidence, len(res.Evidence))
	for i, e := range res.Evidence {
		ev[i] = Evidence{Step: f(e.Step), Status: e.Status, Detail: f(e.Detail), Command: f(e.Command)}
	}
	res.Evidence = ev
	fx := make([]Fix, len(res.Fixes))
	for i, x := range res.Fixes {
		x.ID = f(x.ID)
		x.Check = f(x.Check)
		x.Title = f(x.Title)
		x.Description = f(x.Description)
		x.Affects = f(x.Affects)
		if x.JudgedAgainst != nil {
			x.JudgedAgainst = mapSlice(x.JudgedAgainst, f)
		}
		x.Diff = f(x.Diff)
		x.Commands = mapSlice(x.Commands, f)
		fx[i] = x
	}
	res.Fixes = fx
	return res
}

func mapSlice(in []string, f func(string) string) []string {
	if in == nil {
		return nil
	}
	out := make([]string, len(in))
	for i, s := range in {
		out[i] = f(s)
	}
	return out
}

// redactAndSanitize is what every string of a report goes through.
func redactAndSanitize(s string) string { return safeout.Text(s) }
