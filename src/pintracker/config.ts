/**
 * Settings of the stateless pin tracker, mirroring upstream
 * `pintracker/stateless/config.go` (section `pin_tracker.stateless` of
 * service.json) plus the two cluster-level intervals the tracker runs on.
 * Durations are milliseconds here; service.json keeps Go duration strings.
 *
 * | field                 | JSON key                          | default |
 * |-----------------------|-----------------------------------|---------|
 * | maxPinQueueSize       | max_pin_queue_size                | 1000000 |
 * | concurrentPins        | concurrent_pins                   | 10      |
 * | priorityPinMaxAgeMs   | priority_pin_max_age              | 24 h    |
 * | priorityPinMaxRetries | priority_pin_max_retries          | 5       |
 * | pinRecoverIntervalMs  | cluster.pin_recover_interval      | 12 min  |
 * | stateSyncIntervalMs   | cluster.state_sync_interval       | 5 min   |
 */
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

export const DEFAULT_MAX_PIN_QUEUE_SIZE = 1_000_000
export const DEFAULT_CONCURRENT_PINS = 10
export const DEFAULT_PRIORITY_PIN_MAX_AGE_MS = 24 * 3600_000
export const DEFAULT_PRIORITY_PIN_MAX_RETRIES = 5
export const DEFAULT_PIN_RECOVER_INTERVAL_MS = 12 * 60_000
export const DEFAULT_STATE_SYNC_INTERVAL_MS = 5 * 60_000

/** Upstream defaults for everything but the peer's identity. */
export function defaultStatelessPinTrackerInit(peerId: PeerId, peerName: string): StatelessPinTrackerInit {
  return {
    peerId,
    peerName,
    concurrentPins: DEFAULT_CONCURRENT_PINS,
    maxPinQueueSize: DEFAULT_MAX_PIN_QUEUE_SIZE,
    priorityPinMaxAgeMs: DEFAULT_PRIORITY_PIN_MAX_AGE_MS,
    priorityPinMaxRetries: DEFAULT_PRIORITY_PIN_MAX_RETRIES,
    pinRecoverIntervalMs: DEFAULT_PIN_RECOVER_INTERVAL_MS,
    stateSyncIntervalMs: DEFAULT_STATE_SYNC_INTERVAL_MS
  }
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
