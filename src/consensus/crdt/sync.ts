/**
 * A DAG catch-up protocol between cluster peers (TypeScript peers only; no
 * upstream counterpart: go-ds-crdt fetches every missing node through
 * bitswap, one round trip each).
 *
 * Protocol `/ipfs-cluster/crdt-dag/1.0.0` on the cluster host, one request
 * per stream, every frame unsigned-varint length prefixed:
 * - request: one msgpack frame `{ c: <CID bytes>, n: <max blocks>, h: [<CID bytes>…] }`
 *   (`h`: the requester's heads; the server does not walk below them);
 * - response: block frames (raw block bytes), walking the DAG breadth-first
 *   from `c`, at most `n` blocks (server cap 4096) and about 16 MiB, then an
 *   empty frame marking the end.
 *
 * A request `{ q: 'heads' }` is answered with one msgpack frame
 * `{ h: [<CID bytes>…] }` (the server's heads, at most 256) and the empty
 * end frame: a joining peer asks for them instead of waiting for the next
 * rebroadcast.
 *
 * The requester verifies every block: the first must hash to `c`, each
 * following one to a link of a block already received; anything else ends
 * the exchange. Only trusted peers are served and asked.
 */
import type { Libp2p, PeerId as Libp2pPeerId, Stream } from '@libp2p/interface'
import { lpStream } from '@libp2p/utils'
import { decode, encode } from '@msgpack/msgpack'
import * as dagPB from '@ipld/dag-pb'
import { CID } from 'multiformats/cid'
import { sha256 } from 'multiformats/hashes/sha2'
import type { AbortOptions } from '../../interfaces.ts'
import { getLogger } from '../../observability/logging.ts'
import type { CrdtBlockstore } from './dag.ts'
import { errorMessage } from '../../errors.ts'

const log = getLogger('crdt')

/** The protocol id of the DAG catch-up exchange. */
export const DAG_SYNC_PROTOCOL = '/ipfs-cluster/crdt-dag/1.0.0'

/** Most blocks one response carries. */
export const DAG_SYNC_MAX_BLOCKS = 4096
/** About the most bytes one response carries (the block crossing it is still sent). */
export const DAG_SYNC_MAX_BYTES = 16 * 1024 * 1024
/** Largest frame accepted (a block). */
const MAX_FRAME = 4 * 1024 * 1024
/**
 * The read buffer of a sync stream: a whole response (its blocks, the one
 * crossing DAG_SYNC_MAX_BYTES and the prefixes), which the server sends
 * without waiting while the asker stores blocks as it goes. libp2p's 4 MiB
 * default overflowed when storing was slower than the network.
 */
const LP_OPTIONS = { maxDataLength: MAX_FRAME, maxBufferSize: DAG_SYNC_MAX_BYTES + 2 * MAX_FRAME }

export interface DagSyncInit {
  /** whether a peer may be asked and served. */
  isTrusted: (peerId: string) => boolean
  /** blocks asked per request (default 4096). */
  maxBlocks?: number
  /** ms for one exchange with one peer (default 30 s). */
  timeoutMs?: number
  /** peers tried per missing block (default 3). */
  maxPeers?: number
}

export interface DagSyncComponents {
  libp2p: Libp2p
  blockstore: CrdtBlockstore
  /** the local heads (the server stops there); default none. */
  heads?: (options?: AbortOptions) => Promise<CID[]>
}

export interface DagSyncStats {
  /** blocks received, verified and stored through the protocol. */
  blocksReceived: number
  /** blocks sent to other peers. */
  blocksServed: number
  /** requests that produced the asked block. */
  requestsOk: number
  /** requests that failed or did not produce it. */
  requestsFailed: number
  /** heads obtained with `heads()`. */
  headsPulled: number
}

export interface DagSync {
  readonly stats: DagSyncStats
  /** Registers the protocol handler (idempotent). */
  start(): Promise<void>
  /** Unregisters it and aborts exchanges in flight (idempotent). */
  stop(): Promise<void>
  /**
   * Asks trusted connected peers that speak the protocol for `cid` and the
   * DAG below it; stores every verified block. Returns the bytes of `cid`,
   * or undefined when no peer produced it.
   */
  fetch(cid: CID, options?: AbortOptions): Promise<Uint8Array | undefined>
  /** The heads of `peer` (trusted, speaking the protocol). @throws on stream errors. */
  heads(peer: Libp2pPeerId, options?: AbortOptions): Promise<CID[]>
}

interface Request {
  q?: string
  c: Uint8Array
  n: number
  h: Uint8Array[]
}

const mhKey = (cid: CID): string => {
  const b = cid.multihash.bytes
  let s = ''
  for (let i = 0; i < b.length; i++) s += String.fromCharCode(b[i]!)
  return s
}

function linksOf(bytes: Uint8Array): CID[] {
  try {
    return dagPB.decode(bytes).Links.map((l) => l.Hash)
  } catch {
    return []
  }
}

function parseRequest(data: Uint8Array): Request {
  const r = decode(data) as Partial<Request> | null
  if (r !== null && typeof r === 'object' && r.q === 'heads') return { q: 'heads', c: new Uint8Array(0), n: 0, h: [] }
  if (r === null || typeof r !== 'object' || !(r.c instanceof Uint8Array)) throw new Error('malformed dag sync request')
  const n = typeof r.n === 'number' && Number.isFinite(r.n) ? Math.max(1, Math.min(DAG_SYNC_MAX_BLOCKS, Math.floor(r.n))) : DAG_SYNC_MAX_BLOCKS
  const h = Array.isArray(r.h) ? r.h.filter((x): x is Uint8Array => x instanceof Uint8Array).slice(0, 1024) : []
  return { c: r.c, n, h }
}

/** The catch-up protocol, client and server (see the module doc). */
export function createDagSync(init: DagSyncInit, components: DagSyncComponents): DagSync {
  const { libp2p, blockstore } = components
  const maxBlocks = Math.max(1, Math.min(DAG_SYNC_MAX_BLOCKS, init.maxBlocks ?? DAG_SYNC_MAX_BLOCKS))
  const timeoutMs = init.timeoutMs ?? 30_000
  const maxPeers = init.maxPeers ?? 3
  const stats: DagSyncStats = { blocksReceived: 0, blocksServed: 0, requestsOk: 0, requestsFailed: 0, headsPulled: 0 }
  let controller: AbortController | undefined
  /** peers that refused the protocol: not asked again for a while */
  const unsupported = new Map<string, number>()

  async function serve(stream: Stream, peer: string, signal: AbortSignal): Promise<void> {
    if (!init.isTrusted(peer)) {
      log.debug(`dag sync: refusing untrusted peer ${peer}`)
      stream.abort(new Error('not trusted'))
      return
    }
    const lp = lpStream(stream, LP_OPTIONS)
    const opts = { signal: AbortSignal.any([signal, AbortSignal.timeout(timeoutMs)]) }
    const req = parseRequest((await lp.read(opts)).subarray())
    if (req.q === 'heads') {
      const heads = (await components.heads?.(opts)) ?? []
      await lp.writeV([encode({ h: heads.slice(0, 256).map((h) => h.bytes) }), new Uint8Array(0)], opts)
      await stream.close(opts).catch(() => {})
      return
    }
    const stop = new Set(req.h.map((b) => mhKey(CID.decode(b))))
    const root = CID.decode(req.c)
    const queue: CID[] = [root]
    const seen = new Set<string>([mhKey(root)])
    let sent = 0
    let bytes = 0
    let pending: Uint8Array[] = []
    for (let i = 0; i < queue.length && sent < req.n && bytes < DAG_SYNC_MAX_BYTES; i++) {
      const cid = queue[i]!
      let block: Uint8Array
      try {
        block = await blockstore.get(cid, opts)
      } catch {
        if (i === 0) break // we do not have the root either
        continue
      }
      pending.push(block)
      sent++
      bytes += block.length
      for (const l of linksOf(block)) {
        const k = mhKey(l)
        if (seen.has(k) || stop.has(k)) continue
        seen.add(k)
        queue.push(l)
      }
      if (pending.length >= 64) {
        await lp.writeV(pending, opts)
        pending = []
      }
    }
    pending.push(new Uint8Array(0))
    await lp.writeV(pending, opts)
    stats.blocksServed += sent
    await stream.close(opts).catch(() => {})
  }

  async function ask(peer: Libp2pPeerId, cid: CID, signal: AbortSignal): Promise<Uint8Array | undefined> {
    const heads = (await components.heads?.({ signal }).catch(() => [])) ?? []
    const stream = await libp2p.dialProtocol(peer, DAG_SYNC_PROTOCOL, { signal })
    try {
      const lp = lpStream(stream, LP_OPTIONS)
      await lp.write(encode({ c: cid.bytes, n: maxBlocks, h: heads.map((h) => h.bytes) }), { signal })
      const expected = new Set<string>([mhKey(cid)])
      let root: Uint8Array | undefined
      let batch: Array<{ cid: CID; bytes: Uint8Array }> = []
      for (let i = 0; i <= maxBlocks; i++) {
        const block = (await lp.read({ signal })).subarray()
        if (block.length === 0) break
        const digest = await sha256.digest(block)
        const got = CID.createV1(dagPB.code, digest)
        const k = mhKey(got)
        if (!expected.has(k)) throw new Error(`unexpected block ${got.toString()}`)
        expected.delete(k)
        if (root === undefined) root = block
        batch.push({ cid: got, bytes: block })
        for (const l of linksOf(block)) expected.add(mhKey(l))
        if (batch.length >= 256) {
          await blockstore.putMany(batch, { signal })
          stats.blocksReceived += batch.length
          batch = []
        }
      }
      if (batch.length > 0) {
        await blockstore.putMany(batch, { signal })
        stats.blocksReceived += batch.length
      }
      await stream.close({ signal }).catch(() => {})
      return root
    } catch (err) {
      stream.abort(err instanceof Error ? err : new Error(String(err)))
      throw err
    }
  }

  function candidates(): Libp2pPeerId[] {
    const now = Date.now()
    const out: Libp2pPeerId[] = []
    const seen = new Set<string>()
    for (const conn of libp2p.getConnections()) {
      const id = conn.remotePeer
      const s = id.toString()
      if (seen.has(s)) continue
      seen.add(s)
      if (!init.isTrusted(s)) continue
      const until = unsupported.get(s)
      if (until !== undefined && until > now) continue
      out.push(id)
    }
    return out
  }

  return {
    stats,
    async heads(peer: Libp2pPeerId, options?: AbortOptions): Promise<CID[]> {
      const c = controller
      if (c === undefined) return []
      const signal = AbortSignal.any([c.signal, AbortSignal.timeout(timeoutMs), ...(options?.signal !== undefined ? [options.signal] : [])])
      const stream = await libp2p.dialProtocol(peer, DAG_SYNC_PROTOCOL, { signal })
      try {
        const lp = lpStream(stream, LP_OPTIONS)
        await lp.write(encode({ q: 'heads' }), { signal })
        const r = decode((await lp.read({ signal })).subarray()) as { h?: unknown } | null
        await stream.close({ signal }).catch(() => {})
        const out: CID[] = []
        if (r !== null && typeof r === 'object' && Array.isArray(r.h)) {
          for (const b of r.h.slice(0, 256)) if (b instanceof Uint8Array) out.push(CID.decode(b))
        }
        stats.headsPulled += out.length
        return out
      } catch (err) {
        stream.abort(err instanceof Error ? err : new Error(String(err)))
        throw err
      }
    },
    async start(): Promise<void> {
      if (controller !== undefined) return
      const c = new AbortController()
      controller = c
      await libp2p.handle(
        DAG_SYNC_PROTOCOL,
        (stream, connection) => {
          serve(stream, connection.remotePeer.toString(), c.signal).catch((err: unknown) => {
            log.debug(`dag sync: serving ${connection.remotePeer.toString()}: ${errorMessage(err)}`)
            stream.abort(err instanceof Error ? err : new Error(String(err)))
          })
        },
        { maxInboundStreams: 32, maxOutboundStreams: 32 }
      )
    },
    async stop(): Promise<void> {
      const c = controller
      if (c === undefined) return
      controller = undefined
      c.abort(new Error('dag sync stopped'))
      await libp2p.unhandle(DAG_SYNC_PROTOCOL).catch(() => {})
    },
    async fetch(cid: CID, options?: AbortOptions): Promise<Uint8Array | undefined> {
      const c = controller
      if (c === undefined) return undefined
      const peers = candidates()
      let tried = 0
      for (const peer of peers) {
        if (tried >= maxPeers) break
        options?.signal?.throwIfAborted()
        // prefer peers known to speak the protocol; skip those known not to
        try {
          const p = await libp2p.peerStore.get(peer)
          if (p.protocols.length > 0 && !p.protocols.includes(DAG_SYNC_PROTOCOL)) {
            unsupported.set(peer.toString(), Date.now() + 60_000)
            continue
          }
        } catch {
          // unknown to the peer store: try anyway
        }
        tried++
        const signal = AbortSignal.any([c.signal, AbortSignal.timeout(timeoutMs), ...(options?.signal !== undefined ? [options.signal] : [])])
        try {
          const got = await ask(peer, cid, signal)
          if (got !== undefined) {
            stats.requestsOk++
            return got
          }
          stats.requestsFailed++
        } catch (err) {
          stats.requestsFailed++
          if (options?.signal?.aborted === true) throw err
          if (err instanceof Error && err.name === 'UnsupportedProtocolError') unsupported.set(peer.toString(), Date.now() + 60_000)
          log.debug(`dag sync: ${cid.toString()} from ${peer.toString()}: ${errorMessage(err)}`)
        }
      }
      return undefined
    }
  }
}
