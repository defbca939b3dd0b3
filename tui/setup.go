package tui

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/colorprofile"
	"github.com/charmbracelet/x/ansi"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"

	"github.com/gkedoctor/gkedoctor/internal/app"
	"github.com/gkedoctor/gkedoctor/internal/gcp"
	"github.com/gkedoctor/gkedoctor/internal/iostreams"
	"github.com/gkedoctor/gkedoctor/internal/setup"
)

// The setup screen: what a first run with nothing configured opens instead of a checklist of skips
// (k9s falls back to its context view the same way). It offers, in order: a context of the
// kubeconfig; a GKE cluster picked from the projects Application Default Credentials can list,
// connected in process with the entry `gcloud container clusters get-credentials` would write (shown;
// written to the kubeconfig only on w, merged, with a backup), then the Cloud Run service(s) to
// diagnose from the cluster's region; the demo world; or the checklist as it is. It is a component:
// the host (a setupHost while it runs on its own before the checklist, or the root) ends it on
// setupDoneMsg.

// setupKind is what the person chose.
type setupKind int

const (
	setupQuit    setupKind = iota // quit without choosing
	setupContext                  // a kubeconfig context
	setupCluster                  // a GKE cluster from the Google APIs, in process
	setupDemo                     // the demo world
	setupAsItIs                   // the checklist on what is configured (everything that needs more skips)
)

// setupChoice is the outcome of the setup screen.
type setupChoice struct {
	kind    setupKind
	context string // setupContext
	// setupCluster: the cluster, its kubeconfig entry, the Cloud Run service chosen (full resource
	// name; "" for every service with VPC access) and the file the entry was written to ("" if not).
	cluster  setup.Cluster
	entry    *clientcmdapi.Config
	cloudRun string
	written  string
}

// setupDoneMsg tells the host the setup screen is done.
type setupDoneMsg struct{ choice setupChoice }

// setupEnv is what the setup screen knows and may use.
type setupEnv struct {
	kube    setup.Kubeconfig
	kubeErr error        // why the session has no cluster
	gcp     *gcp.Clients // nil when there are no usable Google credentials
	gcpErr  error        // why
	now     func() time.Time
	// merge writes the entry (setup.Merge; tests replace it).
	merge func(path string, entry *clientcmdapi.Config, now time.Time) (*setup.Merged, error)
}

type setupStep int

const (
	stepHome setupStep = iota
	stepProjects
	stepClusters
	stepEntry
	stepServices
)

// setupItem is one row of a step's list. A disabled row stays visible with the reason.
type setupItem struct {
	label, detail, disabled string
	act                     func(m *setupComponent) tea.Cmd
}

type setupKeys struct {
	Up, Down, Choose, Back, Write, Quit key.Binding
}

func newSetupKeys() setupKeys {
	return setupKeys{
		Up:     key.NewBinding(key.WithKeys("up", "k"), key.WithHelp("↑/k", "up")),
		Down:   key.NewBinding(key.WithKeys("down", "j"), key.WithHelp("↓/j", "down")),
		Choose: key.NewBinding(key.WithKeys("enter"), key.WithHelp("enter", "choose")),
		Back:   key.NewBinding(key.WithKeys("esc", "backspace"), key.WithHelp("esc", "back")),
		Write:  key.NewBinding(key.WithKeys("w"), key.WithHelp("w", "write to kubeconfig")),
		Quit:   key.NewBinding(key.WithKeys("q", "ctrl+c"), key.WithHelp("q", "quit")),
	}
}

// Messages of the setup screen's listing and writing commands.
type (
	setupProjectsMsg struct {
		projects []setup.Project
		err      error
	}
	setupClustersMsg struct {
		project  string
		clusters []setup.Cluster
		missing  []string
		err      error
	}
	setupServicesMsg struct {
		region   string
		services []setup.RunService
		err      error
	}
	setupWrittenMsg struct {
		merged *setup.Merged
		err    error
	}
)

type setupComponent struct {
	ctx   context.Context
	env   setupEnv
	st    *styles
	keys  setupKeys
	w, h  int
	step  setupStep
	cur   map[setupStep]int
	busy  string // what is being listed or written, "" when idle
	msg   string
	msgOK bool

	projects []setup.Project
	project  string
	clusters []setup.Cluster
	missing  []string
	cluster  setup.Cluster
	entry    *clientcmdapi.Config
	entryYML string
	region   string
	services []setup.RunService
	written  string
}

var _ component = (*setupComponent)(nil)

func newSetupComponent(ctx context.Context, env setupEnv, st *styles) *setupComponent {
	if env.now == nil {
		env.now = time.Now
	}
	if env.merge == nil {
		env.merge = setup.Merge
	}
	if st == nil {
		st = newStyles(true, false)
	}
	return &setupComponent{ctx: ctx, env: env, st: st, keys: newSetupKeys(), w: 80, h: 24, cur: map[setupStep]int{}}
}

func (m *setupComponent) Init() tea.Cmd { return nil }

func (m *setupComponent) SetSize(w, h int) { m.w, m.h = max(w, 20), max(h, 8) }

func (m *setupComponent) ShortHelp() []key.Binding {
	b := []key.Binding{m.keys.Up, m.keys.Down, m.keys.Choose}
	if m.step == stepEntry {
		b = append(b, m.keys.Write)
	}
	if m.step != stepHome {
		b = append(b, m.keys.Back)
	}
	return append(b, m.keys.Quit)
}

func (m *setupComponent) FullHelp() [][]key.Binding { return [][]key.Binding{m.ShortHelp()} }

func (m *setupComponent) Update(msg tea.Msg) (component, tea.Cmd) {
	switch msg := msg.(type) {
	case tea.KeyPressMsg:
		return m, m.key(msg)
	case setupProjectsMsg:
		if m.step != stepProjects {
			return m, nil
		}
		m.busy, m.projects = "", msg.projects
		if msg.err != nil {
			m.say(false, "Could not list the projects: %v", msg.err)
		} else if len(msg.projects) == 0 {
			m.say(false, "These credentials see no project. gcloud auth application-default login with another account, or pass --project.")
		}
	case setupClustersMsg:
		if m.step != stepClusters || msg.project != m.project {
			return m, nil
		}
		m.busy, m.clusters, m.missing = "", msg.clusters, msg.missing
		switch {
		case msg.err != nil:
			m.say(false, "Could not list the GKE clusters of %s: %v", msg.project, msg.err)
		case len(msg.clusters) == 0:
			m.say(false, "Project %s has no GKE cluster these credentials can see.", msg.project)
		case len(msg.missing) > 0:
			m.say(false, "Some locations did not answer: %s", strings.Join(msg.missing, ", "))
		}
	case setupServicesMsg:
		if m.step != stepServices || msg.region != m.region {
			return m, nil
		}
		m.busy, m.services = "", msg.services
		if msg.err != nil {
			m.say(false, "Could not list the Cloud Run services in %s: %v (the checks still discover them)", msg.region, msg.err)
		}
	case setupWrittenMsg:
		m.busy = ""
		if msg.err != nil {
			m.say(false, "Nothing written: %v", msg.err)
			return m, nil
		}
		m.written = msg.merged.Path
		backup := "a new file, nothing to back up"
		if msg.merged.Backup != "" {
			backup = "the file as it was: " + msg.merged.Backup
		}
		m.say(true, "Wrote context %s to %s (%s).", m.cluster.ContextName(), msg.merged.Path, backup)
		return m, m.toServices()
	}
	return m, nil
}

func (m *setupComponent) say(ok bool, format string, args ...any) {
	m.msg, m.msgOK = fmt.Sprintf(format, args...), ok
}

func (m *setupComponent) key(k tea.KeyPressMsg) tea.Cmd {
	items := m.items()
	switch {
	case key.Matches(k, m.keys.Quit):
		return done(setupChoice{kind: setupQuit})
	case key.Matches(k, m.keys.Up):
		if m.cur[m.step] > 0 {
			m.cur[m.step]--
		}
	case key.Matches(k, m.keys.Down):
		if m.cur[m.step] < len(items)-1 {
			m.cur[m.step]++
		}
	case key.Matches(k, m.keys.Back):
		m.back()
	case key.Matches(k, m.keys.Write) && m.step == stepEntry:
		return m.write()
	case key.Matches(k, m.keys.Choose):
		if m.busy != "" || len(items) == 0 {
			return nil
		}
		it := items[min(m.cur[m.step], len(items)-1)]
		if it.disabled != "" {
			m.say(false, "%s", it.disabled)
			return nil
		}
		m.msg = ""
		return it.act(m)
	}
	return nil
}

func done(c setupChoice) tea.Cmd { return func() tea.Msg { return setupDoneMsg{choice: c} } }

func (m *setupComponent) back() {
	m.msg, m.busy = "", ""
	switch m.step {
	case stepProjects:
		m.step = stepHome
	case stepClusters:
		m.step = stepProjects
	case stepEntry:
		m.step = stepClusters
	case stepServices:
		m.step = stepEntry
	}
}

// items are the rows of the current step.
func (m *setupComponent) items() []setupItem {
	switch m.step {
	case stepHome:
		return m.homeItems()
	case stepProjects:
		var out []setupItem
		for _, p := range m.projects {
			p := p
			d := ""
			if p.Name != "" && p.Name != p.ID {
				d = p.Name
			}
			out = append(out, setupItem{label: p.ID, detail: d, act: func(m *setupComponent) tea.Cmd { return m.toClusters(p.ID) }})
		}
		return out
	case stepClusters:
		var out []setupItem
		for _, c := range m.clusters {
			c := c
			it := setupItem{label: c.Name, detail: c.Location + "  " + c.Status, act: func(m *setupComponent) tea.Cmd { return m.toEntry(c) }}
			if _, err := setup.Entry(c); err != nil {
				it.disabled = err.Error()
			}
			out = append(out, it)
		}
		return out
	case stepEntry:
		return []setupItem{
			{label: "Connect in process", detail: "nothing is written; the checklist opens on this cluster",
				act: func(m *setupComponent) tea.Cmd { return m.toServices() }},
			{label: "Write it to " + writePathOr(m.env.kube.WritePath) + ", then connect", detail: "merged, a backup first (w)",
				act: func(m *setupComponent) tea.Cmd { return m.write() }},
		}
	case stepServices:
		out := []setupItem{{label: "Every Cloud Run service with VPC access in " + m.region, detail: "the default: the checks discover them",
			act: func(m *setupComponent) tea.Cmd { return m.finishCluster("") }}}
		for _, s := range m.services {
			s := s
			d := "no VPC access"
			if s.VPC != "" {
				d = s.VPC
			}
			out = append(out, setupItem{label: s.Short, detail: d, act: func(m *setupComponent) tea.Cmd { return m.finishCluster(s.Name) }})
		}
		return out
	}
	return nil
}

func (m *setupComponent) homeItems() []setupItem {
	var out []setupItem
	for _, c := range m.env.kube.Contexts {
		c := c
		d := c.Server
		if c.Namespace != "" {
			d += "  ns " + c.Namespace
		}
		out = append(out, setupItem{label: "context " + c.Name, detail: d,
			act: func(*setupComponent) tea.Cmd { return done(setupChoice{kind: setupContext, context: c.Name}) }})
	}
	pick := setupItem{label: "Pick a GKE cluster from your Google Cloud projects", detail: "projects.list, then clusters.list",
		act: func(m *setupComponent) tea.Cmd { return m.toProjects() }}
	if m.env.gcp == nil {
		pick.disabled = "No usable Google credentials: run gcloud auth application-default login, then start gkedoctor again."
		pick.detail = "needs Application Default Credentials"
	}
	out = append(out, pick,
		setupItem{label: "Open the demo world", detail: "a simulated project; nothing real is touched",
			act: func(*setupComponent) tea.Cmd { return done(setupChoice{kind: setupDemo}) }},
		setupItem{label: "Open the checklist as it is", detail: "the checks that need a cluster or a project skip",
			act: func(*setupComponent) tea.Cmd { return done(setupChoice{kind: setupAsItIs}) }})
	return out
}

func (m *setupComponent) toProjects() tea.Cmd {
	m.step, m.busy = stepProjects, "Listing the projects your credentials can see (projects.list)…"
	if len(m.projects) > 0 {
		m.busy = ""
		return nil
	}
	ctx, c := m.ctx, m.env.gcp
	return func() tea.Msg {
		ps, err := setup.ListProjects(ctx, c.CRM)
		return setupProjectsMsg{projects: ps, err: err}
	}
}

func (m *setupComponent) toClusters(project string) tea.Cmd {
	m.step, m.project, m.clusters, m.missing, m.cur[stepClusters] = stepClusters, project, nil, nil, 0
	m.busy = "Listing the GKE clusters of " + project + " in every location (clusters.list, location -)…"
	ctx, c := m.ctx, m.env.gcp
	return func() tea.Msg {
		cs, missing, err := setup.ListClusters(ctx, c.Container, project)
		return setupClustersMsg{project: project, clusters: cs, missing: missing, err: err}
	}
}

func (m *setupComponent) toEntry(c setup.Cluster) tea.Cmd {
	entry, err := setup.Entry(c)
	if err != nil {
		m.say(false, "%v", err)
		return nil
	}
	y, err := setup.EntryYAML(entry)
	if err != nil {
		m.say(false, "%v", err)
		return nil
	}
	m.step, m.cluster, m.entry, m.entryYML, m.written, m.cur[stepEntry] = stepEntry, c, entry, y, "", 0
	return nil
}

func (m *setupComponent) write() tea.Cmd {
	if m.busy != "" || m.entry == nil {
		return nil
	}
	if m.env.kube.WritePath == "" {
		m.say(false, "No kubeconfig file to write to: pass --kubeconfig PATH.")
		return nil
	}
	m.busy = "Writing " + m.env.kube.WritePath + " (a backup first)…"
	path, entry, merge, now := m.env.kube.WritePath, m.entry, m.env.merge, m.env.now()
	return func() tea.Msg {
		merged, err := merge(path, entry, now)
		if err == nil && merged == nil {
			err = errors.New("the merge reported nothing")
		}
		return setupWrittenMsg{merged: merged, err: err}
	}
}

func (m *setupComponent) toServices() tea.Cmd {
	m.step, m.region, m.services, m.cur[stepServices] = stepServices, setup.RegionOf(m.cluster.Location), nil, 0
	m.busy = "Listing the Cloud Run services in " + m.region + " (services.list)…"
	ctx, c, project, region := m.ctx, m.env.gcp, m.cluster.Project, m.region
	return func() tea.Msg {
		ss, err := setup.ListRunServices(ctx, c.Run, project, region)
		return setupServicesMsg{region: region, services: ss, err: err}
	}
}

func (m *setupComponent) finishCluster(cloudRun string) tea.Cmd {
	return done(setupChoice{kind: setupCluster, cluster: m.cluster, entry: m.entry, cloudRun: cloudRun, written: m.written})
}

// View draws exactly h lines of at most w cells.
func (m *setupComponent) View() string {
	w, h := m.w, m.h
	lines := []string{
		m.st.Header.Render(padRight(" gkedoctor  setup — nothing to diagnose yet", w)),
		m.st.HeaderDim.Render(padRight(" "+m.statusLine(), w)),
		m.st.Rule.Render(strings.Repeat("─", w)),
	}
	footer := m.footerLines(w)
	room := h - len(lines) - len(footer)
	body := m.bodyLines(w, room)
	if len(body) > room {
		body = body[:max(room, 0)]
	}
	lines = append(lines, body...)
	for len(lines) < h-len(footer) {
		lines = append(lines, "")
	}
	lines = append(lines, footer...)
	if len(lines) > h {
		lines = lines[:h]
	}
	return strings.Join(lines, "\n")
}

func (m *setupComponent) statusLine() string {
	k := "Kubernetes: no cluster"
	if m.env.kubeErr != nil {
		k = "Kubernetes: " + firstClause(m.env.kubeErr.Error())
	}
	g := "Google: credentials usable"
	if m.env.gcp == nil {
		g = "Google: no credentials"
	}
	return clean(k + " · " + g)
}

// firstClause is an error's message up to its remedy: "load kubeconfig: no kubeconfig found".
func firstClause(s string) string {
	if i := strings.Index(s, " (run: "); i >= 0 {
		s = s[:i]
	}
	return s
}

// bodyLines are the step's text, its rows (scrolled to keep the cursor visible) and, on the entry
// step, the entry itself below the rows, cut to the room left.
func (m *setupComponent) bodyLines(w, room int) []string {
	var out []string
	add := func(s string) { out = append(out, truncate(s, w)) }
	wrap := func(s string) {
		for _, l := range wrapText(clean(s), w-2) {
			add(" " + l)
		}
	}
	section := func(s string) { add(m.st.Section.Render(truncate(" "+clean(s), w))) }
	switch m.step {
	case stepHome:
		section("Choose what to diagnose")
		if len(m.env.kube.Contexts) == 0 {
			where := "No kubeconfig file"
			if len(m.env.kube.Files) > 0 {
				where = strings.Join(m.env.kube.Files, ", ") + " has no contexts"
			}
			wrap(where + ": gcloud container clusters get-credentials CLUSTER --location L --project P writes one, or pass --kubeconfig.")
		} else {
			wrap(fmt.Sprintf("%d contexts in %s, none current.", len(m.env.kube.Contexts), strings.Join(m.env.kube.Files, ", ")))
		}
		if m.env.gcp == nil {
			wrap("No Application Default Credentials: gcloud auth application-default login lets this screen list your projects and clusters.")
		}
	case stepProjects:
		section("Projects your Google credentials can see")
	case stepClusters:
		section("GKE clusters of " + m.project)
	case stepEntry:
		section("Connect to " + m.cluster.ContextName())
		wrap("The kubeconfig entry `" + setup.GcloudCommand(m.cluster) + "` writes; its user runs " + setup.AuthPlugin + ".")
	case stepServices:
		section("Cloud Run service to diagnose (" + m.cluster.Project + ", " + m.region + ")")
	}
	add("")
	if m.busy != "" {
		add(" " + m.st.Running.Render("⋯ ") + clean(m.busy))
		return out
	}
	items := m.items()
	rows := room - len(out)
	if m.step == stepEntry {
		rows = min(rows, len(items))
	}
	cur := min(m.cur[m.step], max(len(items)-1, 0))
	first := 0
	if rows > 0 && cur >= rows {
		first = cur - rows + 1
	}
	labelW := 0
	for _, it := range items {
		labelW = max(labelW, ansi.StringWidth(clean(it.label))+4)
	}
	labelW = min(labelW, max(w*11/20, 24))
	for i := first; i < len(items) && i < first+rows; i++ {
		it := items[i]
		marker := "  "
		if i == cur {
			marker = "› "
		}
		detail := clean(it.detail)
		if it.disabled != "" {
			detail = "disabled — " + detail
		}
		line := padRight(truncate(marker+clean(it.label), labelW-2), labelW) + m.st.Dim.Render(detail)
		if i == cur {
			add(m.st.RowSelected.Render(truncate(line, w)))
		} else {
			add(line)
		}
	}
	if m.step == stepEntry {
		add("")
		yaml := strings.Split(strings.TrimRight(m.entryYML, "\n"), "\n")
		left := room - len(out)
		if len(yaml) > left && left > 0 {
			yaml = append(yaml[:left-1], fmt.Sprintf("… %d more lines", len(yaml)-left+1))
		}
		for _, l := range yaml {
			add("   " + m.st.Cmd.Render(truncate(clean(l), w-3)))
		}
	}
	return out
}

func (m *setupComponent) footerLines(w int) []string {
	var out []string
	if m.msg != "" {
		st := m.st.MsgErr
		if m.msgOK {
			st = m.st.MsgOK
		}
		lines := wrapText(clean(m.msg), w-2)
		if len(lines) > 2 {
			lines = append(lines[:1], truncate(strings.Join(lines[1:], " "), w-2))
		}
		for _, l := range lines {
			out = append(out, st.Render(" "+l))
		}
	} else {
		out = append(out, "")
	}
	var hs []string
	for _, b := range m.ShortHelp() {
		hs = append(hs, b.Help().Key+" "+b.Help().Desc)
	}
	return append(out, m.st.Dim.Render(truncate(" "+strings.Join(hs, " · "), w)))
}

// setupHost runs the setup screen as a program of its own, before the checklist opens.
type setupHost struct {
	c      *setupComponent
	choice setupChoice
}

func (h *setupHost) Init() tea.Cmd { return tea.Batch(h.c.Init(), tea.RequestBackgroundColor) }

func (h *setupHost) Update(msg tea.Msg) (tea.Model, tea.Cmd) {
	switch msg := msg.(type) {
	case tea.WindowSizeMsg:
		h.c.SetSize(msg.Width, msg.Height)
		return h, nil
	case tea.BackgroundColorMsg:
		h.c.st = newStyles(msg.IsDark(), h.c.st.noColor)
		return h, nil
	case setupDoneMsg:
		h.choice = msg.choice
		return h, tea.Quit
	case closeMsg:
		return h, tea.Quit
	}
	c, cmd := h.c.Update(msg)
	h.c = c.(*setupComponent)
	return h, cmd
}

func (h *setupHost) View() tea.View {
	v := tea.NewView(h.c.View())
	v.AltScreen = true
	v.WindowTitle = "gkedoctor — setup"
	return v
}

func writePathOr(s string) string {
	if s == "" {
		return "(no kubeconfig file)"
	}
	return s
}

// wantsSetup reports whether s is a first run with nothing to diagnose: no cluster, no project, and
// nothing the person named (a context, the demo, --no-gcp). The setup screen then opens instead of
// a checklist of skips.
func wantsSetup(s *app.Session) bool {
	if s == nil || s.Env == nil || s.Options == nil || s.World != nil {
		return false
	}
	o := s.Options
	if o.Demo || o.NoGCP || o.KubeconfigOverride != nil || (o.Kube != nil && o.Kube.Context != nil && *o.Kube.Context != "") {
		return false
	}
	return s.KubeErr != nil && s.Env.Target.Project == ""
}

// runSetup runs the setup screen on its own and returns the session the checklist opens on: s itself
// (the checklist as it is), a new one (a context, a cluster, the demo), or nil when the person quit.
func runSetup(ctx context.Context, s *app.Session, ios *iostreams.IOStreams) (*app.Session, error) {
	env := setupEnv{kubeErr: s.KubeErr, gcpErr: s.GCPErr}
	if s.Options.Kube != nil {
		env.kube = setup.ReadKubeconfig(s.Options.Kube.ToRawKubeConfigLoader())
	}
	if s.Env.FixDeps != nil && s.GCPErr == nil {
		env.gcp = s.Env.FixDeps.GCP
	}
	noColor := !ios.ColorEnabled()
	host := &setupHost{c: newSetupComponent(ctx, env, newStyles(true, noColor))}
	opts := []tea.ProgramOption{tea.WithContext(ctx), tea.WithOutput(ios.Terminal())}
	if noColor {
		opts = append(opts, tea.WithColorProfile(colorprofile.ASCII))
	}
	restore := silenceLogs()
	_, err := tea.NewProgram(host, opts...).Run()
	restore()
	if err != nil {
		if errors.Is(err, tea.ErrProgramKilled) && ctx.Err() != nil {
			return nil, nil
		}
		return nil, fmt.Errorf("setup screen: %w", err)
	}
	return sessionFor(ctx, s, host.choice)
}

// sessionFor builds the session a setup choice names.
func sessionFor(ctx context.Context, s *app.Session, c setupChoice) (*app.Session, error) {
	o := s.Options
	switch c.kind {
	case setupQuit:
		return nil, nil
	case setupAsItIs:
		return s, nil
	case setupDemo:
		o.Demo = true
	case setupContext:
		o.UseContext(c.context)
	case setupCluster:
		if c.entry == nil {
			return nil, errors.New("setup: no kubeconfig entry for the chosen cluster")
		}
		o.KubeconfigOverride = c.entry
		o.Project, o.Location, o.Cluster = c.cluster.Project, c.cluster.Location, c.cluster.Name
		if c.cloudRun != "" {
			o.CloudRunService = c.cloudRun
		}
	}
	if err := o.Complete(); err != nil {
		return nil, err
	}
	if err := o.Validate(); err != nil {
		return nil, &app.UsageError{Msg: err.Error()}
	}
	return app.Build(ctx, o)
}
