package checks

import (
	_ "embed"
	"fmt"
	"sort"
	"strings"
	"sync"

	"sigs.k8s.io/yaml"
)

//go:embed catalogue.yaml
var catalogueYAML []byte

// Requires lists what a check needs to look.
type Requires struct {
	APIs        []string `json:"apis"`
	Permissions []string `json:"permissions"`
	RBAC        []string `json:"rbac"`
}

// Cause is one known cause of a failure mode.
type Cause struct {
	ID          string `json:"id"`
	Title       string `json:"title"`
	Explanation string `json:"explanation"`
}

// Info is one catalogue entry.
type Info struct {
	ID          string   `json:"id"`
	Kind        string   `json:"kind"` // primary, supporting, related
	Parent      string   `json:"parent,omitempty"`
	FailureMode string   `json:"failureMode"`
	Title       string   `json:"title"`
	Good        string   `json:"good"`
	Explanation string   `json:"explanation"`
	Requires    Requires `json:"requires"`
	Causes      []Cause  `json:"causes,omitempty"`
	// Available is true when this build can run the check; false means planned.
	Available bool `json:"available"`
}

var (
	catOnce sync.Once
	catList []Info
	catErr  error
)

func loadCatalogue() {
	catOnce.Do(func() {
		catErr = yaml.UnmarshalStrict(catalogueYAML, &catList)
		if catErr == nil {
			seen := map[string]bool{}
			for _, i := range catList {
				if i.ID == "" || seen[i.ID] {
					catErr = fmt.Errorf("catalogue: empty or duplicate id %q", i.ID)
					return
				}
				seen[i.ID] = true
			}
		}
	})
}

// Catalogue returns every entry in display order, with Available set from the registry.
func Catalogue() []Info {
	loadCatalogue()
	if catErr != nil {
		panic(catErr) // the embedded file is part of the binary; TestCatalogue guards it
	}
	out := make([]Info, len(catList))
	copy(out, catList)
	for i := range out {
		_, out[i].Available = Lookup(out[i].ID)
	}
	return out
}

// InfoFor returns the catalogue entry of id.
func InfoFor(id string) (Info, bool) {
	for _, i := range Catalogue() {
		if i.ID == id {
			return i, true
		}
	}
	return Info{}, false
}

// CauseFor finds a cause by id across the catalogue ("cause" or "check/cause").
func CauseFor(id string) (Info, Cause, bool) {
	checkID, causeID, scoped := strings.Cut(id, "/")
	if !scoped {
		causeID = checkID
	}
	for _, i := range Catalogue() {
		if scoped && i.ID != checkID {
			continue
		}
		for _, c := range i.Causes {
			if c.ID == causeID {
				return i, c, true
			}
		}
	}
	return Info{}, Cause{}, false
}

// IDs returns every catalogue id, for error messages.
func IDs() []string {
	var ids []string
	for _, i := range Catalogue() {
		ids = append(ids, i.ID)
	}
	return ids
}

var (
	regMu    sync.RWMutex
	registry = map[string]Check{}
)

// Register makes a check runnable. Its id must be in the catalogue.
func Register(c Check) {
	regMu.Lock()
	defer regMu.Unlock()
	registry[c.ID()] = c
}

// Lookup returns the registered check for id.
func Lookup(id string) (Check, bool) {
	regMu.RLock()
	defer regMu.RUnlock()
	c, ok := registry[id]
	return c, ok
}

// Registered returns the runnable checks in catalogue order.
func Registered() []Check {
	var out []Check
	for _, i := range Catalogue() {
		if c, ok := Lookup(i.ID); ok {
			out = append(out, c)
		}
	}
	return out
}

// Select resolves ids to runnable checks. An id not in the catalogue is an error naming the valid ids;
// a planned (not yet runnable) id is an error saying so.
func Select(ids []string) ([]Check, error) {
	if len(ids) == 0 {
		return Registered(), nil
	}
	var out []Check
	for _, id := range ids {
		info, ok := InfoFor(id)
		if !ok {
			valid := IDs()
			sort.Strings(valid)
			return nil, fmt.Errorf("unknown check id %q; valid ids: %s (see `gkedoctor checks`)", id, strings.Join(valid, ", "))
		}
		c, ok := Lookup(id)
		if !ok {
			return nil, fmt.Errorf("check %q is planned but not available in this build (see `gkedoctor checks`)", info.ID)
		}
		out = append(out, c)
	}
	return out, nil
}
