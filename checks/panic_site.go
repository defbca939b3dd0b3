package checks

import (
	"runtime"
	"strings"
)

// panicSite names where a check panicked — the functions, innermost first, without file paths or
// goroutine headers — for the result's evidence. A Go stack trace never goes into a result: reports
// are pasted into tickets and CI logs (issue 15), and the function names are enough to file a bug.
// It must be called from the deferred recover.
func panicSite() string {
	pcs := make([]uintptr, 32)
	n := runtime.Callers(3, pcs) // skip runtime.Callers, panicSite, the deferred func
	frames := runtime.CallersFrames(pcs[:n])
	var names []string
	for len(names) < 3 {
		f, more := frames.Next()
		if fn := f.Function; fn != "" && !strings.HasPrefix(fn, "runtime.") {
			if i := strings.LastIndex(fn, "/"); i >= 0 {
				fn = fn[i+1:]
			}
			names = append(names, fn)
		}
		if !more {
			break
		}
	}
	if len(names) == 0 {
		return "the check panicked (location unknown)"
	}
	return "panicked in " + strings.Join(names, " ← ")
}
