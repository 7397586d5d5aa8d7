// Package health implements the sync-check sidecar that runs next to a
// Stellar process (stellar-core validator, Horizon or Stellar RPC).
//
// The pod's readiness probe points at the sidecar's /readyz. A node that is
// not synced must fail that probe so that it leaves the Service's endpoints
// and MetalLB withdraws the anycast route announced from that node; routers
// then send traffic to the next-best region. Wrongly reporting "ready" black-
// holes user traffic, so every rule here errs on the side of "not ready":
// unknown states, unparsable answers, stale ledgers, a different network
// passphrase and any transport problem all fail the probe.
//
// The checks follow what each process itself exposes:
//
//   - stellar-core: GET /info, state "Synced!" and a fresh ledger.
//   - Horizon: GET /health must be 200, and GET / must show a small ingest
//     lag behind captive core and a recently closed ledger.
//   - Stellar RPC: JSON-RPC getHealth over POST must be "healthy", with a
//     fresh latestLedgerCloseTime when the server reports one.
//
// A Server runs the Checker on a fixed period in one goroutine and serves the
// last result, so probes never trigger upstream calls and a slow target can
// never pile up requests. Command wires everything together for the
// `health` subcommand of the operator binary.
package health
