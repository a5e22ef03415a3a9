// The pod sandbox's process for the test cluster's containerd (no registry is reachable to pull
// registry.k8s.io/pause): it holds the pod's namespaces, reaps orphaned children when the pod shares
// its PID namespace, and exits on SIGINT/SIGTERM. Built static (CGO_ENABLED=0), run FROM scratch.
package main

import (
	"os"
	"os/signal"
	"syscall"
)

func main() {
	signals := make(chan os.Signal, 8)
	signal.Notify(signals, syscall.SIGINT, syscall.SIGTERM, syscall.SIGCHLD)
	for s := range signals {
		if s != syscall.SIGCHLD {
			os.Exit(0)
		}
		for {
			pid, err := syscall.Wait4(-1, nil, syscall.WNOHANG, nil)
			if pid <= 0 || err != nil {
				break
			}
		}
	}
}
