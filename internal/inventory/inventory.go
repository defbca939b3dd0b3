// Package inventory gathers the facts checks share: every API object is fetched at most once per run
// (concurrent callers wait for the one fetch through singleflight), errors are classified once, and a
// fix invalidates what it changed so the re-check reads the new state. Checks read facts from here and
// never call a client for shared facts themselves (gcpdiag's query modules play the same part).
package inventory

import (
	"context"
	"strings"
	"sync"

	"golang.org/x/sync/singleflight"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"

	"github.com/gkedoctor/gkedoctor/internal/apierr"
	"github.com/gkedoctor/gkedoctor/internal/gcp"
	"github.com/gkedoctor/gkedoctor/internal/memlimit"
)

// Scope names the GKE cluster the run is about.
type Scope struct {
	Project  string
	Location string // region or zone of the cluster
	Cluster  string
}

// Inventory is the per-run fact cache.
type Inventory struct {
	Scope Scope

	kube    kubernetes.Interface
	kubeErr error
	dyn     dynamic.Interface // custom resources (Knative's); nil when there is no cluster
	gcp     *gcp.Clients
	gcpErr  error

	sf      singleflight.Group
	mu      sync.Mutex
	cache   map[string]entry
	fetches map[string]int
}

type entry struct {
	val any
	err error
}

// New returns an inventory. kubeErr / gcpErr say why a client is absent (nil client); they are
// returned, classified, by every getter that needs that client, so dependent checks skip with reason.
func New(scope Scope, kube kubernetes.Interface, kubeErr error, g *gcp.Clients, gcpErr error) *Inventory {
	if kube == nil && kubeErr == nil {
		kubeErr = apierr.NotConfiguredf("gcloud container clusters get-credentials CLUSTER --location LOCATION", "no Kubernetes client")
	}
	if g == nil && gcpErr == nil {
		gcpErr = apierr.NotConfiguredf("gcloud auth application-default login", "no Google API client")
	}
	return &Inventory{Scope: scope, kube: kube, kubeErr: kubeErr, gcp: g, gcpErr: gcpErr,
		cache: map[string]entry{}, fetches: map[string]int{}}
}

// Kube returns the Kubernetes client or the classified reason it is absent.
func (i *Inventory) Kube() (kubernetes.Interface, error) {
	if i.kube == nil {
		return nil, i.kubeErr
	}
	return i.kube, nil
}

// GCP returns the Google clients or the classified reason they are absent.
func (i *Inventory) GCP() (*gcp.Clients, error) {
	if i.gcp == nil {
		return nil, i.gcpErr
	}
	return i.gcp, nil
}

// Memo returns the cached value of key, fetching it once. Errors are cached too (a 403 does not get
// better by asking again in the same run); Invalidate clears both.
func Memo[T any](ctx context.Context, i *Inventory, key string, fetch func(ctx context.Context) (T, error)) (T, error) {
	i.mu.Lock()
	if e, ok := i.cache[key]; ok {
		i.mu.Unlock()
		v, _ := e.val.(T)
		return v, e.err
	}
	i.mu.Unlock()
	v, err, _ := i.sf.Do(key, func() (any, error) {
		i.mu.Lock()
		if e, ok := i.cache[key]; ok {
			i.mu.Unlock()
			return e.val, e.err
		}
		i.fetches[key]++
		i.mu.Unlock()
		v, err := fetch(ctx)
		// A fetch cut short by this caller's own cancellation is not a fact about the world.
		if ctx.Err() == nil {
			i.mu.Lock()
			i.cache[key] = entry{val: v, err: err}
			i.mu.Unlock()
		}
		memlimit.Fit() // the run keeps one more fact: the memory budget follows what it keeps
		return v, err
	})
	t, _ := v.(T)
	return t, err
}

// Invalidate forgets every fact whose key starts with one of prefixes (all facts when none given).
func (i *Inventory) Invalidate(prefixes ...string) {
	i.mu.Lock()
	defer i.mu.Unlock()
	if len(prefixes) == 0 {
		i.cache = map[string]entry{}
		return
	}
	for k := range i.cache {
		for _, p := range prefixes {
			if strings.HasPrefix(k, p) {
				delete(i.cache, k)
				break
			}
		}
	}
}

// Fetches reports how many times key was fetched (tests assert "once per run").
func (i *Inventory) Fetches(key string) int {
	i.mu.Lock()
	defer i.mu.Unlock()
	return i.fetches[key]
}

// TotalFetches is the number of fetches of all keys.
func (i *Inventory) TotalFetches() int {
	i.mu.Lock()
	defer i.mu.Unlock()
	n := 0
	for _, v := range i.fetches {
		n += v
	}
	return n
}

// Slot is a typed place for a value derived from the raw facts (the network model, an analysis a
// primary check shares with its supporting checks): computed once per run like a fact, and forgotten
// with the facts by Invalidate, so a re-check after a fix derives it anew. Slots are declared once,
// as package variables; two slots with one name are a programming error.
type Slot[T any] struct{ key string }

var (
	slotMu    sync.Mutex
	slotNames = map[string]bool{}
)

// KeyDerived prefixes the memo keys of slots.
const KeyDerived = "derived/"

// NewSlot declares a slot. It panics when the name is taken.
func NewSlot[T any](name string) *Slot[T] {
	slotMu.Lock()
	defer slotMu.Unlock()
	if slotNames[name] {
		panic("inventory: slot " + name + " declared twice")
	}
	slotNames[name] = true
	return &Slot[T]{key: KeyDerived + name}
}

// Derive returns the slot's value for this run, building it once.
func Derive[T any](ctx context.Context, i *Inventory, s *Slot[T], build func(ctx context.Context) (T, error)) (T, error) {
	return Memo(ctx, i, s.key, build)
}
