/**
 * Running a peer until a signal: the one place where the service daemon and
 * the follower wait for SIGINT/SIGTERM/SIGHUP, stop the peer in upstream's
 * order, and exit at once on a second signal; and where a running peer is
 * kept alive through a stray asynchronous error (`guardProcess`).
 */
import { errorMessage } from '../errors.ts'
import { getLogger } from '../observability/logging.ts'

let guarded = false
let strays = 0

/** How many stray errors `guardProcess` has caught in this process. */
export function strayErrors(): number {
  return strays
}

/**
 * Keeps a running peer alive through an error that escaped every handler:
 * an `'error'` event nobody listened to (thrown as an uncaught exception) or
 * a rejected promise nobody awaited. One peer's network fault must not stop
 * the others (issue 15), and everything the peer acknowledged is already
 * on disk, so the error is logged at ERROR with its stack, as
 * `uncaught error (a bug, please report it): …`, and the peer goes on.
 * The e2e tests fail on that line, so each cause still gets found and fixed
 * where it belongs. Idempotent; only for long-running commands (daemon,
 * follower).
 */
export function guardProcess(): void {
  if (guarded) return
  guarded = true
  const log = getLogger('service')
  const report = (kind: string, err: unknown): void => {
    strays++
    const detail = err instanceof Error ? (err.stack ?? `${err.name}: ${err.message}`) : String(err)
    log.error(`${kind} (a bug, please report it): ${detail}`)
  }
  process.on('uncaughtException', (err) => report('uncaught error', err))
  process.on('unhandledRejection', (reason) => report('unhandled rejection', reason))
}

/**
 * Resolves once `peer.stop()` has finished after the first signal.
 * A second signal while stopping exits the process with code 1.
 */
export function runUntilSignal(peer: { stop(): Promise<void> }, signals: NodeJS.Signals[] = ['SIGINT', 'SIGTERM']): Promise<void> {
  const log = getLogger('service')
  return new Promise<void>((resolve) => {
    let stopping = false
    const onSignal = (sig: NodeJS.Signals): void => {
      if (stopping) {
        log.warn(`received ${sig} again: exiting now`)
        process.exit(1)
      }
      stopping = true
      log.info(`received ${sig}: shutting down`)
      peer
        .stop()
        .catch((err: unknown) => log.error(`shutdown: ${errorMessage(err)}`))
        .finally(() => {
          log.info('IPFS Cluster peer stopped')
          resolve()
        })
    }
    for (const s of signals) process.on(s, onSignal)
  })
}
