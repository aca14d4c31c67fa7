/**
 * Running a peer until a signal: the one place where the service daemon and
 * the follower wait for SIGINT/SIGTERM/SIGHUP, stop the peer in upstream's
 * order, and exit at once on a second signal.
 */
import { getLogger } from '../observability/logging.ts'

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
        .catch((err: unknown) => log.error(`shutdown: ${(err as Error).message}`))
        .finally(() => {
          log.info('IPFS Cluster peer stopped')
          resolve()
        })
    }
    for (const s of signals) process.on(s, onSignal)
  })
}
