package fixes

import "strings"

// Unread is a fact a plan's judgement depends on that could not be read: what it is and the
// permission (or API) reading it needs.
type Unread struct {
	Fact       string // "the firewall rules of network default"
	Permission string // "compute.firewalls.list on project p"
}

func (u Unread) String() string {
	if u.Permission == "" {
		return u.Fact + " could not be read"
	}
	return u.Fact + " could not be read (needs " + u.Permission + ")"
}

// Judge records what the plan was judged against: what else uses what it changes, as read when the
// plan was built. When any fact the judgement depends on could not be read, the plan is refused as
// advice (nothing the tool applies) whose description names the fact and the permission: a fix is
// never judged on facts the tool could not see. Empty lines are dropped. It returns p.
func (p *Plan) Judge(against []string, unread ...Unread) *Plan {
	if p == nil {
		return nil
	}
	for _, a := range against {
		if a = strings.TrimSpace(a); a != "" {
			p.JudgedAgainst = append(p.JudgedAgainst, a)
		}
	}
	var missing []string
	for _, u := range unread {
		if u.Fact != "" {
			missing = append(missing, u.String())
		}
	}
	if len(missing) == 0 || p.CarriedOut {
		return p
	}
	for _, m := range missing {
		p.JudgedAgainst = append(p.JudgedAgainst, "not judged: "+m)
	}
	if p.Advice {
		return p
	}
	p.Advice = true
	p.Snapshot, p.Apply, p.Wait, p.WaitTimeout = nil, nil, nil, 0
	why := "Refused as advice: what else this change would touch could not be judged, because " + strings.Join(missing, "; ") + ". Grant that, or judge it yourself before running the commands."
	if p.Description == "" {
		p.Description = why
	} else {
		p.Description = why + " " + p.Description
	}
	return p
}
