/**
 * The launcher: starts real kubo daemons and cluster peers of the compiled
 * binary on loopback (temporary folders, free ports), for `npm run cluster`
 * (scripts/cluster.ts), the benchmarks (bench/) and the tests (test/), and
 * the one poll helper they all use.
 *
 * - kubo.ts: `startKubo`, `stopAllKubos`, `kuboBinary`, `freePort`
 * - peer.ts: `initPeer`, `ClusterPeer` (start/stop/kill/ctl/destroy, logs), `runBinary`, `clusterBinary`
 * - poll.ts: `waitFor(fn, what, timeoutMs, everyMs)`, `WaitTimeoutError`
 */
export { freePort, type Kubo, type KuboCommandResult, kuboBinary, type StartKuboOptions, startKubo, stopAllKubos } from './kubo.ts'
export { ClusterPeer, clusterBinary, DAEMON_LOG, FAST_TIMINGS, initPeer, LOG_TAIL_CHARS, type RunResult, runBinary } from './peer.ts'
export { type Truthy, WaitTimeoutError, waitFor } from './poll.ts'
