/**
 * Where an upload's blocks go (upstream `adder.BlockStreamer` and the
 * `IPFSConnector.BlockStream` RPC fan-out): one {@link BlockSink} per
 * destination peer, combined by {@link fanoutBlockSink}, which, like
 * upstream, succeeds while at least one destination keeps accepting blocks.
 */
import type { AbortOptions, IPFSConnector } from '../interfaces.ts'
import { ClusterError, errorMessage } from '../errors.ts'
import { getLogger } from '../observability/logging.ts'
import type { PeerId } from '../types/index.ts'
import type { Block } from './dag.ts'

const log = getLogger('adder')

/** Blocks buffered per destination before `put` waits (backpressure). */
export const DEFAULT_SINK_CAPACITY = 16

/**
 * Takes an upload's blocks for one or more destinations.
 * `put` resolves once the block is accepted (queued; it waits while the
 * queue is full) and rejects when the destination failed; `close` ends the
 * stream and resolves once every block is stored; `abort` gives up.
 */
export interface BlockSink {
  put(block: Block, options?: AbortOptions): Promise<void>
  close(options?: AbortOptions): Promise<void>
  abort(reason: Error): void
}

/** Makes the sink for the allocated peers (`[]`: the local peer only). */
export type BlockSinkFactory = (peers: PeerId[]) => BlockSink

/**
 * All destinations failed (upstream `ErrBlockAdder`). `diskFull`: every
 * destination failed because its disk is full (`DiskFullError`; the REST
 * API answers 507 then).
 */
export class BlockAdderError extends ClusterError {
  static override name = 'BlockAdderError'
  readonly diskFull: boolean
  constructor(detail: string, options?: { cause?: unknown; diskFull?: boolean }) {
    super(`failed to put block on all destinations: ${detail}`, options)
    this.diskFull = options?.diskFull ?? false
  }
}

/** A block stream consumer, e.g. `IPFSConnector.blockStream` or a remote peer's RPC. */
export type BlockStreamConsumer = (blocks: AsyncIterable<Block>, options?: AbortOptions) => Promise<void>

/**
 * A sink that feeds a stream consumer through a bounded queue of
 * `capacity` blocks. The consumer starts at once; its failure makes the
 * following `put`/`close` reject with its error.
 */
export function streamBlockSink(consume: BlockStreamConsumer, capacity = DEFAULT_SINK_CAPACITY): BlockSink {
  const items: Block[] = []
  let closed = false
  let failure: Error | undefined
  let wakeConsumer: (() => void) | undefined
  const wakeProducers: (() => void)[] = []
  const ctrl = new AbortController()

  const notifyProducers = (): void => {
    for (const w of wakeProducers.splice(0)) w()
  }
  const notifyConsumer = (): void => {
    const w = wakeConsumer
    wakeConsumer = undefined
    w?.()
  }

  async function* source(): AsyncGenerator<Block> {
    while (true) {
      if (failure !== undefined) throw failure
      const b = items.shift()
      if (b !== undefined) {
        notifyProducers()
        yield b
        continue
      }
      if (closed) return
      await new Promise<void>((resolve) => {
        wakeConsumer = resolve
      })
    }
  }

  const done = consume(source(), { signal: ctrl.signal }).then(
    () => {
      if (!closed && failure === undefined) failure = new Error('block stream ended before the upload did')
      notifyProducers()
    },
    (err: unknown) => {
      failure ??= err instanceof Error ? err : new Error(String(err))
      notifyProducers()
    }
  )

  return {
    async put(block, options) {
      while (failure === undefined && items.length >= capacity) {
        options?.signal?.throwIfAborted()
        await new Promise<void>((resolve) => wakeProducers.push(resolve))
      }
      if (failure !== undefined) throw failure
      if (closed) throw new Error('block sink closed')
      items.push(block)
      notifyConsumer()
    },
    async close() {
      closed = true
      notifyConsumer()
      await done
      if (failure !== undefined) throw failure
    },
    abort(reason) {
      if (failure === undefined) failure = reason
      closed = true
      ctrl.abort(reason)
      notifyConsumer()
      notifyProducers()
      done.catch(() => {})
    }
  }
}

/**
 * Sends every block to all `sinks` in parallel. A destination that fails
 * is dropped with a warning; when none is left, `put`/`close` reject with
 * {@link BlockAdderError}.
 */
export function fanoutBlockSink(sinks: { peer: PeerId; sink: BlockSink }[]): BlockSink {
  const live = new Set(sinks)
  const errors: string[] = []
  let diskFull = true
  const drop = (d: { peer: PeerId; sink: BlockSink }, err: unknown): void => {
    if (!live.delete(d)) return
    if ((err as { name?: unknown } | null)?.name !== 'DiskFullError') diskFull = false
    const msg = errorMessage(err)
    errors.push(`${d.peer}: ${msg}`)
    if (live.size > 0) log.warn(`there were errors streaming blocks, but at least one destination succeeded: ${d.peer}: ${msg}`)
    else log.error(`streaming blocks: ${errors.join('; ')}`)
  }
  const check = (): void => {
    if (live.size === 0) throw new BlockAdderError(errors.join('; ') || 'no destinations', { diskFull: errors.length > 0 && diskFull })
  }
  return {
    async put(block, options) {
      check()
      if (live.size === 1) {
        const [d] = live
        if (d !== undefined) {
          try {
            await d.sink.put(block, options)
          } catch (err) {
            drop(d, err)
          }
        }
      } else {
        await Promise.all([...live].map((d) => d.sink.put(block, options).catch((err: unknown) => drop(d, err))))
      }
      check()
    },
    async close(options) {
      check()
      await Promise.all([...live].map((d) => d.sink.close(options).catch((err: unknown) => drop(d, err))))
      check()
    },
    abort(reason) {
      for (const d of live) d.sink.abort(reason)
    }
  }
}

/**
 * Turns a batch-per-call sender (e.g. the RPC `IPFSConnector.BlockStream`
 * of a remote peer: `(blocks, o) => rpcClient.blockStream(peer, blocks, o)`)
 * into a {@link BlockStreamConsumer}: blocks are grouped into batches of
 * at most `maxBlocks` blocks and `maxBytes` bytes, sent one after the other.
 */
export function batchedBlockStream(
  send: (blocks: Block[], options?: AbortOptions) => Promise<void>,
  limits: { maxBlocks?: number; maxBytes?: number } = {}
): BlockStreamConsumer {
  const maxBlocks = limits.maxBlocks ?? 64
  const maxBytes = limits.maxBytes ?? 4 * 1024 * 1024
  return async (blocks, options) => {
    let batch: Block[] = []
    let bytes = 0
    for await (const b of blocks) {
      if (batch.length > 0 && (batch.length >= maxBlocks || bytes + b.bytes.length > maxBytes)) {
        await send(batch, options)
        batch = []
        bytes = 0
      }
      batch.push(b)
      bytes += b.bytes.length
    }
    if (batch.length > 0) await send(batch, options)
  }
}

/**
 * The usual factory: the local peer's blocks go to the local IPFS daemon
 * (`ipfs.blockStream`), other peers' through `remote(peer)` (the RPC
 * `IPFSConnector.BlockStream` of that peer, see {@link batchedBlockStream}).
 * `[]` means the local peer.
 * @throws Error from the returned factory when a remote peer is allocated
 *   and no `remote` is given.
 */
export function blockSinkFactory(opts: {
  localPeer: PeerId
  ipfs: Pick<IPFSConnector, 'blockStream'>
  remote?: (peer: PeerId) => BlockStreamConsumer
  capacity?: number
}): BlockSinkFactory {
  return (peers) => {
    const dests = peers.length === 0 ? [opts.localPeer] : [...new Set(peers)]
    const sinks = dests.map((peer) => {
      if (peer === opts.localPeer) {
        return { peer, sink: streamBlockSink((blocks, o) => opts.ipfs.blockStream(blocks, o), opts.capacity) }
      }
      if (opts.remote === undefined) throw new Error(`cannot send blocks to peer ${peer}: no RPC to remote peers`)
      return { peer, sink: streamBlockSink(opts.remote(peer), opts.capacity) }
    })
    return fanoutBlockSink(sinks)
  }
}
