package kube

import (
	"fmt"
	"os"
	"path/filepath"

	"k8s.io/cli-runtime/pkg/genericclioptions"
	"k8s.io/client-go/tools/clientcmd"
)

// MaxKubeconfigBytes bounds a kubeconfig (and the certificate and key files it names on the command
// line): a real one with hundreds of clusters is a few MB. A larger file, or anything that is not a
// regular file (/dev/zero, a FIFO, a directory), is refused before it is opened: client-go would read
// it whole into memory, or block on it forever.
const MaxKubeconfigBytes = 32 << 20

// CheckInputFile refuses what cannot be read safely as a whole: a path that does not exist, that is
// not a regular file, or that is larger than limit. Symbolic links are followed. Only metadata is
// read, so it never blocks on a FIFO or a device.
func CheckInputFile(path string, limit int64) error {
	fi, err := os.Stat(path)
	if err != nil {
		if pe, ok := err.(*os.PathError); ok {
			err = pe.Err
		}
		return fmt.Errorf("cannot read %q: %v", path, err)
	}
	if !fi.Mode().IsRegular() {
		return fmt.Errorf("%q is not a regular file (%s): give the path of a file", path, describeMode(fi.Mode()))
	}
	if fi.Size() > limit {
		return fmt.Errorf("%q is %d bytes; the limit is %d bytes (%d MiB)", path, fi.Size(), limit, limit>>20)
	}
	return nil
}

func describeMode(m os.FileMode) string {
	switch {
	case m.IsDir():
		return "a directory"
	case m&os.ModeNamedPipe != 0:
		return "a named pipe"
	case m&os.ModeSocket != 0:
		return "a socket"
	case m&os.ModeCharDevice != 0:
		return "a character device"
	case m&os.ModeDevice != 0:
		return "a device"
	}
	return "mode " + m.String()
}

// checkKubeFiles checks every file client-go would read for these flags: --kubeconfig (or each
// existing file on $KUBECONFIG) and the certificate files named on the command line.
func checkKubeFiles(f *genericclioptions.ConfigFlags) error {
	if f.KubeConfig != nil && *f.KubeConfig != "" {
		if err := CheckInputFile(*f.KubeConfig, MaxKubeconfigBytes); err != nil {
			return &UsageError{Msg: fmt.Sprintf("--kubeconfig: %v", err)}
		}
	} else {
		for _, p := range filepath.SplitList(os.Getenv(clientcmd.RecommendedConfigPathEnvVar)) {
			if p == "" {
				continue
			}
			if _, err := os.Stat(p); os.IsNotExist(err) {
				continue // client-go skips missing files on the list
			}
			if err := CheckInputFile(p, MaxKubeconfigBytes); err != nil {
				return &UsageError{Msg: fmt.Sprintf("%s: %v", clientcmd.RecommendedConfigPathEnvVar, err)}
			}
		}
	}
	for _, c := range []struct {
		flag string
		v    *string
	}{{"--certificate-authority", f.CAFile}, {"--client-certificate", f.CertFile}, {"--client-key", f.KeyFile}} {
		if c.v != nil && *c.v != "" {
			if err := CheckInputFile(*c.v, MaxKubeconfigBytes); err != nil {
				return &UsageError{Msg: fmt.Sprintf("%s: %v", c.flag, err)}
			}
		}
	}
	return nil
}
