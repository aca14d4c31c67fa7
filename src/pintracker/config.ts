/**
 * Settings of the stateless pin tracker, mirroring upstream
 * `pintracker/stateless/config.go` (section `pin_tracker.stateless` of
 * service.json) plus the two cluster-level intervals the tracker runs on.
 * Durations are milliseconds here; service.json keeps Go duration strings.
 * JSON keys and defaults are declared once, in `STATELESS` and `CLUSTER` of
 * `src/config/sections.ts` (`maxPinQueueSize` <- `max_pin_queue_size`,
 * `pinRecoverIntervalMs` <- `cluster.pin_recover_interval`, …).
 */
import { CLUSTER, STATELESS } from '../config/sections.ts'
import { fieldDefaults } from '../config/typed.ts'
import { InvalidArgumentError } from '../errors.ts'
import type { PeerId } from '../types/index.ts'

export interface StatelessPinTrackerInit {
  /** This cluster peer's ID: pins allocated elsewhere are `remote`. */
  peerId: PeerId
  /** This peer's name, reported in every PinInfo. */
  peerName: string
  /** Pin workers running at once (unpins have one worker of their own). */
  concurrentPins: number
  /** Capacity of each queue (priority pins, pins, unpins); beyond it `QueueFullError`. */
  maxPinQueueSize: number
  /** Pins committed less than this long ago go to the priority queue, ms. */
  priorityPinMaxAgeMs: number
  /** ...as long as they have been attempted at most this many times. */
  priorityPinMaxRetries: number
  /** `recoverAll` runs at start and then every this often, ms (0 = only at start). */
  pinRecoverIntervalMs: number
  /**
   * Accepted for symmetry with upstream's `state_sync_interval`; the
   * stateless tracker derives everything from the state, so it does not use
   * it (upstream's StateSync, which unpins expired pins, belongs to Cluster).
   */
  stateSyncIntervalMs?: number
}

const TRACKER = fieldDefaults(STATELESS)
const { pinRecoverIntervalMs, stateSyncIntervalMs } = fieldDefaults(CLUSTER)

export const DEFAULT_MAX_PIN_QUEUE_SIZE = TRACKER.maxPinQueueSize
export const DEFAULT_CONCURRENT_PINS = TRACKER.concurrentPins
export const DEFAULT_PRIORITY_PIN_MAX_AGE_MS = TRACKER.priorityPinMaxAgeMs
export const DEFAULT_PRIORITY_PIN_MAX_RETRIES = TRACKER.priorityPinMaxRetries
export const DEFAULT_PIN_RECOVER_INTERVAL_MS = pinRecoverIntervalMs
export const DEFAULT_STATE_SYNC_INTERVAL_MS = stateSyncIntervalMs

/** Upstream defaults (the `pin_tracker.stateless` and `cluster` declarations) for everything but the peer's identity. */
export function defaultStatelessPinTrackerInit(peerId: PeerId, peerName: string): StatelessPinTrackerInit {
  return { peerId, peerName, ...TRACKER, pinRecoverIntervalMs, stateSyncIntervalMs }
}

/**
 * Upstream `Config.Validate`.
 * @throws InvalidArgumentError naming the bad key.
 */
export function validateStatelessPinTrackerInit(init: StatelessPinTrackerInit): void {
  if (!Number.isInteger(init.maxPinQueueSize) || init.maxPinQueueSize <= 0) {
    throw new InvalidArgumentError('statelesstracker.max_pin_queue_size too low')
  }
  if (!Number.isInteger(init.concurrentPins) || init.concurrentPins <= 0) {
    throw new InvalidArgumentError('statelesstracker.concurrent_pins is too low')
  }
  if (!Number.isFinite(init.priorityPinMaxAgeMs) || init.priorityPinMaxAgeMs < 0) {
    throw new InvalidArgumentError('statelesstracker.priority_pin_max_age is invalid')
  }
  if (!Number.isInteger(init.priorityPinMaxRetries) || init.priorityPinMaxRetries < 0) {
    throw new InvalidArgumentError('statelesstracker.priority_pin_max_retries is invalid')
  }
  if (!Number.isFinite(init.pinRecoverIntervalMs) || init.pinRecoverIntervalMs < 0) {
    throw new InvalidArgumentError('cluster.pin_recover_interval is invalid')
  }
}
