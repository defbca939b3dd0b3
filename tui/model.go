package tui

// The TUI is a root Model and one component per screen (soft-serve's pattern; the interface is in
// component.go). The root (this file, view.go, actions.go) owns the shared state — rows, selection,
// size, styles, key map, mailbox, spinner, fix job, status line — routes keys and pastes to the active
// component (m.screen), handles every other message itself, and composes the frame: header, the active
// component's body, footer (status line and that component's short help). Each component lives in its
// own file with its screen id, its key map (a func of *keyMap: every binding it takes, its short and
// full help) and its Update/View/SetSize: checklist.go, detail.go, helpscreen.go, filter.go,
// confirm.go, pick.go, guided.go, triage.go.
//
// Adding a screen (a triage screen, a first-run setup screen):
//  1. one file, tui/NAME.go: `const screenNAME screen = "NAME"`, a type implementing component (keep
//     a *Model for the shared state and actions; call m.commonOrExplain for keys it does not take),
//     its key map func, and a constructor func(*Model) component;
//  2. one line in screens below: {screenNAME, NAMEKeys, newNAME};
//  3. its key binding: an action in keyMap.actions and defaultKeys (keys.go), and the line that opens
//     it — in Model.common for a key every main screen shares (then list the binding in those
//     screens' key maps), or a root method the way openHelp and openFilter do.
//
// A component closes itself with m.post(closeMsg{}) (back where it was opened from) or switches with
// m.post(openMsg{to: …}); the root handles those at once, so the next frame shows the result. Golden
// tests: a state in goldenStates (golden_test.go, the whole frame) and one in componentGoldens
// (component_test.go, the component alone); the read-only walk (readonly_test.go) needs its opener.

import (
	"context"
	"strings"
	"time"

	"charm.land/bubbles/v2/help"
	"charm.land/bubbles/v2/spinner"
	tea "charm.land/bubbletea/v2"

	"github.com/gkedoctor/gkedoctor/checks"
	"github.com/gkedoctor/gkedoctor/fixes"
	"github.com/gkedoctor/gkedoctor/internal/fixrun"
	"github.com/gkedoctor/gkedoctor/internal/vantage"
)

// screen names a component: the one that has the keyboard is the root's m.screen. Each component
// declares its own screen id in its file; screens (below) registers it.
type screen string

func (s screen) String() string { return string(s) }

// screenDef registers one component: its id, its key map (a function of the key map alone, so
// loadKeyMap can check a remapping for conflicts before any model exists) and its constructor.
type screenDef struct {
	id   screen
	keys func(k *keyMap) screenKeys
	make func(m *Model) component
}

// screens is every component of the TUI, in the order the key-conflict check and the read-only walk
// visit them. Adding a screen is one line here (see the top of this file).
var screens = []screenDef{
	{screenList, checklistKeys, newChecklist},
	{screenDetail, detailKeys, newDetail},
	{screenHelp, helpScreenKeys, newHelpScreen},
	{screenFilter, filterKeys, newFilter},
	{screenConfirm, confirmKeys, newConfirm},
	{screenPick, pickKeys, newPick},
	{screenGuided, guidedKeys, newGuided},
	{screenTriage, triageKeys, newTriage},
}

// allScreens lists the registered screens in order.
var allScreens = func() []screen {
	out := make([]screen, len(screens))
	for i, d := range screens {
		out[i] = d.id
	}
	return out
}()

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
	// readOnlyShort and readOnlyLong say why (the session's app.ReadOnlyReason); empty: --read-only.
	readOnlyShort, readOnlyLong string
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

// Model is the root model. It owns the shared state — the size, styles, keys, rows and selection,
// the spinner, the mailbox, the fix job, the pending confirmation or pick and the status line — and
// holds one component per screen (screens, above). It routes keys and pastes to the active component
// (m.screen), handles every other message itself, and composes the frame: header, the active
// component's body, footer. Components draw strings of the size SetSize gave them; only the root
// returns a tea.View.
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
	userMoved bool
	filter    string // the checklist's filter, kept by the filter component

	// The components, by screen, and the active one. prevScreen is where an overlay (help, filter,
	// confirm, pick) returns to when it closes.
	panes      map[screen]component
	screen     screen
	prevScreen screen
	outbox     []tea.Cmd // commands from messages components posted while handling a key
	list       *checklist
	detail     *detail
	filterBar  *filterBar
	guided     *guided
	triage     *triageScreen

	help help.Model // draws the footer's short help and the help screen's full help

	spin     spinner.Model
	spinning bool

	nextRun int
	jobSeq  int
	fix     *fixJob
	confirm *confirmState // what the confirm component asks about
	pick    *pickState    // what the pick component offers
	undoing bool
	verify  map[string]string // check id → "fix" or "undo": say how the re-check came out

	observeAsk *observeState       // the observation preview the confirm component asks about
	observing  string              // the check being observed live ("" when none)
	observed   map[string][]string // check id → what its vantage points saw, for the detail pane

	// triageWaiting is the triage run asked for while something else ran; it starts when nothing does.
	triageWaiting *triageRunMsg

	status    statusLine
	quitArmed bool
	started   time.Time
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
	m.help = help.New()
	m.spin = spinner.New(spinner.WithSpinner(spinner.MiniDot))
	m.panes = make(map[screen]component, len(screens))
	for _, d := range screens {
		m.panes[d.id] = d.make(m)
	}
	m.list = m.panes[screenList].(*checklist)
	m.detail = m.panes[screenDetail].(*detail)
	m.filterBar = m.panes[screenFilter].(*filterBar)
	m.guided = m.panes[screenGuided].(*guided)
	m.triage = m.panes[screenTriage].(*triageScreen)
	m.screen, m.prevScreen = screenList, screenList
	m.applyStyles()
	if cfg.guided {
		m.enterGuided(true)
	}
	m.layout()
	if cfg.triage {
		m.openTriage()
	}
	m.syncDetail()
	return m
}

// syncDetail keeps the detail pane's viewport in step with the selection (see detail.sync).
func (m *Model) syncDetail() { m.detail.sync() }

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
	m.filterBar.applyStyles()
	m.triage.applyStyles()
}

// active returns the component that has the keyboard.
func (m *Model) active() component {
	if c, ok := m.panes[m.screen]; ok {
		return c
	}
	return m.list
}

// post hands the root a message from a component (closeMsg, openMsg) and handles it at once, so
// what the component does next (a pick opening the confirmation) happens on the screen it returned
// to, and the next frame shows it. Commands it yields go out with the routed key's.
func (m *Model) post(msg tea.Msg) {
	if cmd := m.update(msg); cmd != nil {
		m.outbox = append(m.outbox, cmd)
	}
}

// route hands a key or a paste to the active component. The components here return themselves (the
// root also reaches the checklist, detail, filter and guided components by their typed fields); a
// replacement is kept for the screen it was routed for.
func (m *Model) route(msg tea.Msg) tea.Cmd {
	sc := m.screen
	next, cmd := m.active().Update(msg)
	if next != nil {
		if _, ok := m.panes[sc]; ok {
			m.panes[sc] = next
		}
	}
	if len(m.outbox) > 0 {
		cmd = tea.Batch(append([]tea.Cmd{cmd}, m.outbox...)...)
		m.outbox = nil
	}
	return cmd
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
	if run := m.startWaitingTriage(); run != nil {
		cmd = tea.Batch(cmd, run)
	}
	m.ensureSelection()
	m.syncDetail()
	return m, cmd
}

func (m *Model) update(msg tea.Msg) tea.Cmd {
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
		return m.route(msg)
	case closeMsg:
		m.screen = m.returnScreen()
		m.layout()
		return nil
	case openMsg:
		m.screen = msg.to
		m.layout()
		return nil
	case triageRunMsg:
		return m.triageRequested(msg)
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
