package setup

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"time"

	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
)

func fileExists(p string) bool {
	st, err := os.Stat(p)
	return err == nil && !st.IsDir()
}

// Merged is what Merge did.
type Merged struct {
	Path string // the file written
	// Backup is the copy of the file as it was ("" when there was no file).
	Backup string
	// Replaced names the entries of the same name the merge replaced (as gcloud does).
	Replaced []string
}

// Merge adds entry's clusters, users and contexts to the kubeconfig file at path and makes its current
// context current, as gcloud's get-credentials does: entries of the same name are replaced, everything
// else in the file is kept (clientcmd reads and writes it: preferences, extensions, other contexts).
// The file as it was is copied beside it first (PATH.gkedoctor-backup-TIMESTAMP, mode 0600); a file
// that does not parse is left alone; the new file replaces the old one by a rename, only if nobody
// changed the file in between. A missing file (and its directory) is created, mode 0600.
func Merge(path string, entry *clientcmdapi.Config, now time.Time) (*Merged, error) {
	if path == "" {
		return nil, errors.New("merge kubeconfig: no file to write to")
	}
	if entry == nil || len(entry.Contexts) == 0 {
		return nil, errors.New("merge kubeconfig: nothing to merge")
	}
	if real, err := filepath.EvalSymlinks(path); err == nil {
		path = real // write where the link points, keep the link
	}
	out := &Merged{Path: path}
	before, err := os.ReadFile(path)
	mode := fs.FileMode(0o600)
	cfg := clientcmdapi.NewConfig()
	switch {
	case errors.Is(err, fs.ErrNotExist):
		before = nil
		if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
			return nil, fmt.Errorf("merge kubeconfig: create %s: %w", filepath.Dir(path), err)
		}
	case err != nil:
		return nil, fmt.Errorf("merge kubeconfig: read %s: %w", path, err)
	default:
		if st, err := os.Stat(path); err == nil {
			mode = st.Mode().Perm()
		}
		if len(bytes.TrimSpace(before)) > 0 {
			cfg, err = clientcmd.Load(before)
			if err != nil {
				return nil, fmt.Errorf("merge kubeconfig: %s does not parse, so it is left alone (fix it or pass --kubeconfig): %w", path, err)
			}
		}
		out.Backup = fmt.Sprintf("%s.gkedoctor-backup-%s", path, now.UTC().Format("20060102T150405.000000000Z"))
		if err := os.WriteFile(out.Backup, before, 0o600); err != nil {
			return nil, fmt.Errorf("merge kubeconfig: back up %s: %w", path, err)
		}
	}
	for name, c := range entry.Clusters {
		if _, ok := cfg.Clusters[name]; ok {
			out.Replaced = append(out.Replaced, "cluster "+name)
		}
		cfg.Clusters[name] = c
	}
	for name, u := range entry.AuthInfos {
		if _, ok := cfg.AuthInfos[name]; ok {
			out.Replaced = append(out.Replaced, "user "+name)
		}
		cfg.AuthInfos[name] = u
	}
	for name, c := range entry.Contexts {
		if _, ok := cfg.Contexts[name]; ok {
			out.Replaced = append(out.Replaced, "context "+name)
		}
		cfg.Contexts[name] = c
	}
	if entry.CurrentContext != "" {
		cfg.CurrentContext = entry.CurrentContext
	}
	data, err := clientcmd.Write(*cfg)
	if err != nil {
		return nil, fmt.Errorf("merge kubeconfig: render: %w", err)
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".gkedoctor-*")
	if err != nil {
		return nil, fmt.Errorf("merge kubeconfig: %w", err)
	}
	defer os.Remove(tmp.Name()) // after the rename there is nothing left to remove
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return nil, fmt.Errorf("merge kubeconfig: write %s: %w", tmp.Name(), err)
	}
	if err := tmp.Chmod(mode); err != nil {
		tmp.Close()
		return nil, fmt.Errorf("merge kubeconfig: %w", err)
	}
	if err := tmp.Close(); err != nil {
		return nil, fmt.Errorf("merge kubeconfig: %w", err)
	}
	// Optimistic concurrency: refuse when someone (kubectl, gcloud) wrote the file meanwhile.
	now2, err := os.ReadFile(path)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("merge kubeconfig: re-read %s: %w", path, err)
	}
	if !bytes.Equal(now2, before) {
		return nil, fmt.Errorf("merge kubeconfig: %s changed while the entry was being merged; nothing written (try again)", path)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return nil, fmt.Errorf("merge kubeconfig: replace %s: %w", path, err)
	}
	return out, nil
}
