//go:build !unix

package fixes

import "os"

// Without flock the lock is advisory within this process only (the journal's undo still re-reads the
// entry before it acts).
func tryLock(*os.File) (bool, error) { return true, nil }

func unlock(*os.File) {}
