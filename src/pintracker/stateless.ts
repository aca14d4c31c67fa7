/**
 * The stateless pin tracker, mirroring upstream
 * `pintracker/stateless/stateless.go` (v1.1.6).
 *
 * It keeps no pin state of its own: a CID's status is derived from the
 * shared state (is it in the pinset, allocated here?), kubo's pins and the
 * operation tracker (is something queued, running or failed for it?).
 *
 * Work: three FIFO queues, each holding at most `maxPinQueueSize`
 * operations: priority pins, other pins, unpins. `concurrentPins` pin
 * workers always take a priority pin first; one worker runs unpins.
 * A pin is a priority pin when its timestamp is younger than
 * `priorityPinMaxAgeMs` and it was attempted at most
 * `priorityPinMaxRetries` times.
 */
import type { CID } from 'multiformats/cid'
import { AbortError, errorMessage, IPFSError, NotFoundError, QueueFullError } from '../errors.ts'
import type { AbortOptions, IPFSConnector, PinTracker, ReadOnlyState } from '../interfaces.ts'
import { getLogger } from '../observability/logging.ts'
import { defaultPinOptions, type Pin, type PinInfo, pinWithOpts, type TrackerStatus } from '../types/index.ts'
import { backgroundPacer } from '../runtime/slicer.ts'
import { pagesOf } from '../types/pages.ts'
import { cidString } from '../types/cidstring.ts'
import { type StatelessPinTrackerInit, validateStatelessPinTrackerInit } from './config.ts'
import { type LocalIPFSId, type Operation, type OperationCounts, OperationTracker, type OperationType } from './optracker.ts'

const log = getLogger('pintracker')

/** Upstream `ErrFullQueue`. */
export const FULL_QUEUE_MESSAGE = 'pin/unpin operation queue is full. Try increasing max_pin_queue_size'
/** Upstream `errUnexpectedlyUnpinned`. */
export const UNEXPECTEDLY_UNPINNED_MESSAGE = 'the item should be pinned but it is not'

/** What the tracker uses. */
export interface StatelessPinTrackerComponents {
  /** The local IPFS daemon. */
  ipfs: IPFSConnector
  /** The current local copy of the shared pinset (upstream `getState`). */
  state: (options?: AbortOptions) => Promise<ReadOnlyState>
  /**
   * This peer's IPFS identity for PinInfo (upstream: RPC `Cluster.IPFSID`,
   * which is cached). Without it the tracker asks `ipfs.id()` (once per
   * status call; failures give an empty identity).
   */
  localIPFSId?: () => LocalIPFSId
}

/** A FIFO with O(1) push and shift. */
class Fifo<T> {
  private items: (T | undefined)[] = []
  private head = 0

  get length(): number {
    return this.items.length - this.head
  }

  push(v: T): void {
    this.items.push(v)
  }

  shift(): T | undefined {
    if (this.head >= this.items.length) return undefined
    const v = this.items[this.head]
    this.items[this.head] = undefined
    this.head++
    if (this.head > 1024 && this.head * 2 > this.items.length) {
      this.items = this.items.slice(this.head)
      this.head = 0
    }
    return v
  }

  clear(): void {
    this.items = []
    this.head = 0
  }
}

/**
 * Options of the tracker's listings: `background` paces the listing to
 * about half of the thread (the periodic recover: requests served meanwhile
 * keep the rest).
 */
export interface ListingOptions extends AbortOptions {
  background?: boolean
}

/** A remote pin's unpin waiting its turn (see `track`): `seq` is the order it came in. */
interface RemoteUnpin {
  pin: Pin
  op: Operation
  seq: number
  done: () => void
}

/** Waiting unpins of remote pins from which kubo's pins are listed once instead of asked one by one. */
const SNAPSHOT_BACKLOG = 100

function isRemotePin(pin: Pin, peerId: string): boolean {
  return pin.allocations.length > 0 && !pin.allocations.includes(peerId)
}


/** The stateless `PinTracker`. */
export class StatelessPinTracker implements PinTracker {
  private readonly init: StatelessPinTrackerInit
  private readonly components: StatelessPinTrackerComponents
  readonly optracker: OperationTracker
  private readonly priorityQueue = new Fifo<Operation>()
  private readonly pinQueue = new Fifo<Operation>()
  private readonly unpinQueue = new Fifo<Operation>()
  private activePins = 0
  private activeUnpins = 0
  /** unpins of remote pins (see `track`): running, waiting (with the order they came in). */
  private activeRemote = 0
  private readonly remoteQueue = new Fifo<RemoteUnpin>()
  private remoteSeq = 0
  /** kubo's pins as listed once `remoteSeq` had reached `seq` (see `remoteSnapshot`). */
  private snapshot: { seq: number; pinned: Set<string> | undefined } | undefined
  private snapshotting: Promise<void> | undefined
  /** by limit: the promise `remoteBacklog` gives while over it (one per limit, however often asked). */
  private readonly backlogWaiters = new Map<number, { promise: Promise<void>; resolve: () => void }>()
  private readonly inFlight = new Set<Promise<void>>()
  private run: AbortController | undefined
  private recoverTimer: ReturnType<typeof setTimeout> | undefined
  private recovering: Promise<void> | undefined

  /** @throws InvalidArgumentError on invalid settings. */
  constructor(init: StatelessPinTrackerInit, components: StatelessPinTrackerComponents) {
    validateStatelessPinTrackerInit(init)
    this.init = { ...init }
    this.components = components
    this.optracker = new OperationTracker(init.peerId, init.peerName)
  }

  /** Starts the workers and the recover loop (a first `recoverAll` runs now, in the background). */
  async start(): Promise<void> {
    if (this.run !== undefined) return
    this.run = new AbortController()
    this.pump()
    this.scheduleRecover(0)
  }

  /**
   * Cancels every operation (in-flight IPFS requests are aborted), empties
   * the queues and waits for the workers to return.
   */
  async stop(): Promise<void> {
    const run = this.run
    if (run === undefined) return
    log.info('stopping StatelessPinTracker')
    this.run = undefined
    run.abort()
    if (this.recoverTimer !== undefined) clearTimeout(this.recoverTimer)
    this.recoverTimer = undefined
    this.optracker.cancelAll()
    this.priorityQueue.clear()
    this.pinQueue.clear()
    this.unpinQueue.clear()
    for (let r = this.remoteQueue.shift(); r !== undefined; r = this.remoteQueue.shift()) r.done()
    this.releaseBacklog()
    await Promise.allSettled([...this.inFlight, this.recovering])
    this.recovering = undefined
  }

  private scheduleRecover(delayMs: number): void {
    const run = this.run
    if (run === undefined) return
    this.recoverTimer = setTimeout(() => {
      this.recoverTimer = undefined
      if (run.signal.aborted) return
      this.recovering = this.recoverAllQuietly(run.signal).finally(() => {
        this.recovering = undefined
        if (!run.signal.aborted && this.init.pinRecoverIntervalMs > 0) this.scheduleRecover(this.init.pinRecoverIntervalMs)
      })
    }, delayMs)
  }

  private async recoverAllQuietly(signal: AbortSignal): Promise<void> {
    try {
      let n = 0
      for await (const _ of this.recoverAll({ signal, background: true })) n++
      if (n > 0) log.info(`recovered ${n} items`)
    } catch (err) {
      if (!signal.aborted) log.error(`RecoverAll: ${errorMessage(err)}`)
    }
  }

  // ------------------------------------------------------------- workers

  /** Starts as many operations as the worker bounds allow. */
  private pump(): void {
    const run = this.run
    if (run === undefined) return
    while (this.activePins < this.init.concurrentPins) {
      const op = this.priorityQueue.shift() ?? this.pinQueue.shift()
      if (op === undefined) break
      if (op.canceled) continue
      this.activePins++
      this.launch(op, () => {
        this.activePins--
      })
    }
    while (this.activeUnpins < 1) {
      const op = this.unpinQueue.shift()
      if (op === undefined) break
      if (op.canceled) continue
      this.activeUnpins++
      this.launch(op, () => {
        this.activeUnpins--
      })
    }
  }

  private launch(op: Operation, release: () => void): void {
    const p: Promise<void> = this.apply(op).finally(() => {
      op.cancel()
      release()
      this.inFlight.delete(p)
      this.pump()
    })
    this.inFlight.add(p)
    op.running = p
  }

  /** Upstream `applyPinF`: runs the operation and records its outcome. */
  private async apply(op: Operation): Promise<void> {
    if (op.canceled) return
    const previous = op.previous
    if (previous !== undefined) {
      // the operation this one replaced: its request settles first (at most
      // SUPERSEDED_GRACE_MS; at once when this one is cancelled meanwhile)
      await previous.running
      op.previous = undefined
      if (op.canceled) return
    }
    op.setPhase('in_progress')
    op.incAttempt()
    try {
      if (op.type === 'pin') {
        log.debug(`issuing pin call for ${op.cid}`)
        await this.components.ipfs.pin(op.pin, { signal: op.signal })
      } else {
        log.debug(`issuing unpin call for ${op.cid}`)
        await this.components.ipfs.unpin(op.cid, { signal: op.signal })
      }
    } catch (err) {
      if (op.canceled) return
      log.error(`${op.type} of ${op.cid} failed: ${errorMessage(err)}`)
      op.setError(err)
      op.cancel()
      return
    }
    if (op.canceled) return
    op.setPhase('done')
    op.cancel()
    this.optracker.clean(op)
  }

  /**
   * Upstream `enqueue`: tracks a new queued operation and puts it on its
   * queue. Nothing happens when the same operation is already queued or running.
   * @throws QueueFullError (the operation is then left in phase `error`).
   */
  private enqueue(pin: Pin, type: OperationType): void {
    const op = this.optracker.trackNewOperation(pin, type, 'queued')
    if (op === undefined) return
    let queue: Fifo<Operation>
    if (type === 'pin') {
      const priority = Date.now() < pin.timestamp.getTime() + this.init.priorityPinMaxAgeMs && op.attemptCount <= this.init.priorityPinMaxRetries
      op.setPriorityPin(priority)
      queue = priority ? this.priorityQueue : this.pinQueue
    } else {
      queue = this.unpinQueue
    }
    if (queue.length >= this.init.maxPinQueueSize) {
      const err = new QueueFullError(FULL_QUEUE_MESSAGE)
      op.setError(err)
      op.cancel()
      log.error(err.message)
      throw err
    }
    queue.push(op)
    this.pump()
  }

  // ---------------------------------------------------------- public API

  /**
   * Starts tracking a pin (upstream `Track`): a meta pin is ignored (it is
   * `sharded`); a pin allocated to other peers only is unpinned from the
   * local IPFS right away (awaited; a failure is logged, not thrown; at
   * most `concurrentPins` such unpins run at once, the others wait in
   * order, see `pumpRemote`; upstream runs them one at a time, in its crdt
   * put hook);
   * anything else is queued for pinning.
   * @throws QueueFullError
   */
  async track(pin: Pin, _options: AbortOptions = {}): Promise<void> {
    log.debug(`tracking ${pin.cid}`)
    if (pin.type === 'meta-pin') return
    if (isRemotePin(pin, this.init.peerId)) {
      const op = this.optracker.trackNewOperation(pin, 'remote', 'in_progress')
      if (op === undefined) return
      await new Promise<void>((done) => {
        this.remoteQueue.push({ pin, op, seq: ++this.remoteSeq, done })
        this.pumpRemote()
      })
      return
    }
    this.enqueue(pin, 'pin')
  }

  /**
   * Resolves once at most `limit` unpins of remote pins wait for their
   * turn; `undefined` when that is so already. The crdt consensus waits on
   * it before merging the next delta (see `Cluster.onStateChange`), which
   * bounds the memory a joining peer's backlog takes (upstream's merge waits
   * for every single one).
   */
  remoteBacklog(limit: number): Promise<void> | undefined {
    if (this.remoteQueue.length <= limit || this.run === undefined) return undefined
    let w = this.backlogWaiters.get(limit)
    if (w === undefined) {
      let resolve!: () => void
      const promise = new Promise<void>((r) => {
        resolve = r
      })
      w = { promise, resolve }
      this.backlogWaiters.set(limit, w)
    }
    return w.promise
  }

  private releaseBacklog(): void {
    if (this.backlogWaiters.size === 0) return
    const n = this.remoteQueue.length
    const stopped = this.run === undefined
    for (const [limit, w] of this.backlogWaiters) {
      if (!stopped && n > limit) continue
      this.backlogWaiters.delete(limit)
      w.resolve()
    }
  }

  /**
   * Starts unpins of remote pins, at most `concurrentPins` at once: a
   * joining peer tracks every pin of the pinset as it merges, and
   * thousands of requests to kubo at once starved the daemon (its pings
   * expired; the sync time grew with the pinset).
   */
  private pumpRemote(): void {
    while (this.activeRemote < this.init.concurrentPins) {
      const r = this.remoteQueue.shift()
      if (r === undefined) break
      this.activeRemote++
      this.runRemote(r)
        .catch((err: unknown) => log.error(`unpinning remote pin ${r.pin.cid}: ${errorMessage(err)}`))
        .finally(() => {
          this.activeRemote--
          r.done()
          if (this.remoteQueue.length === 0 && this.activeRemote === 0) this.snapshot = undefined
          this.releaseBacklog()
          this.pumpRemote()
        })
    }
  }

  /**
   * One remote pin's unpin. With at least {@link SNAPSHOT_BACKLOG} waiting,
   * kubo's recursive and direct pins are listed once, and a pin that came
   * before that listing began and is not in it is done without a request
   * (there is nothing to unpin: `pin/rm` would answer "not pinned").
   */
  private async runRemote(r: RemoteUnpin): Promise<void> {
    if (r.op.canceled) return
    if (this.remoteQueue.length >= SNAPSHOT_BACKLOG && (this.snapshot === undefined || this.snapshot.seq < r.seq)) await this.remoteSnapshot()
    const snap = this.snapshot
    if (snap?.pinned !== undefined && r.seq <= snap.seq && !snap.pinned.has(cidString(r.pin.cid))) {
      if (r.op.canceled) return
      r.op.cancel()
      r.op.setPhase('done')
      this.optracker.clean(r.op)
      return
    }
    await this.unpinRemote(r.pin, r.op)
  }

  /** Lists kubo's pins into `snapshot` (one listing at a time; a failure leaves no set: every pin gets its request). */
  private remoteSnapshot(): Promise<void> {
    this.snapshotting ??= (async () => {
      const seq = this.remoteSeq
      const pinned = new Set<string>()
      try {
        for await (const p of this.components.ipfs.pinLs('recursive,direct', { signal: this.run?.signal })) pinned.add(cidString(p.cid))
        this.snapshot = { seq, pinned }
        log.debug(`listed kubo's ${pinned.size} pins for ${this.remoteQueue.length} waiting unpins of remote pins`)
      } catch (err) {
        this.snapshot = { seq, pinned: undefined }
        log.debug(`listing kubo's pins for the unpins of remote pins: ${errorMessage(err)}`)
      }
    })().finally(() => {
      this.snapshotting = undefined
    })
    return this.snapshotting
  }

  /** The unpin of a remote pin, recorded on its operation. */
  private async unpinRemote(pin: Pin, op: Operation): Promise<void> {
    if (op.canceled) return
    try {
      await this.components.ipfs.unpin(pin.cid, { signal: op.signal })
    } catch (err) {
      op.cancel()
      op.setError(err)
      log.error(`unpinning remote pin ${pin.cid}: ${errorMessage(err)}`)
      return
    }
    op.cancel()
    op.setPhase('done')
    this.optracker.clean(op)
  }

  /**
   * Queues an unpin (upstream `Untrack`).
   * @throws QueueFullError
   */
  async untrack(cid: CID, _options: AbortOptions = {}): Promise<void> {
    log.debug(`untracking ${cid}`)
    this.enqueue(pinWithOpts(cid, defaultPinOptions()), 'unpin')
  }

  private async ipfsId(options: AbortOptions): Promise<LocalIPFSId> {
    if (this.components.localIPFSId !== undefined) return this.components.localIPFSId()
    try {
      const id = await this.components.ipfs.id(options)
      return { id: id.id, addresses: id.addresses }
    } catch (err) {
      log.debug(`could not get the IPFS id: ${errorMessage(err)}`)
      return { id: '', addresses: [] }
    }
  }

  private blankInfo(cid: CID, ipfs: LocalIPFSId, status: TrackerStatus): PinInfo {
    return {
      cid,
      name: '',
      peer: this.init.peerId,
      allocations: [],
      origins: [],
      created: new Date(),
      metadata: {},
      pinInfo: {
        peerName: this.init.peerName,
        ipfsPeerId: ipfs.id,
        ipfsPeerAddresses: ipfs.addresses,
        status,
        timestamp: new Date(),
        error: '',
        attemptCount: 0,
        priorityPin: false
      }
    }
  }

  private pinInfoFromPin(pin: Pin, ipfs: LocalIPFSId, status: TrackerStatus, error = ''): PinInfo {
    return {
      cid: pin.cid,
      name: pin.name,
      peer: this.init.peerId,
      allocations: pin.allocations,
      origins: pin.origins,
      created: pin.timestamp,
      metadata: pin.metadata,
      pinInfo: {
        peerName: this.init.peerName,
        ipfsPeerId: ipfs.id,
        ipfsPeerAddresses: ipfs.addresses,
        status,
        timestamp: pin.timestamp,
        error,
        attemptCount: 0,
        priorityPin: false
      }
    }
  }

  /**
   * Status of one CID on this peer (upstream `Status`): the current
   * operation if any; else `unpinned` (not in the state), `sharded` (meta
   * pin), `remote` (allocated elsewhere), `pinned`, or
   * `unexpectedly_unpinned` (kubo does not have it); `cluster_error` when
   * the state or kubo cannot be read. Never throws for those: the error is
   * in `pinInfo.error`.
   */
  async status(cid: CID, options: AbortOptions = {}): Promise<PinInfo> {
    const ipfs = await this.ipfsId(options)
    const fromOp = this.optracker.getExists(cid, ipfs)
    if (fromOp !== undefined) return fromOp
    const info = this.blankInfo(cid, ipfs, 'undefined')
    let pin: Pin
    try {
      const st = await this.components.state(options)
      pin = await st.get(cid, options)
    } catch (err) {
      if (err instanceof NotFoundError || (err as { name?: unknown })?.name === 'NotFoundError') {
        info.pinInfo.status = 'unpinned'
        return info
      }
      log.error(`status of ${cid}: ${errorMessage(err)}`)
      info.pinInfo.status = 'cluster_error'
      info.pinInfo.error = errorMessage(err)
      return info
    }
    if (pin.type === 'meta-pin') return this.pinInfoFromPin(pin, ipfs, 'sharded')
    if (isRemotePin(pin, this.init.peerId)) return this.pinInfoFromPin(pin, ipfs, 'remote')
    try {
      const s = await this.components.ipfs.pinLsCid(pin, options)
      switch (s) {
        case 'recursive':
        case 'direct':
          return this.pinInfoFromPin(pin, ipfs, 'pinned')
        case 'bug':
          return this.pinInfoFromPin(pin, ipfs, 'undefined')
        case 'error':
          return this.pinInfoFromPin(pin, ipfs, 'cluster_error')
        default:
          return this.pinInfoFromPin(pin, ipfs, 'unexpectedly_unpinned', UNEXPECTEDLY_UNPINNED_MESSAGE)
      }
    } catch (err) {
      log.error(`status of ${cid}: ${errorMessage(err)}`)
      const i = this.pinInfoFromPin(pin, ipfs, 'cluster_error', errorMessage(err))
      i.pinInfo.timestamp = new Date()
      return i
    }
  }

  /**
   * Status of every CID of the pinset on this peer, plus operations on CIDs
   * no longer in it (e.g. `unpinning`), streamed (upstream `StatusAll`).
   * `filter` empty = all statuses. A CID with an operation reports the
   * operation's status. When the filter needs kubo's view (`pinned`,
   * `unexpectedly_unpinned`), kubo's recursive and direct pins are read once
   * into a set of CID strings; the state itself is streamed.
   * @throws IPFSError when kubo's pins cannot be listed; state errors.
   */
  async *statusAll(filter: Set<TrackerStatus>, options: ListingOptions = {}): AsyncGenerator<PinInfo> {
    for await (const page of this.statusAllPages(filter, options)) yield* page
  }

  /**
   * `statusAll` a page of the state at a time (same items, same order; pages
   * may be empty). With `background`, paced to about half of the thread
   * (see `backgroundPacer`).
   */
  async *statusAllPages(filter: Set<TrackerStatus>, options: ListingOptions = {}): AsyncGenerator<PinInfo[]> {
    const all = filter.size === 0
    const match = (s: TrackerStatus): boolean => all || filter.has(s)
    const ipfs = await this.ipfsId(options)
    const needsState = all || filter.has('pinned') || filter.has('unexpectedly_unpinned') || filter.has('sharded') || filter.has('remote')
    if (!needsState) {
      yield [...this.optracker.getAll(filter, ipfs)]
      return
    }
    const st = await this.components.state(options)
    let kuboPins: Set<string> | undefined
    if (all || filter.has('pinned') || filter.has('unexpectedly_unpinned')) {
      kuboPins = new Set()
      try {
        for await (const p of this.components.ipfs.pinLs('recursive,direct', options)) kuboPins.add(cidString(p.cid))
      } catch (err) {
        if (err instanceof AbortError) throw err
        const e = new IPFSError(`could not get pinset from IPFS: ${errorMessage(err)}`, { cause: err })
        log.error(e.message)
        throw e
      }
    }
    const seenOps = new Set<string>()
    const pace = options.background === true ? backgroundPacer(0.5) : undefined
    const pages = st.listPages !== undefined ? st.listPages(options) : pagesOf(st.list(options))
    for await (const pins of pages) {
      if (options.signal?.aborted === true) throw new AbortError('status listing aborted')
      const out: PinInfo[] = []
      for (const pin of pins) {
        // no operation queued (the usual case of a listing): no lookup, and the
        // CID's string (the kubo pinset key) by the table encoder
        const key = cidString(pin.cid)
        const op = this.optracker.size === 0 ? undefined : this.optracker.op(pin.cid)
        if (op !== undefined) {
          seenOps.add(key)
          if (match(op.status)) out.push(this.optracker.pinInfo(op, ipfs))
          continue
        }
        // the status first: a filtered listing (recoverAll) builds no PinInfo for the rest
        let status: TrackerStatus
        if (pin.type === 'meta-pin') status = 'sharded'
        else if (isRemotePin(pin, this.init.peerId)) status = 'remote'
        else if (kuboPins?.has(key) === true) status = 'pinned'
        else status = 'unexpectedly_unpinned'
        if (!match(status)) continue
        out.push(this.pinInfoFromPin(pin, ipfs, status, status === 'unexpectedly_unpinned' ? UNEXPECTEDLY_UNPINNED_MESSAGE : ''))
      }
      yield out
      const wait = pace?.()
      if (wait !== undefined) await wait
    }
    const rest: PinInfo[] = []
    for (const info of this.optracker.getAll(filter, ipfs)) {
      if (!seenOps.has(info.cid.toString())) rest.push(info)
    }
    if (rest.length > 0) yield rest
  }

  /**
   * Re-queues every `pin_error`, `unpin_error` and `unexpectedly_unpinned`
   * item and yields their new status (upstream `RecoverAll`).
   * @throws QueueFullError (stops there), and statusAll's errors.
   */
  async *recoverAll(options: ListingOptions = {}): AsyncGenerator<PinInfo> {
    const filter = new Set<TrackerStatus>(['pin_error', 'unpin_error', 'unexpectedly_unpinned'])
    for await (const info of this.statusAll(filter, options)) {
      if (options.signal?.aborted === true) throw new AbortError('recover aborted')
      const rec = await this.recoverWithPinInfo(info, options)
      if (rec !== undefined) yield rec
    }
  }

  /**
   * Re-queues one CID if its status is `pin_error`, `unpin_error` or
   * `unexpectedly_unpinned`; returns its (new) status.
   * @throws QueueFullError
   */
  async recover(cid: CID, options: AbortOptions = {}): Promise<PinInfo> {
    const pi = await this.status(cid, options)
    return (await this.recoverWithPinInfo(pi, options)) ?? pi
  }

  private async recoverWithPinInfo(pi: PinInfo, options: AbortOptions): Promise<PinInfo | undefined> {
    switch (pi.pinInfo.status) {
      case 'pin_error':
      case 'unexpectedly_unpinned': {
        let pin: Pin
        try {
          const st = await this.components.state(options)
          pin = await st.get(pi.cid, options)
        } catch (err) {
          log.warn(`recover ${pi.cid}: ${errorMessage(err)}`)
          return this.status(pi.cid, options)
        }
        log.info(`Restarting pin operation for ${pi.cid}`)
        // a remote or meta pin is not re-pinned: track() handles them
        if (pin.type === 'meta-pin' || isRemotePin(pin, this.init.peerId)) await this.track(pin, options)
        else this.enqueue(pin, 'pin')
        break
      }
      case 'unpin_error':
        log.info(`Restarting unpin operation for ${pi.cid}`)
        this.enqueue(pinWithOpts(pi.cid, defaultPinOptions()), 'unpin')
        break
      default:
        return undefined
    }
    return this.status(pi.cid, options)
  }

  /** Number of pin operations waiting in the queues (upstream `PinQueueSize`). */
  pinQueueSize(): number {
    return this.optracker.pinQueueSize()
  }

  /** Counters of pin operations by phase (for Prometheus metrics). */
  operationCounts(): OperationCounts {
    return this.optracker.counters()
  }

  /** The AbortSignal of the current operation on a CID (upstream `OpContext`). */
  opSignal(cid: CID): AbortSignal | undefined {
    return this.optracker.op(cid)?.signal
  }
}
