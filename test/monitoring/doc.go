// Package monitoring tests the alerts and the dashboard with Prometheus' own parsers, and that
// every metric they use is exported by the operator, controller-runtime or the health sidecar. It
// is its own module so that Prometheus' dependencies never reach the operator's go.mod.
package monitoring
