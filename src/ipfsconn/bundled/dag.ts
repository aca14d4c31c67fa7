/**
 * DAG helpers of the bundled IPFS node: the links of a block (dag-pb,
 * raw, dag-cbor, dag-json, json) and a concurrent DAG walk that fetches
 * blocks through a `get(cid)` function, up to a depth.
 *
 * Helia's own walkers (`@helia/utils`) fetch one block at a time; this walk
 * keeps up to `concurrency` block requests in flight (breadth-first order),
 * which matters for large DAGs fetched over bitswap.
 */
import * as dagCbor from '@ipld/dag-cbor'
import * as dagJson from '@ipld/dag-json'
import * as dagPb from '@ipld/dag-pb'
import { CID } from 'multiformats/cid'
import { IPFSError } from '../../errors.ts'
import { blockKey } from './blockstore.ts'

const RAW = 0x55
const DAG_PB = 0x70
const DAG_CBOR = 0x71
const DAG_JSON = 0x0129
const JSON_CODE = 0x0200
const LIBP2P_KEY = 0x72

function cborLinks(value: unknown, out: CID[]): void {
  const c = CID.asCID(value)
  if (c !== null) {
    out.push(c)
    return
  }
  if (Array.isArray(value)) {
    for (const v of value) cborLinks(v, out)
    return
  }
  if (value !== null && typeof value === 'object' && !(value instanceof Uint8Array)) {
    for (const v of Object.values(value)) cborLinks(v, out)
  }
}

/**
 * The CIDs a block links to, in order.
 * @throws IPFSError for a codec the bundled node cannot read, or a block that does not decode
 */
export function blockLinks(cid: CID, bytes: Uint8Array): CID[] {
  try {
    switch (cid.code) {
      case RAW:
      case JSON_CODE:
      case LIBP2P_KEY:
        return []
      case DAG_PB:
        return dagPb.decode(bytes).Links.map((l) => l.Hash)
      case DAG_CBOR: {
        const out: CID[] = []
        cborLinks(dagCbor.decode(bytes), out)
        return out
      }
      case DAG_JSON: {
        const out: CID[] = []
        cborLinks(dagJson.decode(bytes), out)
        return out
      }
    }
  } catch (err) {
    throw new IPFSError(`bundled IPFS: cannot decode block ${cid}: ${(err as Error).message}`, { cause: err })
  }
  throw new IPFSError(`bundled IPFS: unsupported codec 0x${cid.code.toString(16)} of block ${cid}`)
}

export interface WalkOptions {
  /** -1 = whole DAG, 0 = the root only, N = N levels of links below the root. */
  maxDepth: number
  /** Block requests in flight at once (>= 1). */
  concurrency: number
  signal?: AbortSignal
  /** Called once per block obtained (fetched or already local). */
  onBlock?: (cid: CID, bytes: Uint8Array) => void
  /** Called for a block that could not be obtained or decoded; the walk goes on without its links (otherwise it fails). */
  onSkip?: (cid: CID, err: unknown) => void
}

/**
 * Walks the DAG under `root`, obtaining each block with `get` (each block
 * once, keyed by multihash), `concurrency` at a time. Resolves once every
 * block down to `maxDepth` was obtained; rejects with the first failure
 * (the other requests are aborted through the signal given to `get`).
 */
export async function walkDag(
  root: CID,
  get: (cid: CID, signal: AbortSignal) => Promise<Uint8Array>,
  options: WalkOptions
): Promise<number> {
  const stop = new AbortController()
  const signal = options.signal !== undefined ? AbortSignal.any([options.signal, stop.signal]) : stop.signal
  const seen = new Set<string>()
  const queue: { cid: CID; depth: number }[] = [{ cid: root, depth: 0 }]
  seen.add(blockKey(root))
  let inflight = 0
  let count = 0
  let failure: unknown
  const concurrency = Math.max(1, options.concurrency)
  await new Promise<void>((resolve) => {
    const pump = (): void => {
      if (failure !== undefined) {
        if (inflight === 0) resolve()
        return
      }
      while (inflight < concurrency && queue.length > 0) {
        const item = queue.shift()!
        inflight++
        get(item.cid, signal).then(
          (bytes) => {
            inflight--
            count++
            options.onBlock?.(item.cid, bytes)
            if (options.maxDepth < 0 || item.depth < options.maxDepth) {
              try {
                for (const l of blockLinks(item.cid, bytes)) {
                  const k = blockKey(l)
                  if (seen.has(k)) continue
                  seen.add(k)
                  queue.push({ cid: l, depth: item.depth + 1 })
                }
              } catch (err) {
                if (options.onSkip !== undefined) options.onSkip(item.cid, err)
                else {
                  failure ??= err
                  stop.abort()
                }
              }
            }
            pump()
          },
          (err: unknown) => {
            inflight--
            if (options.onSkip !== undefined && !signal.aborted) options.onSkip(item.cid, err)
            else {
              failure ??= err
              stop.abort()
            }
            pump()
          }
        )
      }
      if (inflight === 0 && queue.length === 0) resolve()
    }
    pump()
  })
  if (failure !== undefined) throw failure
  return count
}
