package testenv

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
)

const (
	// EnvTestBin names the directory holding kube-apiserver and etcd; the
	// Makefile sets it to the directory hack/testbin/build.sh prints.
	EnvTestBin = "GKEDOCTOR_TESTBIN"
	// EnvRequireTestBin, when "1", turns a missing binary from a skip into a
	// test failure in Shared.
	EnvRequireTestBin = "GKEDOCTOR_REQUIRE_TESTBIN"

	apiserverBin = "kube-apiserver"
	etcdBin      = "etcd"
)

// The go.mod files whose contents stamp the cache directory, in the order
// hack/testbin/build.sh hashes them.
var stampFiles = []string{
	filepath.Join("hack", "testbin", "kube-apiserver", "go.mod"),
	filepath.Join("hack", "testbin", "etcd", "go.mod"),
}

// BinDir returns the directory holding the kube-apiserver and etcd binaries:
// $GKEDOCTOR_TESTBIN when set, else the cache directory hack/testbin/build.sh
// builds into (found from the go.mod files of the repository enclosing the
// working directory) when both binaries are there, else "".
func BinDir() string {
	if dir := os.Getenv(EnvTestBin); dir != "" {
		return dir
	}
	dir, err := defaultBinDir()
	if err != nil || checkBinaries(dir) != nil {
		return ""
	}
	return dir
}

// defaultBinDir computes what hack/testbin/build.sh computes:
// ${XDG_CACHE_HOME:-$HOME/.cache}/gkedoctor/testbin/<stamp>.
func defaultBinDir() (string, error) {
	wd, err := os.Getwd()
	if err != nil {
		return "", err
	}
	root, err := findRepoRoot(wd)
	if err != nil {
		return "", err
	}
	stamp, err := testbinStamp(root)
	if err != nil {
		return "", err
	}
	cache := os.Getenv("XDG_CACHE_HOME")
	if cache == "" {
		home, err := os.UserHomeDir()
		if err != nil {
			return "", err
		}
		cache = filepath.Join(home, ".cache")
	}
	return filepath.Join(cache, "gkedoctor", "testbin", stamp), nil
}

// findRepoRoot walks up from dir to the first directory holding the
// hack/testbin go.mod files.
func findRepoRoot(dir string) (string, error) {
	for {
		if _, err := os.Stat(filepath.Join(dir, stampFiles[0])); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", fmt.Errorf("no %s above the working directory", stampFiles[0])
		}
		dir = parent
	}
}

// testbinStamp is the first 12 hex digits of the SHA-256 of the stamp files
// concatenated, as `cat a b | sha256sum | cut -c1-12` prints it.
func testbinStamp(root string) (string, error) {
	h := sha256.New()
	for _, f := range stampFiles {
		b, err := os.ReadFile(filepath.Join(root, f))
		if err != nil {
			return "", err
		}
		h.Write(b)
	}
	return hex.EncodeToString(h.Sum(nil))[:12], nil
}

// errNoBinaries marks a missing binary, which Shared turns into a skip.
var errNoBinaries = errors.New("kube-apiserver/etcd test binaries not built")

func checkBinaries(dir string) error {
	if dir == "" {
		return fmt.Errorf("%w: $%s is unset and the build cache has none for this checkout", errNoBinaries, EnvTestBin)
	}
	for _, name := range []string{apiserverBin, etcdBin} {
		fi, err := os.Stat(filepath.Join(dir, name))
		switch {
		case errors.Is(err, fs.ErrNotExist):
			return fmt.Errorf("%w: no %s in %s", errNoBinaries, name, dir)
		case err != nil:
			return fmt.Errorf("%w: %v", errNoBinaries, err)
		case fi.IsDir() || fi.Mode().Perm()&0o111 == 0:
			return fmt.Errorf("%w: %s in %s is not an executable file", errNoBinaries, name, dir)
		}
	}
	return nil
}
