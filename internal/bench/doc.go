// Package bench holds the benchmarks of DESIGN §6 that need real servers: gkedoctor's audit against
// `kubectl get svc -A -o json` on the same kube-apiserver with thousands of Services (wall time, peak
// RSS, growth), and the audit's wall time against its longest dependent chain of Google API calls
// under injected latency. `make bench` builds what they need and prints the ratios.
package bench
