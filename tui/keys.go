package tui

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"charm.land/bubbles/v2/key"
	"sigs.k8s.io/yaml"
)

// keyMap holds every binding of every screen. Each binding is an action with a name; the names are what
// $XDG_CONFIG_HOME/gkedoctor/keys.yaml remaps. A disabled binding keeps its help and carries the reason
// (reasons), so the help can say "f fix — disabled: read-only" and a press can explain itself.
type keyMap struct {
	Up, Down, Expand, Collapse, Toggle key.Binding
	Focus, Back, PageUp, PageDown      key.Binding
	Top, Bottom                        key.Binding
	Fix, Rerun, RerunAll, Undo         key.Binding
	Observe, Triage                    key.Binding
	Copy, Export, Filter, Help, Guided key.Binding
	Quit                               key.Binding

	// Dialogs and modes.
	Yes, No, ApplySet, Cancel, Next, Accept, Clear key.Binding
	TriageRun, TriageNewline, TriageClear          key.Binding

	reasons map[string]string // action name → why it is disabled
}

// action names one remappable binding.
type action struct {
	name string
	b    *key.Binding
	desc string
}

func (k *keyMap) actions() []action {
	return []action{
		{"up", &k.Up, "up"},
		{"down", &k.Down, "down"},
		{"expand", &k.Expand, "expand"},
		{"collapse", &k.Collapse, "collapse"},
		{"toggle", &k.Toggle, "fold/unfold"},
		{"focus", &k.Focus, "detail"},
		{"back", &k.Back, "back"},
		{"page-up", &k.PageUp, "page up"},
		{"page-down", &k.PageDown, "page down"},
		{"top", &k.Top, "top"},
		{"bottom", &k.Bottom, "bottom"},
		{"fix", &k.Fix, "fix"},
		{"rerun", &k.Rerun, "re-run"},
		{"rerun-all", &k.RerunAll, "re-run all"},
		{"undo", &k.Undo, "undo last fix"},
		{"observe", &k.Observe, "observe live"},
		{"triage", &k.Triage, "triage an error text"},
		{"copy", &k.Copy, "copy commands"},
		{"export", &k.Export, "export report"},
		{"filter", &k.Filter, "filter"},
		{"help", &k.Help, "help"},
		{"guided", &k.Guided, "guided mode"},
		{"quit", &k.Quit, "quit"},
		{"yes", &k.Yes, "yes"},
		{"no", &k.No, "no"},
		{"apply-set", &k.ApplySet, "apply recommended set"},
		{"cancel", &k.Cancel, "cancel"},
		{"next", &k.Next, "run / next"},
		{"accept", &k.Accept, "keep filter"},
		{"clear", &k.Clear, "clear filter"},
		{"triage-run", &k.TriageRun, "run these checks"},
		{"triage-newline", &k.TriageNewline, "new line"},
		{"triage-clear", &k.TriageClear, "clear"},
	}
}

var defaultKeys = map[string][]string{
	"up":        {"up", "k"},
	"down":      {"down", "j"},
	"expand":    {"right", "l"},
	"collapse":  {"left", "h"},
	"toggle":    {"space"},
	"focus":     {"enter", "tab"},
	"back":      {"esc", "shift+tab"},
	"page-up":   {"pgup", "ctrl+u"},
	"page-down": {"pgdown", "ctrl+d"},
	"top":       {"home"},
	"bottom":    {"end", "G"},
	"fix":       {"f"},
	"rerun":     {"r"},
	"rerun-all": {"R"},
	"undo":      {"u"},
	"observe":   {"o"},
	"triage":    {"t"},
	"copy":      {"c"},
	"export":    {"e"},
	"filter":    {"/"},
	"help":      {"?"},
	"guided":    {"g"},
	"quit":      {"q", "ctrl+c"},
	"yes":       {"y"},
	"no":        {"n", "esc", "enter"},
	"apply-set": {"a", "enter"},
	"cancel":    {"esc", "n"},
	"next":      {"enter"},
	"accept":    {"enter"},
	"clear":     {"esc"},
	// The triage screen's text box takes every other key as typed.
	"triage-run":     {"enter"},
	"triage-newline": {"ctrl+j"},
	"triage-clear":   {"ctrl+l"},
}

// defaultKeyMap returns the built-in bindings.
func defaultKeyMap() *keyMap {
	k := &keyMap{reasons: map[string]string{}}
	for _, a := range k.actions() {
		keys := defaultKeys[a.name]
		*a.b = key.NewBinding(key.WithKeys(keys...), key.WithHelp(helpKeys(keys), a.desc))
	}
	return k
}

// helpKeys renders keys for the help: arrows as arrows, the rest as typed.
func helpKeys(keys []string) string {
	names := map[string]string{"up": "↑", "down": "↓", "left": "←", "right": "→", "pgup": "pgup", "pgdown": "pgdn"}
	var out []string
	for _, k := range keys {
		if n, ok := names[k]; ok {
			k = n
		}
		out = append(out, k)
	}
	return strings.Join(out, "/")
}

// disable turns an action off, keeping it in the help with the reason.
func (k *keyMap) disable(name, reason string) {
	for _, a := range k.actions() {
		if a.name == name {
			a.b.SetEnabled(false)
			k.reasons[name] = reason
		}
	}
}

// disabledReason returns the reason when msg is a key of a disabled action in bs.
func (k *keyMap) disabledReason(msg fmt.Stringer, bs ...key.Binding) (string, string, bool) {
	s := msg.String()
	for _, a := range k.actions() {
		if a.b.Enabled() {
			continue
		}
		reason, ok := k.reasons[a.name]
		if !ok {
			continue
		}
		inScreen := false
		for _, b := range bs {
			if sameBinding(b, *a.b) {
				inScreen = true
			}
		}
		if !inScreen {
			continue
		}
		for _, ks := range a.b.Keys() {
			if ks == s {
				return a.name, reason, true
			}
		}
	}
	return "", "", false
}

func sameBinding(a, b key.Binding) bool {
	if a.Help() != b.Help() {
		return false
	}
	ak, bk := a.Keys(), b.Keys()
	if len(ak) != len(bk) {
		return false
	}
	for i := range ak {
		if ak[i] != bk[i] {
			return false
		}
	}
	return true
}

// forHelp returns the bindings as the help should show them: a disabled action with a reason becomes
// a display-only entry "f fix — disabled: read-only"; other disabled bindings are left out.
func (k *keyMap) forHelp(bs []key.Binding) []key.Binding {
	out := make([]key.Binding, 0, len(bs))
	for _, b := range bs {
		if b.Enabled() {
			out = append(out, b)
			continue
		}
		for _, a := range k.actions() {
			if sameBinding(b, *a.b) {
				if r, ok := k.reasons[a.name]; ok {
					// Display only: the help renders enabled bindings, and dispatch never looks at this copy.
					out = append(out, key.NewBinding(key.WithKeys("\x00display"), key.WithHelp(b.Help().Key, b.Help().Desc+" — disabled: "+r)))
				}
				break
			}
		}
	}
	return out
}

// keysFile is where the user's key remapping lives.
func keysFile() string {
	base := os.Getenv("XDG_CONFIG_HOME")
	if base == "" {
		home, err := os.UserHomeDir()
		if err != nil || home == "" {
			return ""
		}
		base = filepath.Join(home, ".config")
	}
	return filepath.Join(base, "gkedoctor", "keys.yaml")
}

// loadKeyMap returns the default key map with the user's remapping applied. A missing file is the
// defaults; an unreadable or invalid file, an unknown action, an empty key list or a key bound to two
// actions of one screen is an error naming the file and what to change.
func loadKeyMap(path string) (*keyMap, error) {
	k := defaultKeyMap()
	if path == "" {
		return k, nil
	}
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return k, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read key bindings %s: %w", path, err)
	}
	if err := k.apply(b); err != nil {
		return nil, fmt.Errorf("key bindings %s: %w", path, err)
	}
	return k, nil
}

// apply remaps actions from YAML: a map of action name to a list of keys.
func (k *keyMap) apply(doc []byte) error {
	var m map[string][]string
	if err := yaml.UnmarshalStrict(doc, &m); err != nil {
		return fmt.Errorf("expected a map of action to a list of keys (e.g. `fix: [F]`): %w", err)
	}
	byName := map[string]action{}
	var valid []string
	for _, a := range k.actions() {
		byName[a.name] = a
		valid = append(valid, a.name)
	}
	sort.Strings(valid)
	names := make([]string, 0, len(m))
	for n := range m {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		a, ok := byName[n]
		if !ok {
			return fmt.Errorf("unknown action %q; valid actions: %s", n, strings.Join(valid, ", "))
		}
		keys := m[n]
		if len(keys) == 0 {
			return fmt.Errorf("action %q has no keys; list at least one or leave it out for the default", n)
		}
		for _, ks := range keys {
			if strings.TrimSpace(ks) == "" {
				return fmt.Errorf("action %q has an empty key", n)
			}
		}
		a.b.SetKeys(keys...)
		a.b.SetHelp(helpKeys(keys), a.desc)
	}
	return k.checkConflicts()
}

// checkConflicts refuses a key bound to two actions on the same screen.
func (k *keyMap) checkConflicts() error {
	for _, sc := range allScreens {
		seen := map[string]string{}
		for _, a := range k.actions() {
			if !screenHas(k, sc, *a.b) {
				continue
			}
			for _, ks := range a.b.Keys() {
				if other, dup := seen[ks]; dup && other != a.name {
					return fmt.Errorf("key %q is bound to both %q and %q on the %s screen", ks, other, a.name, sc)
				}
				seen[ks] = a.name
			}
		}
	}
	return nil
}

func screenHas(k *keyMap, sc screen, b key.Binding) bool {
	for _, x := range k.screenBindings(sc) {
		if sameBinding(x, b) {
			return true
		}
	}
	return false
}

// screenBindings lists every binding a screen reacts to, in help order (the component's key map says
// which). The read-only test walks exactly these.
func (k *keyMap) screenBindings(sc screen) []key.Binding {
	for _, d := range screens {
		if d.id == sc {
			return d.keys(k).all
		}
	}
	return nil
}

// screenKeys is one component's key map: every binding it reacts to (all), and its short and full
// help. It adapts to help.KeyMap, showing disabled actions with their reason.
type screenKeys struct {
	k     *keyMap
	all   []key.Binding
	short []key.Binding
	full  [][]key.Binding
}

func (s screenKeys) ShortHelp() []key.Binding { return s.k.forHelp(s.short) }
func (s screenKeys) FullHelp() [][]key.Binding {
	out := make([][]key.Binding, 0, len(s.full))
	for _, g := range s.full {
		out = append(out, s.k.forHelp(g))
	}
	return out
}

// moveHelp is the one short-help entry for up and down.
func (k *keyMap) moveHelp() key.Binding {
	return key.NewBinding(key.WithKeys("\x00display"), key.WithHelp(helpKeys([]string{k.Up.Keys()[0], k.Down.Keys()[0]}), "move"))
}

// fixUndoHelp is f and u for the short help: one entry for both when both are disabled for the same
// reason, so the reason fits on the line.
func (k *keyMap) fixUndoHelp() []key.Binding {
	if !k.Fix.Enabled() && !k.Undo.Enabled() && k.reasons["fix"] != "" && k.reasons["fix"] == k.reasons["undo"] {
		return []key.Binding{key.NewBinding(key.WithKeys("\x00display"),
			key.WithHelp(k.Fix.Help().Key+"/"+k.Undo.Help().Key, "fix/undo — disabled: "+k.reasons["fix"]))}
	}
	return []key.Binding{k.Fix, k.Undo}
}

// mainFullHelp is the full help of the checklist and the detail pane (they share their keys).
func (k *keyMap) mainFullHelp() [][]key.Binding {
	return [][]key.Binding{
		{k.Up, k.Down, k.Expand, k.Collapse, k.Toggle, k.PageUp, k.PageDown},
		{k.Focus, k.Back, k.Filter, k.Guided, k.Triage, k.Help, k.Quit},
		{k.Fix, k.Undo, k.Rerun, k.RerunAll, k.Observe, k.Copy, k.Export},
	}
}
