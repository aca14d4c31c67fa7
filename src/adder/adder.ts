/**
 * The cluster adder (upstream `adder/adder.go` + `adder/single`): builds the
 * DAG of an upload (UnixFS, or the blocks of a CAR), streams its blocks to
 * the IPFS daemons of the allocated peers, then pins the root through the
 * cluster with those allocations preset. Nothing is pinned when anything
 * fails (bad input, an IPFS daemon down, the client gone).
 */
import type { CID } from 'multiformats/cid'
import { AbortError, errorMessage, InvalidArgumentError } from '../errors.ts'
import type { AbortOptions, IPFSConnector } from '../interfaces.ts'
import { getLogger } from '../observability/logging.ts'
import { collectGarbage } from '../runtime/gc.ts'
import type { AddedOutput, PeerId, Pin, PinOptions } from '../types/index.ts'
import { importCar } from './car.ts'
import { type AddEntry, type Block, buildUnixfs } from './dag.ts'
import type { AddParams } from './params.ts'
import { type BlockSink, type BlockSinkFactory, blockSinkFactory } from './sink.ts'

const log = getLogger('adder')

/** A progress line is sent every this many bytes of a file (and at its end). */
export const PROGRESS_INCREMENT = 256 * 1024

/**
 * A garbage collection is asked for after every this many bytes of blocks
 * (see `src/runtime/gc.ts`): the copies an upload makes are dead at once,
 * but the runtime would otherwise let hundreds of MB of them accumulate.
 */
export const GC_EVERY_BYTES = 32 * 1024 * 1024
const GC_SYNC = true

/** What the adder uses of the peer. */
export interface AdderComponents {
  /** this cluster peer's ID. */
  localPeer: PeerId
  /** the local IPFS daemon (used by the default `blockSinks`). */
  ipfs: Pick<IPFSConnector, 'blockStream'>
  /**
   * Chooses the peers that get the blocks and the pin (upstream
   * `Cluster.BlockAllocate`); `[]` means everywhere.
   */
  allocate: (cid: CID | null, opts: PinOptions, options?: AbortOptions) => Promise<PeerId[]>
  /** Makes the block sink of the chosen peers; default: only the local peer is reachable. */
  blockSinks?: BlockSinkFactory
  /** Pins the root with `allocations` preset (upstream `Cluster.Pin` of the adder). */
  pin: (cid: CID, opts: PinOptions & { allocations: PeerId[] }, options?: AbortOptions) => Promise<Pin>
}

/** A progress line: `bytes` of file `name` read so far (no CID). */
export interface AddProgress {
  name: string
  bytes: number
  cid?: undefined
}

/** One line of `/add` output: a progress line or an added node. */
export type AddOutput = AddedOutput | AddProgress

/** Result of a finished add. */
export interface AddResult {
  root: CID
  allocations: PeerId[]
  pinned: boolean
}

/**
 * Where an add's blocks go and what its pin is allocated to: `dests`, the
 * pin's allocations (`[]`: everywhere, for replication -1), `sinkPeers`, the
 * peers whose IPFS daemons get the blocks (`[]`: the local one).
 */
export interface AddDestinations {
  dests: PeerId[]
  sinkPeers: PeerId[]
}

/**
 * Asks `components.allocate` for an add's destinations (upstream
 * `adder.go` with `single/dag_service.go`): with `local`, only the local
 * peer gets the blocks and, unless user allocations are given, it takes
 * the last allocation slot.
 */
export async function destinationsOf(params: AddParams, components: Pick<AdderComponents, 'allocate' | 'localPeer'>, options: AbortOptions = {}): Promise<AddDestinations> {
  let dests = [...(await components.allocate(null, pinOptionsOf(params), options))]
  let sinkPeers = dests
  if (params.local) {
    if (!dests.includes(components.localPeer) && dests.length > 0 && params.userAllocations.length === 0) {
      dests[dests.length - 1] = components.localPeer
    }
    sinkPeers = [components.localPeer]
  }
  if (params.replicationFactorMin < 0) dests = []
  return { dests, sinkPeers }
}

export function pinOptionsOf(p: AddParams): PinOptions {
  return {
    replicationFactorMin: p.replicationFactorMin,
    replicationFactorMax: p.replicationFactorMax,
    name: p.name,
    mode: 'recursive',
    shardSize: p.shardSize,
    userAllocations: p.userAllocations,
    expireAt: p.expireAt,
    metadata: p.metadata,
    pinUpdate: null,
    origins: p.origins
  }
}

/** Counts a file's bytes as they are read, reporting every {@link PROGRESS_INCREMENT} and at the end. */
async function* counting(content: AsyncIterable<Uint8Array>, report: (bytes: number) => void): AsyncGenerator<Uint8Array> {
  let bytes = 0
  let last = 0
  for await (const chunk of content) {
    bytes += chunk.length
    if (bytes - last >= PROGRESS_INCREMENT) {
      last = bytes
      report(bytes)
    }
    yield chunk
  }
  if (bytes !== last || bytes === 0) report(bytes)
}

/**
 * Adds an upload and yields upstream's `AddedOutput` lines as they happen:
 * progress lines `{name, bytes}` (with `progress`), then one line per file,
 * symlink and directory `{name, cid, size, allocations}` (directories after
 * their contents, the root last); for a CAR one line `{name, cid: root,
 * bytes, size}`. Once every block is stored in every reachable destination
 * the root is pinned (unless `noPin`), and `onDone` gets the result.
 *
 * Closing the generator early aborts the add (nothing is pinned).
 * `options.destinations`: already chosen (else asked of `allocate`).
 * @param entries the upload in order (a CAR upload: its first entry, a file)
 * @throws InvalidArgumentError (bad options, bad CAR, an empty upload),
 *   BlockAdderError, IPFSError, AbortError, errors of `allocate` and `pin`.
 */
export async function* addEntries(
  entries: AsyncIterable<AddEntry>,
  params: AddParams,
  components: AdderComponents,
  options: AbortOptions & { onDone?: (r: AddResult) => void; destinations?: AddDestinations } = {}
): AsyncGenerator<AddOutput> {
  const ctrl = new AbortController()
  const outer = options.signal
  const onOuterAbort = (): void => ctrl.abort(outer?.reason)
  if (outer?.aborted === true) ctrl.abort(outer.reason)
  outer?.addEventListener('abort', onOuterAbort, { once: true })
  const signal = ctrl.signal

  // outputs flow through a queue so progress lines interleave with the work
  const queue: AddOutput[] = []
  let finished = false
  let failure: unknown
  let wake: (() => void) | undefined
  const emit = (o: AddOutput): void => {
    queue.push(o)
    const w = wake
    wake = undefined
    w?.()
  }

  const work = (async (): Promise<void> => {
    const pinOpts = pinOptionsOf(params)
    const { dests, sinkPeers } = options.destinations ?? (await destinationsOf(params, components, { signal }))
    const allocations = dests.length > 0 ? dests : undefined
    const factory = components.blockSinks ?? blockSinkFactory({ localPeer: components.localPeer, ipfs: components.ipfs })
    const sink: BlockSink = factory(sinkPeers)
    let sinceGc = 0
    const put = (b: Block, o?: AbortOptions): Promise<void> => {
      sinceGc += b.bytes.length
      if (sinceGc >= GC_EVERY_BYTES) {
        sinceGc = 0
        collectGarbage(GC_SYNC)
      }
      return sink.put(b, o)
    }
    let root: CID | undefined
    try {
      if (params.format === 'car') {
        // the first entry only (upstream reads one CAR); not a for-await with
        // break, which would close the upload before the CAR is read
        const entryIt = entries[Symbol.asyncIterator]()
        const firstRes = await entryIt.next()
        const first: AddEntry | undefined = firstRes.done === true ? undefined : firstRes.value
        if (first === undefined) throw new InvalidArgumentError('no CAR file in the upload')
        if (params.wrap) throw new InvalidArgumentError('cannot wrap a CAR file upload')
        if (first.kind !== 'file') throw new InvalidArgumentError('expected CAR file is not of type file')
        const r = await importCar(first.content, put, { signal })
        await entryIt.return?.(undefined)
        root = r.root
        await sink.close({ signal })
        emit({ name: first.path, cid: r.root, bytes: r.bytes, size: r.size, ...(allocations ? { allocations } : {}) })
      } else {
        async function* withProgress(): AsyncGenerator<AddEntry> {
          for await (const e of entries) {
            if (e.kind === 'file' && params.progress) {
              const name = e.path
              yield { ...e, content: counting(e.content, (bytes) => emit({ name, bytes })) }
            } else yield e
          }
        }
        const pending: AddedOutput[] = []
        let topLevel: CID | undefined
        for await (const r of buildUnixfs(withProgress(), params, put, { signal })) {
          const out: AddedOutput = { name: r.path, cid: r.cid, size: r.size, ...(allocations ? { allocations } : {}) }
          if (!r.path.includes('/')) topLevel = r.cid
          // upstream prints the lines after the blocks are handed over; only the
          // root's line waits for the last block to be stored
          pending.push(out)
          while (pending.length > 1) emit(pending.shift() as AddOutput)
        }
        if (topLevel === undefined) throw new InvalidArgumentError('no files in the upload')
        root = topLevel
        await sink.close({ signal })
        for (const o of pending) emit(o)
      }
    } catch (err) {
      sink.abort(err instanceof Error ? err : new Error(String(err)))
      throw err
    }
    let pinned = false
    if (!params.noPin) {
      await components.pin(root, { ...pinOpts, allocations: dests }, { signal })
      pinned = true
      log.info(`${root.toString()} successfully added to cluster`)
    } else log.info(`${root.toString()} added (not pinned: no-pin)`)
    options.onDone?.({ root, allocations: dests, pinned })
  })().then(
    () => {
      finished = true
      wake?.()
    },
    (err: unknown) => {
      // once the request is cancelled, whatever broke first is a consequence
      failure = signal.aborted ? new AbortError('add aborted: the request was cancelled (the client went away?)') : err
      finished = true
      wake?.()
    }
  )

  try {
    while (true) {
      const o = queue.shift()
      if (o !== undefined) {
        yield o
        continue
      }
      if (finished) break
      await new Promise<void>((resolve) => {
        wake = resolve
      })
    }
    if (failure !== undefined) {
      log.error(`error adding to cluster: ${errorMessage(failure)}`)
      throw failure
    }
  } finally {
    outer?.removeEventListener('abort', onOuterAbort)
    if (!finished) {
      ctrl.abort(new AbortError('add aborted: the client went away'))
      await work
      log.warn(`add aborted, nothing pinned: ${failure instanceof Error ? failure.message : 'the client went away'}`)
    }
  }
}
