/**
 * How Raft messages travel between cluster peers: the libp2p protocol
 * `/ipfs-cluster-ts/raft/1.0.0` on the cluster host (ours: Go peers do not
 * speak it). One long-lived outbound stream per peer carries that peer's
 * messages one way, each frame unsigned-varint length prefixed and holding
 * one msgpack message (./codec.ts); answers come back on the other peer's
 * own stream. Raft tolerates loss, so a failed stream drops what was queued
 * and the next message dials again (at most `networkTimeoutMs` per dial and
 * write, upstream `network_timeout`).
 *
 * Inbound frames that do not decode, or whose sender is not the stream's
 * remote peer, are dropped and logged (rate-limited per peer); a frame over
 * `maxFrameBytes` ends the stream. A frame is read whole, so the read
 * buffer holds up to `maxFrameBytes` (libp2p's default of 4 MiB failed every
 * snapshot larger than that: the stream overflowed and the follower never
 * got it).
 */
import type { Libp2p, Stream } from '@libp2p/interface'
import { peerIdFromString } from '@libp2p/peer-id'
import { lpStream } from '@libp2p/utils'
import { errorMessage } from '../../errors.ts'
import { getLogger } from '../../observability/logging.ts'
import { decodeMessage, encodeMessage } from './codec.ts'
import type { RaftMessage } from './types.ts'

const log = getLogger('raft')

/** The protocol id of our Raft transport. */
export const RAFT_PROTOCOL = '/ipfs-cluster-ts/raft/1.0.0'

/** Moves messages between servers; `send` never throws (a lost message is normal in Raft). */
export interface RaftTransport {
  start(onMessage: (m: RaftMessage) => void): Promise<void>
  stop(): Promise<void>
  send(m: RaftMessage): void
}

export interface Libp2pRaftTransportInit {
  /** ms for one dial or one write (upstream `network_timeout`) */
  networkTimeoutMs: number
  /** largest frame read (a snapshot travels in one frame); default 256 MiB */
  maxFrameBytes?: number
  /** most messages queued per peer before the oldest are dropped; default 4096 */
  maxQueue?: number
}

interface Outbound {
  queue: Uint8Array[]
  busy: boolean
  stream: Stream | undefined
  lp: ReturnType<typeof lpStream> | undefined
}

/** The Raft transport over the cluster host. */
export function libp2pRaftTransport(init: Libp2pRaftTransportInit, components: { libp2p: Libp2p }): RaftTransport & { readonly dropped: number } {
  const { libp2p } = components
  const maxFrame = init.maxFrameBytes ?? 256 * 1024 * 1024
  // the read buffer holds a whole frame (a snapshot is one): libp2p's default (4 MiB) failed every bigger one
  const lpOptions = { maxDataLength: maxFrame, maxBufferSize: maxFrame + 1024 * 1024 }
  const maxQueue = init.maxQueue ?? 4096
  const out = new Map<string, Outbound>()
  let controller: AbortController | undefined
  let deliver: ((m: RaftMessage) => void) | undefined
  let dropped = 0
  const lastWarn = new Map<string, number>()

  const warn = (peer: string, what: string) => {
    dropped++
    const now = Date.now()
    if ((lastWarn.get(peer) ?? 0) + 10_000 > now) return
    lastWarn.set(peer, now)
    log.warn(`dropping a malformed raft message from ${peer}: ${what}`)
  }

  const serve = async (stream: Stream, remote: string, signal: AbortSignal) => {
    const lp = lpStream(stream, lpOptions)
    while (!signal.aborted) {
      let frame: Uint8Array
      try {
        frame = (await lp.read({ signal })).subarray()
      } catch (err) {
        if (!signal.aborted) log.debug(`raft stream from ${remote} ended: ${errorMessage(err)}`)
        break
      }
      let m: RaftMessage
      try {
        m = decodeMessage(frame)
      } catch (err) {
        warn(remote, errorMessage(err))
        continue
      }
      if (m.from !== remote) {
        warn(remote, `claims to come from ${m.from}`)
        continue
      }
      deliver?.(m)
    }
    stream.abort(new Error('raft stream closed'))
  }

  const flush = async (peer: string, o: Outbound, signal: AbortSignal) => {
    o.busy = true
    try {
      while (o.queue.length > 0 && !signal.aborted) {
        const batch = o.queue.splice(0, o.queue.length)
        try {
          if (o.lp === undefined) {
            const stream = await libp2p.dialProtocol(peerIdFromString(peer), RAFT_PROTOCOL, { signal: AbortSignal.any([signal, AbortSignal.timeout(init.networkTimeoutMs)]) })
            o.stream = stream
            o.lp = lpStream(stream, lpOptions)
          }
          await o.lp.writeV(batch, { signal: AbortSignal.any([signal, AbortSignal.timeout(init.networkTimeoutMs)]) })
        } catch (err) {
          log.debug(`raft: sending to ${peer}: ${errorMessage(err)}`)
          o.stream?.abort(err instanceof Error ? err : new Error(String(err)))
          o.stream = undefined
          o.lp = undefined
          o.queue.length = 0
        }
      }
    } finally {
      o.busy = false
    }
  }

  return {
    get dropped() {
      return dropped
    },
    async start(onMessage) {
      if (controller !== undefined) return
      const c = new AbortController()
      controller = c
      deliver = onMessage
      await libp2p.handle(
        RAFT_PROTOCOL,
        (stream, connection) => {
          const remote = connection.remotePeer.toString()
          serve(stream, remote, c.signal).catch((err: unknown) => {
            log.debug(`raft: serving ${remote}: ${errorMessage(err)}`)
            stream.abort(err instanceof Error ? err : new Error(String(err)))
          })
        },
        { maxInboundStreams: 8, maxOutboundStreams: 8 }
      )
    },
    async stop() {
      const c = controller
      if (c === undefined) return
      controller = undefined
      deliver = undefined
      c.abort(new Error('raft transport stopped'))
      for (const o of out.values()) o.stream?.abort(new Error('raft transport stopped'))
      out.clear()
      await libp2p.unhandle(RAFT_PROTOCOL).catch(() => {})
    },
    send(m) {
      const c = controller
      if (c === undefined) return
      let o = out.get(m.to)
      if (o === undefined) {
        o = { queue: [], busy: false, stream: undefined, lp: undefined }
        out.set(m.to, o)
      }
      o.queue.push(encodeMessage(m))
      if (o.queue.length > maxQueue) o.queue.splice(0, o.queue.length - maxQueue)
      if (!o.busy) flush(m.to, o, c.signal).catch((err: unknown) => log.error(`raft: sending to ${m.to}: ${errorMessage(err)}`))
    }
  }
}

/** An in-process network of transports (tests): `partition` blocks pairs of peers. */
export function memoryRaftNetwork(): {
  transport(id: string): RaftTransport
  blocked: Set<string>
  isolate(id: string, on: boolean): void
} {
  const handlers = new Map<string, (m: RaftMessage) => void>()
  const blocked = new Set<string>()
  const isolated = new Set<string>()
  return {
    blocked,
    isolate(id, on) {
      if (on) isolated.add(id)
      else isolated.delete(id)
    },
    transport(id) {
      return {
        async start(onMessage) {
          handlers.set(id, onMessage)
        },
        async stop() {
          handlers.delete(id)
        },
        send(m) {
          if (isolated.has(m.from) || isolated.has(m.to) || blocked.has(`${m.from}>${m.to}`)) return
          // through the codec, as on the wire, and asynchronously
          const bytes = encodeMessage(m)
          queueMicrotask(() => {
            const h = handlers.get(m.to)
            if (h) h(decodeMessage(bytes))
          })
        }
      }
    }
  }
}
