package tui

import (
	"context"
	"strings"
	"time"

	"charm.land/bubbles/v2/help"
	"charm.land/bubbles/v2/spinner"
	"charm.land/bubbles/v2/textinput"
	"charm.land/bubbles/v2/viewport"
	tea "charm.land/bubbletea/v2"

	"github.com/gkedoctor/gkedoctor/checks"
	"github.com/gkedoctor/gkedoctor/fixes"
	"github.com/gkedoctor/gkedoctor/internal/fixrun"
	"github.com/gkedoctor/gkedoctor/internal/vantage"
)

// screen is what has the keyboard. The root model routes keys and drawing by it.
type screen int

const (
	screenList screen = iota
	screenDetail
	screenHelp
	screenFilter
	screenConfirm
	screenPick
	screenGuided
)

var allScreens = []screen{screenList, screenDetail, screenHelp, screenFilter, screenConfirm, screenPick, screenGuided}

func (s screen) String() string {
	return [...]string{"checklist", "detail", "help", "filter", "confirm", "fix picker", "guided"}[s]
}

// applier is what the TUI needs of fixes.Applier (declared here so tests can put a spy in front of it).
type applier interface {
	Apply(ctx context.Context, p *fixes.Plan, progress func(string)) (*fixes.Applied, error)
	Undo(ctx context.Context, e *fixes.Entry) error
}

// journal finds the fix that u undoes.
type journal interface {
	Last(t fixes.Target) (*fixes.Entry, error)
}

// config is everything the model takes from the session; tests build it directly.
type config struct {
	env        *checks.Env
	applier    applier
	journal    journal
	target     fixes.Target
	invalidate func()
	kubeErr    error
	gcpErr     error

	// catalogue and lookup default to checks.Catalogue and checks.Lookup; tests put test-only checks here.
	catalogue []checks.Info
	lookup    func(id string) (checks.Check, bool)

	keys       *keyMap
	engine     *checks.Engine
	runTimeout time.Duration
	readOnly   bool
	guided     bool
	triage     bool // open the triage screen first (gkedoctor --triage)
	noColor    bool
	now        func() time.Time
	exportDirs func() []string
	// observer runs vantage points (the o key); nil when this session cannot create them.
	observer *vantage.Runner
}

type rowState int

const (
	stateIdle    rowState = iota // available, not run yet
	statePlanned                 // in the catalogue, not in this build
	stateQueued
	stateRunning
	stateDone
)

// row is one catalogue entry and what is known about it.
type row struct {
	info      checks.Info
	parent    *row
	children  []*row
	expanded  bool
	state     rowState
	run       int
	startedAt time.Time
	steps     []checks.Evidence // live, while running
	result    *checks.Result
	version   int    // bumped on every change, for the detail cache
	fixNote   string // the outcome of the last fix or undo of this check
	fixLevel  level
}

func (r *row) id() string { return r.info.ID }

type level int

const (
	levelInfo level = iota
	levelOK
	levelWarn
	levelErr
)

type statusLine struct {
	text  string
	level level
}

// fixJob is the fix (or recommended set of fixes) being applied. The set's stop policy is
// internal/fixrun's, the same as `gkedoctor fix`.
type fixJob struct {
	id       int
	check    string
	set      *fixrun.Set
	plans    []*fixes.Plan
	idx      int // the plan being applied: the number of plans attempted so far
	lines    []string
	started  time.Time
	deadline time.Time // zero when the plan does not wait
	results  []string
	worst    level
}

type confirmState struct {
	check string
	plans []*fixes.Plan
}

type pickState struct {
	check       string
	plans       []*fixes.Plan // applicable (non-advice), in the check's order
	recommended []*fixes.Plan
}

// Model is the root model: it owns the shared state (size, styles, keys, rows) and routes keys and
// drawing to the screen that is active. Children render strings; only the root returns a tea.View.
type Model struct {
	ctx  context.Context
	cfg  config
	mb   *mailbox
	st   *styles
	keys *keyMap

	width, height int
	dark          bool
	styleGen      int

	rows     []*row
	byID     map[string]*row
	top      []*row
	selected string
	// userMoved stops the automatic selection of the first failure once the user picked something.
	userMoved  bool
	listOffset int

	screen     screen
	prevScreen screen
	filter     string
	input      textinput.Model
	help       help.Model

	vp        viewport.Model
	detailKey string
	detailSel string

	spin     spinner.Model
	spinning bool

	nextRun int
	jobSeq  int
	fix     *fixJob
	confirm *confirmState
	pick    *pickState
	undoing bool
	verify  map[string]string // check id → "fix" or "undo": say how the re-check came out

	observeAsk *observeState       // the preview waiting for y/n
	observing  string              // the check being observed live ("" when none)
	observed   map[string][]string // check id → what its vantage points saw, for the detail pane

	status    statusLine
	quitArmed bool
	started   time.Time

	guided guidedState
	triage component // the triage screen while open (t, --triage); nil otherwise
}

// newModel builds the model; nothing runs until Init's commands do.
func newModel(ctx context.Context, cfg config) *Model {
	if cfg.keys == nil {
		cfg.keys = defaultKeyMap()
	}
	if cfg.now == nil {
		cfg.now = time.Now
	}
	if cfg.catalogue == nil {
		cfg.catalogue = checks.Catalogue()
	}
	if cfg.lookup == nil {
		cfg.lookup = checks.Lookup
	}
	if cfg.engine == nil {
		cfg.engine = checks.DefaultEngine()
	}
	if cfg.runTimeout <= 0 {
		cfg.runTimeout = 5 * time.Minute
	}
	if cfg.exportDirs == nil {
		cfg.exportDirs = defaultExportDirs
	}
	if cfg.env == nil {
		cfg.env = &checks.Env{}
	}
	if cfg.readOnly {
		const why = "read-only"
		cfg.keys.disable("fix", why)
		cfg.keys.disable("undo", why)
		cfg.keys.disable("observe", why)
	}
	m := &Model{
		ctx: ctx, cfg: cfg, mb: newMailbox(), keys: cfg.keys,
		width: 80, height: 24, dark: true,
		byID: map[string]*row{}, verify: map[string]string{},
		started: cfg.now(),
	}
	m.st = newStyles(true, cfg.noColor)
	for _, info := range cfg.catalogue {
		_, ok := cfg.lookup(info.ID)
		info.Available = ok
		r := &row{info: info, state: stateIdle}
		if !ok {
			r.state = statePlanned
		}
		m.rows = append(m.rows, r)
		m.byID[info.ID] = r
	}
	for _, r := range m.rows {
		if r.info.Kind == "supporting" && r.info.Parent != "" {
			if p, ok := m.byID[r.info.Parent]; ok && p != r {
				r.parent = p
				p.children = append(p.children, r)
				continue
			}
		}
		m.top = append(m.top, r)
	}
	if len(m.top) > 0 {
		m.selected = m.top[0].id()
	}
	m.input = textinput.New()
	m.input.Prompt = "/"
	m.input.Placeholder = "filter by id, title or status"
	m.help = help.New()
	m.spin = spinner.New(spinner.WithSpinner(spinner.MiniDot))
	m.vp = viewport.New()
	m.applyStyles()
	if cfg.guided {
		m.enterGuided(true)
	}
	m.layout()
	m.syncDetail()
	if cfg.triage {
		m.openTriage()
	}
	return m
}

// Init starts listening to the mailbox, asks the terminal for its background colour and, unless in
// guided mode (where each step runs when asked), runs every registered check.
func (m *Model) Init() tea.Cmd {
	cmds := []tea.Cmd{m.mb.listen(m.ctx), tea.RequestBackgroundColor}
	if !m.cfg.guided {
		cmds = append(cmds, m.runAll(false))
	}
	return tea.Batch(cmds...)
}

func (m *Model) applyStyles() {
	m.styleGen++
	m.spin.Style = m.st.Running
	m.help.Styles = m.st.Help
	m.help.ShortSeparator = " · "
	m.help.FullSeparator = "   "
	ti := textinput.DefaultStyles(m.st.dark)
	m.input.SetStyles(ti)
}

// registered returns the runnable rows' checks in catalogue order.
func (m *Model) registered(only map[string]bool) []checks.Check {
	var out []checks.Check
	for _, r := range m.rows {
		if only != nil && !only[r.id()] {
			continue
		}
		if c, ok := m.cfg.lookup(r.id()); ok {
			out = append(out, c)
		}
	}
	return out
}

// runAll queues and runs every registered check.
func (m *Model) runAll(invalidate bool) tea.Cmd {
	return m.runIDs(nil, invalidate)
}

// runIDs queues and runs the given checks (all when ids is nil).
func (m *Model) runIDs(ids map[string]bool, invalidate bool) tea.Cmd {
	list := m.registered(ids)
	if len(list) == 0 {
		return nil
	}
	m.nextRun++
	run := m.nextRun
	for _, c := range list {
		if r, ok := m.byID[c.ID()]; ok {
			r.state, r.run, r.steps = stateQueued, run, nil
			r.version++
		}
	}
	return tea.Batch(m.runChecks(run, list, invalidate), m.startSpinner())
}

// family is a check, its parent and its supporting checks: what a fix or undo may have changed.
func (m *Model) family(id string) map[string]bool {
	out := map[string]bool{id: true}
	if r, ok := m.byID[id]; ok {
		if r.parent != nil {
			out[r.parent.id()] = true
		}
		for _, c := range r.children {
			out[c.id()] = true
		}
	}
	return out
}

func (m *Model) busyChecks() bool {
	for _, r := range m.rows {
		if r.state == stateQueued || r.state == stateRunning {
			return true
		}
	}
	return false
}

func (m *Model) busy() bool { return m.busyChecks() || m.fix != nil || m.undoing || m.observing != "" }

func (m *Model) startSpinner() tea.Cmd {
	if m.spinning {
		return nil
	}
	m.spinning = true
	return m.spin.Tick
}

func (m *Model) setStatus(l level, format string) {
	m.status = statusLine{text: format, level: l}
}

// current returns the selected row.
func (m *Model) current() *row {
	return m.byID[m.selected]
}

// results are the finished results in catalogue order (for the report).
func (m *Model) results() []checks.Result {
	var out []checks.Result
	for _, r := range m.rows {
		if r.result != nil {
			out = append(out, *r.result)
		}
	}
	return out
}

// visible returns the rows the checklist shows: top-level rows with the children of expanded ones,
// or, while a filter is set, every matching row.
func (m *Model) visible() []*row {
	out := make([]*row, 0, len(m.rows))
	if f := strings.ToLower(strings.TrimSpace(m.filter)); f != "" {
		for _, r := range m.top {
			if m.matches(r, f) {
				out = append(out, r)
			}
			for _, c := range r.children {
				if m.matches(c, f) {
					out = append(out, c)
				}
			}
		}
		return out
	}
	for _, r := range m.top {
		out = append(out, r)
		if r.expanded {
			out = append(out, r.children...)
		}
	}
	return out
}

func (m *Model) matches(r *row, f string) bool {
	word, _ := m.statusWord(r)
	return strings.Contains(strings.ToLower(r.id()), f) || strings.Contains(strings.ToLower(r.info.Title), f) ||
		strings.Contains(word, f)
}

func (m *Model) cursorIndex(vis []*row) int {
	for i, r := range vis {
		if r.id() == m.selected {
			return i
		}
	}
	return -1
}

// ensureSelection keeps the selection on a visible row.
func (m *Model) ensureSelection() {
	vis := m.visible()
	if len(vis) == 0 {
		return
	}
	if m.cursorIndex(vis) < 0 {
		if r := m.current(); r != nil && r.parent != nil && m.filter == "" {
			m.selected = r.parent.id()
			return
		}
		m.selected = vis[0].id()
	}
}

func (m *Model) move(delta int) {
	vis := m.visible()
	if len(vis) == 0 {
		return
	}
	i := m.cursorIndex(vis)
	if i < 0 {
		i = 0
	} else {
		i += delta
	}
	i = max(0, min(len(vis)-1, i))
	m.selected = vis[i].id()
	m.userMoved = true
}

// autoSelect selects the first failing visible check, until the user moves.
func (m *Model) autoSelect() {
	if m.userMoved || m.screen == screenGuided {
		return
	}
	for _, r := range m.visible() {
		if r.state == stateDone && r.result != nil && r.result.Status == checks.Fail {
			m.selected = r.id()
			return
		}
	}
}

// Update routes a message to the handler of its kind, then keeps the detail pane in step.
func (m *Model) Update(msg tea.Msg) (tea.Model, tea.Cmd) {
	cmd := m.update(msg)
	m.ensureSelection()
	m.syncDetail()
	return m, cmd
}

func (m *Model) update(msg tea.Msg) tea.Cmd {
	if m.triage != nil {
		if cmd, ok := m.routeTriage(msg); ok {
			return cmd
		}
	}
	switch msg := msg.(type) {
	case tea.WindowSizeMsg:
		m.width, m.height = msg.Width, msg.Height
		m.layout()
		return nil
	case tea.BackgroundColorMsg:
		m.dark = msg.IsDark()
		m.st = newStyles(m.dark, m.cfg.noColor)
		m.applyStyles()
		return nil
	case tea.KeyPressMsg:
		return m.handleKey(msg)
	case tea.PasteMsg:
		if m.screen == screenFilter {
			var cmd tea.Cmd
			m.input, cmd = m.input.Update(msg)
			m.filter = m.input.Value()
			return cmd
		}
		return nil
	case spinner.TickMsg:
		if !m.busy() {
			m.spinning = false
			return nil
		}
		var cmd tea.Cmd
		m.spin, cmd = m.spin.Update(msg)
		return cmd
	case mailMsg:
		var cmds []tea.Cmd
		for _, x := range msg {
			cmds = append(cmds, m.update(x))
		}
		cmds = append(cmds, m.mb.listen(m.ctx))
		return tea.Batch(cmds...)
	case checkStartedMsg:
		if r, ok := m.byID[msg.id]; ok && msg.run >= r.run {
			r.state, r.run, r.startedAt, r.steps = stateRunning, msg.run, msg.at, nil
			r.version++
		}
		return m.startSpinner()
	case checkStepMsg:
		if r, ok := m.byID[msg.id]; ok && msg.run == r.run && r.state == stateRunning {
			r.steps = append(r.steps, msg.ev)
			r.version++
		}
		return nil
	case checkDoneMsg:
		return m.checkDone(msg)
	case runDoneMsg:
		// Anything still queued from this run never started (the run was cancelled or timed out).
		for _, r := range m.rows {
			if r.run == msg.run && (r.state == stateQueued || r.state == stateRunning) {
				if r.result != nil {
					r.state = stateDone
				} else {
					r.state = stateIdle
				}
				r.version++
			}
		}
		return nil
	case fixProgressMsg:
		if m.fix != nil && msg.job == m.fix.id {
			m.fix.lines = append(m.fix.lines, msg.line)
			if p := m.fix.plans[m.fix.idx]; p.WaitTimeout > 0 && strings.Contains(msg.line, "deadline") {
				m.fix.deadline = msg.at.Add(p.WaitTimeout)
			}
			m.bumpCheck(m.fix.check)
		}
		return nil
	case observePlannedMsg:
		return m.observePlanned(msg)
	case observedMsg:
		return m.observedDone(msg)
	case fixAppliedMsg:
		return m.fixApplied(msg)
	case undoDoneMsg:
		return m.undoDone(msg)
	case exportDoneMsg:
		if msg.err != nil {
			m.setStatus(levelErr, "✗ export failed: "+msg.err.Error())
		} else {
			m.setStatus(levelOK, "✓ report written to "+msg.path+" (redacted Markdown)")
		}
		return nil
	}
	return nil
}

func (m *Model) bumpCheck(id string) {
	if r, ok := m.byID[id]; ok {
		r.version++
	}
}

func (m *Model) checkDone(msg checkDoneMsg) tea.Cmd {
	r, ok := m.byID[msg.id]
	if !ok || msg.run < r.run {
		return nil
	}
	res := msg.result
	r.result, r.state, r.run, r.steps = &res, stateDone, msg.run, nil
	r.version++
	if r.parent != nil && res.Status != checks.Pass && res.Status != checks.Skip && !r.parent.expanded {
		// A supporting check that found something is worth seeing without unfolding by hand.
		r.parent.expanded = true
	}
	if kind, ok := m.verify[r.id()]; ok {
		delete(m.verify, r.id())
		switch {
		case kind == "fix" && res.Status == checks.Pass:
			m.setStatus(levelOK, "✓ "+r.id()+" passes now")
		case kind == "fix":
			m.setStatus(levelWarn, "! "+r.id()+" still "+verb(res.Status)+" after the fix: "+res.Summary)
		default:
			m.setStatus(levelInfo, "↺ "+r.id()+" "+verb(res.Status)+" again after the undo")
		}
	}
	if m.guided.on && m.guided.phase == phaseRunning && m.guided.current() == r.id() {
		m.guided.phase = phaseResult
	}
	m.autoSelect()
	return nil
}

// verb says a status as a verb: "fails", "passes", "is skipped".
func verb(s checks.Status) string {
	switch s {
	case checks.Pass:
		return "passes"
	case checks.Fail:
		return "fails"
	case checks.Warn:
		return "warns"
	case checks.Skip:
		return "is skipped"
	case checks.Error:
		return "errors"
	}
	return "is " + string(s)
}
