/**
 * The pin tracker (upstream `pintracker/stateless` + `pintracker/optracker`),
 * configured by `pin_tracker.stateless` and the cluster's
 * `pin_recover_interval`.
 *
 * ```ts
 * const tracker = createStatelessPinTracker(
 *   { ...defaultStatelessPinTrackerInit(peerId, peerName) },
 *   { ipfs, state: (o) => consensus.state(o), localIPFSId: () => cachedIpfsId }
 * )
 * await tracker.start()            // workers + recoverAll now and every pin_recover_interval
 * consensus.onChange = (c) => c.op === 'pin' ? tracker.track(c.pin) : tracker.untrack(c.pin.cid)
 * ```
 */
import type { StatelessPinTrackerInit } from './config.ts'
import { StatelessPinTracker, type StatelessPinTrackerComponents } from './stateless.ts'

export {
  DEFAULT_CONCURRENT_PINS,
  DEFAULT_MAX_PIN_QUEUE_SIZE,
  DEFAULT_PIN_RECOVER_INTERVAL_MS,
  DEFAULT_PRIORITY_PIN_MAX_AGE_MS,
  DEFAULT_PRIORITY_PIN_MAX_RETRIES,
  DEFAULT_STATE_SYNC_INTERVAL_MS,
  defaultStatelessPinTrackerInit,
  type StatelessPinTrackerInit,
  validateStatelessPinTrackerInit
} from './config.ts'
export {
  type LocalIPFSId,
  Operation,
  type OperationCounts,
  OperationTracker,
  type OperationType,
  operationStatus,
  type Phase
} from './optracker.ts'
export {
  FULL_QUEUE_MESSAGE,
  StatelessPinTracker,
  type StatelessPinTrackerComponents,
  UNEXPECTEDLY_UNPINNED_MESSAGE
} from './stateless.ts'

/**
 * Builds the stateless pin tracker (not started).
 * @throws InvalidArgumentError on invalid settings.
 */
export function createStatelessPinTracker(init: StatelessPinTrackerInit, components: StatelessPinTrackerComponents): StatelessPinTracker {
  return new StatelessPinTracker(init, components)
}
