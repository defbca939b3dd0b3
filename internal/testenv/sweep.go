package testenv

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

const (
	dirPattern = "gkedoctor-testenv-"
	ownerFile  = "owner.pid"
)

// sweepStaleDirs removes the temporary directories of servers whose test
// binary was killed before it could Stop them (etcd alone preallocates
// about 120 MB of WAL). It only runs where the kernel killed those servers
// with their owner (Pdeathsig), removes nothing whose owner is alive or
// unknown, and keeps directories Main deliberately left for a post-mortem
// (those no longer have etcd's data).
func sweepStaleDirs() {
	if !pdeathsig {
		return
	}
	dirs, err := filepath.Glob(filepath.Join(os.TempDir(), dirPattern+"*"))
	if err != nil {
		return
	}
	for _, dir := range dirs {
		b, err := os.ReadFile(filepath.Join(dir, ownerFile))
		if err != nil {
			continue
		}
		pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
		if err != nil || pid <= 0 || processExists(pid) {
			continue
		}
		if _, err := os.Stat(filepath.Join(dir, "etcd")); err != nil {
			continue
		}
		// Best effort: a directory that cannot be removed is left alone.
		_ = os.RemoveAll(dir)
	}
}
