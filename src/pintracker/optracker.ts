/**
 * The operation tracker: one in-flight operation per CID (pin, unpin,
 * remote, shard) with its phase, attempts and error, mirroring upstream
 * `pintracker/optracker/operation.go` and `operationtracker.go`.
 *
 * Phases: `queued` → `in_progress` → `done` (then cleaned) or `error`
 * (kept, shows as `pin_error`/`unpin_error` until recovered or replaced).
 * A new operation of another type on the same CID, or of the same type
 * when the current one is done or failed, cancels and replaces the old one;
 * the attempt count carries over when the type is the same.
 *
 * Where we differ from upstream: an operation replaced while its IPFS
 * request is in flight is not aborted at once. It counts as cancelled (its
 * outcome is not recorded), its request may finish within
 * `SUPERSEDED_GRACE_MS` and is aborted after that, and the operation that
 * replaced it waits for it to settle before it sends its own request
 * (`previous`). Upstream aborts at once and runs both together, so an unpin
 * can check kubo before the pin it replaced lands there and leave the CID
 * pinned.
 */
import type { CID } from 'multiformats/cid'
import { clusterMetrics } from '../observability/metrics.ts'
import type { PeerId, Pin, PinInfo, TrackerStatus } from '../types/index.ts'
import { errorMessage } from '../errors.ts'

export type OperationType = 'pin' | 'unpin' | 'remote' | 'shard'
export type Phase = 'error' | 'queued' | 'in_progress' | 'done'

/** The IPFS identity reported in every PinInfo. */
export interface LocalIPFSId {
  id: string
  addresses: string[]
}

/** Upstream `Operation.ToTrackerStatus`. */
export function operationStatus(type: OperationType, phase: Phase): TrackerStatus {
  switch (type) {
    case 'pin':
      return phase === 'error' ? 'pin_error' : phase === 'queued' ? 'pin_queued' : phase === 'in_progress' ? 'pinning' : 'pinned'
    case 'unpin':
      return phase === 'error' ? 'unpin_error' : phase === 'queued' ? 'unpin_queued' : phase === 'in_progress' ? 'unpinning' : 'unpinned'
    case 'remote':
      return 'remote'
    case 'shard':
      return 'sharded'
  }
}

/** How long a replaced operation's IPFS request in flight may go on before it is aborted, ms. */
export const SUPERSEDED_GRACE_MS = 1000

/** One operation on one CID. Cancelling it aborts `signal` (and so its IPFS request). */
export class Operation {
  /** The tracker's promise of its run, set when it is launched; settles when its request has. */
  running: Promise<void> | undefined
  /** The operation it replaced while that one's request was in flight; the tracker waits for it. */
  previous: Operation | undefined
  readonly type: OperationType
  /** The pin it works on (updated in place when the same operation is re-tracked). */
  pin: Pin
  private readonly tracker: OperationTracker
  private readonly controller = new AbortController()
  private _phase: Phase
  private _attemptCount = 0
  private _priority = false
  private superseded = false
  private graceTimer: ReturnType<typeof setTimeout> | undefined
  private _error = ''
  private _ts = new Date()

  constructor(pin: Pin, type: OperationType, phase: Phase, tracker: OperationTracker) {
    this.pin = pin
    this.type = type
    this._phase = phase
    this.tracker = tracker
  }

  get cid(): CID {
    return this.pin.cid
  }

  /** Aborted when the operation is cancelled (replaced, finished, failed, or the tracker stopped). */
  get signal(): AbortSignal {
    return this.controller.signal
  }

  /** True once it is cancelled or replaced: its outcome is no longer recorded. */
  get canceled(): boolean {
    return this.superseded || this.controller.signal.aborted
  }

  /** Cancels it and aborts its request now; also the request of the operation it replaced, if still waited for. */
  cancel(): void {
    this.superseded = true
    if (this.graceTimer !== undefined) clearTimeout(this.graceTimer)
    this.graceTimer = undefined
    this.controller.abort()
    const previous = this.previous
    this.previous = undefined
    previous?.cancel()
  }

  /**
   * Replaced by a newer operation: cancelled now, but a request in flight
   * (phase `in_progress`, launched by the tracker: `running` set) is aborted
   * only after `graceMs` (see the module note).
   */
  supersede(graceMs: number): void {
    if (this._phase !== 'in_progress' || this.running === undefined || graceMs <= 0) {
      this.cancel()
      return
    }
    this.superseded = true
    if (this.graceTimer === undefined && !this.controller.signal.aborted) {
      this.graceTimer = setTimeout(() => this.cancel(), graceMs)
      this.graceTimer.unref?.()
    }
  }

  get phase(): Phase {
    return this._phase
  }

  setPhase(ph: Phase): void {
    this.tracker.account(this, -1)
    this._phase = ph
    this._ts = new Date()
    this.tracker.account(this, 1)
  }

  get attemptCount(): number {
    return this._attemptCount
  }

  /** @internal used to carry the count over to a replacing operation. */
  set attemptCount(n: number) {
    this._attemptCount = n
  }

  incAttempt(): void {
    this._attemptCount++
  }

  get priorityPin(): boolean {
    return this._priority
  }

  setPriorityPin(p: boolean): void {
    this._priority = p
  }

  get error(): string {
    return this._error
  }

  /** Moves to phase `error` with `err`'s message. */
  setError(err: unknown): void {
    this.tracker.account(this, -1)
    this._phase = 'error'
    this._error = errorMessage(err)
    this._ts = new Date()
    this.tracker.account(this, 1)
  }

  /** When the phase last changed. */
  get timestamp(): Date {
    return this._ts
  }

  get status(): TrackerStatus {
    return operationStatus(this.type, this._phase)
  }
}

/** Counts by status of the operations currently tracked (for metrics and the pinqueue informer). */
export interface OperationCounts {
  pinQueued: number
  pinning: number
  pinError: number
}

/** All operations by CID (upstream `OperationTracker`). */
export class OperationTracker {
  private readonly peerId: PeerId
  private readonly peerName: string
  private readonly ops = new Map<string, Operation>()
  private readonly counts: OperationCounts = { pinQueued: 0, pinning: 0, pinError: 0 }

  constructor(peerId: PeerId, peerName: string) {
    this.peerId = peerId
    this.peerName = peerName
  }

  /** @internal keeps the per-phase counters of current pin operations. */
  account(op: Operation, delta: 1 | -1): void {
    if (op.type !== 'pin' || this.ops.get(op.cid.toString()) !== op) return
    if (op.phase === 'queued') this.counts.pinQueued += delta
    else if (op.phase === 'in_progress') this.counts.pinning += delta
    else if (op.phase === 'error') this.counts.pinError += delta
    else return
    this.publish()
  }

  /** Upstream records these counts as the `pins_pin_queued`, `pins_pinning` and `pins_pin_error` gauges. */
  private publish(): void {
    clusterMetrics.pinsQueued.set(this.counts.pinQueued)
    clusterMetrics.pinsPinning.set(this.counts.pinning)
    clusterMetrics.pinsPinError.set(this.counts.pinError)
  }

  /**
   * Starts tracking a new operation for `pin.cid`, cancelling the current
   * one. Returns `undefined` (and only refreshes the stored pin) when an
   * operation of the same type is already queued or in progress.
   */
  trackNewOperation(pin: Pin, type: OperationType, phase: Phase): Operation | undefined {
    const key = pin.cid.toString()
    const old = this.ops.get(key)
    if (old !== undefined) {
      if (old.type === type && old.phase !== 'error' && old.phase !== 'done') {
        old.pin = pin
        return undefined
      }
      this.account(old, -1)
      old.supersede(SUPERSEDED_GRACE_MS)
    }
    const op = new Operation(pin, type, phase, this)
    // a launched operation's request settles before this one's starts (at once when it is over)
    if (old?.running !== undefined) op.previous = old
    if (old !== undefined && old.type === type) op.attemptCount = old.attemptCount
    this.ops.set(key, op)
    this.account(op, 1)
    return op
  }

  /** Forgets `op` if it is still the current operation of its CID. */
  clean(op: Operation): void {
    const key = op.cid.toString()
    if (this.ops.get(key) === op) {
      this.account(op, -1)
      this.ops.delete(key)
    }
  }

  /** The current operation of a CID. */
  op(cid: CID): Operation | undefined {
    return this.ops.get(cid.toString())
  }

  /** Status of the current operation of a CID, if any. */
  status(cid: CID): TrackerStatus | undefined {
    return this.op(cid)?.status
  }

  /** PinInfo of the current operation of a CID, if any (upstream `GetExists`). */
  getExists(cid: CID, ipfs: LocalIPFSId): PinInfo | undefined {
    const op = this.op(cid)
    return op === undefined ? undefined : this.pinInfo(op, ipfs)
  }

  /** PinInfo of an operation. */
  pinInfo(op: Operation, ipfs: LocalIPFSId): PinInfo {
    const p = op.pin
    return {
      cid: op.cid,
      name: p.name,
      peer: this.peerId,
      allocations: p.allocations,
      origins: p.origins,
      created: p.timestamp,
      metadata: p.metadata,
      pinInfo: {
        peerName: this.peerName,
        ipfsPeerId: ipfs.id,
        ipfsPeerAddresses: ipfs.addresses,
        status: op.status,
        timestamp: op.timestamp,
        error: op.error,
        attemptCount: op.attemptCount,
        priorityPin: op.priorityPin
      }
    }
  }

  /** Operations whose status is in `filter` (empty = all), as a snapshot. */
  *getAll(filter: ReadonlySet<TrackerStatus>, ipfs: LocalIPFSId): Generator<PinInfo> {
    for (const op of [...this.ops.values()]) {
      if (filter.size === 0 || filter.has(op.status)) yield this.pinInfo(op, ipfs)
    }
  }

  /** Operations of a type and/or phase (upstream `Filter`). */
  filter(type?: OperationType, phase?: Phase): Operation[] {
    return [...this.ops.values()].filter((op) => (type === undefined || op.type === type) && (phase === undefined || op.phase === phase))
  }

  /** Forgets every operation in phase `done`. */
  cleanAllDone(): void {
    for (const op of [...this.ops.values()]) if (op.phase === 'done') this.clean(op)
  }

  /** Cancels and forgets every operation (tracker stop). */
  cancelAll(): void {
    for (const op of this.ops.values()) op.cancel()
    this.ops.clear()
    this.counts.pinQueued = 0
    this.counts.pinning = 0
    this.counts.pinError = 0
    this.publish()
  }

  /** Number of pin operations in phase `queued`. */
  pinQueueSize(): number {
    return this.counts.pinQueued
  }

  /** Snapshot of the per-phase counters of pin operations. */
  counters(): OperationCounts {
    return { ...this.counts }
  }

  get size(): number {
    return this.ops.size
  }
}
