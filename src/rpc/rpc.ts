/**
 * Typed peer-to-peer RPC over libp2p streams, the role of upstream's
 * go-libp2p-gorpc (`rpc_api.go`, `rpcutil/`), with upstream's
 * open/trusted/closed policy (`rpc_policy.go`).
 *
 * Wire format (protocol `RPC_PROTOCOL`, `/ipfscluster/1.0/rpc`): one stream
 * per call; every frame is a varint length prefix followed by a msgpack map.
 * - caller -> callee, one frame: `{ s: service, m: method, a: arg }`
 * - callee -> caller, for a unary method: `{ t: 'r', v: value }`;
 *   for a streaming method: any number of `{ t: 'b', v: [item, …] }` (items
 *   the handler had ready, up to 128 a frame; `{ t: 'i', v: item }` is also
 *   accepted) then `{ t: 'end' }`; on failure, at any point: `{ t: 'e', n: name, e: message }`.
 * Values are whatever msgpack carries (maps, arrays, strings, numbers,
 * booleans, null, Uint8Array); `services.ts` converts the cluster types to
 * upstream's JSON shapes before they travel. This is not byte-compatible
 * with gorpc (Go peers cannot call us): the cluster types keep upstream's
 * field names, the framing is this project's.
 *
 * A call whose destination is this peer runs the local handler directly,
 * without a stream, encoding or policy check (local calls are allowed
 * everything, as upstream).
 */
import { setImmediate } from 'node:timers'
import type { Connection, Stream } from '@libp2p/interface'
import { peerIdFromString } from '@libp2p/peer-id'
import { lpStream } from '@libp2p/utils'
import { decode, encode } from '@msgpack/msgpack'
import {
  AbortError,
  FollowerModeError,
  InvalidArgumentError,
  IPFSError,
  NotEnoughPeersError,
  NotFoundError,
  QueueFullError,
  UnsupportedError
} from '../errors.ts'
import { getLogger } from '../observability/logging.ts'
import type { PeerId } from '../types/index.ts'
import { RPC_PROTOCOL } from '../version.ts'
import {
  RpcKindError,
  RpcMethodNotFoundError,
  RpcRemoteError,
  RpcTimeoutError,
  RpcTransportError,
  RpcUnauthorizedError
} from './errors.ts'
import { DEFAULT_RPC_POLICY, endpointType, type RpcPolicy } from './policy.ts'

const log = getLogger('rpc')

/** Largest frame accepted (bytes). */
const MAX_FRAME_BYTES = 64 * 1024 * 1024
/** ms a callee waits for the request frame once a stream is open. */
const REQUEST_READ_TIMEOUT_MS = 30_000

/** What a handler learns about the call. */
export interface RpcContext {
  /** the calling peer (this peer for local calls). */
  peer: PeerId
  /** true when called by this peer itself, without a stream. */
  local: boolean
  /** aborted when the caller goes away, times out, or the RPC stops. */
  signal: AbortSignal
}

/**
 * A method implementation. Return a value (or a Promise of one) for a
 * unary method, an `AsyncIterable` (e.g. an async generator) for a
 * streaming one. `arg` and the results must be msgpack-encodable.
 */
export type RpcHandler = (arg: unknown, ctx: RpcContext) => unknown

export interface RpcCallOptions {
  signal?: AbortSignal
  /**
   * ms. Unary calls: the whole call (dial included) must answer within it.
   * Streams: the first item and every next one must arrive within it (an
   * idle timeout). 0 = no timeout. Default: the RPC's `defaultTimeoutMs`.
   */
  timeoutMs?: number
}

/** One peer's outcome in `multiCall`. */
export type RpcMultiResult<T = unknown> = { peer: PeerId; ok: true; value: T } | { peer: PeerId; ok: false; error: Error }

/** The part of a libp2p node the RPC uses. */
export interface RpcLibp2p {
  handle(protocol: string, handler: (stream: Stream, connection: Connection) => void | Promise<void>, options?: { maxInboundStreams?: number; maxOutboundStreams?: number }): Promise<void>
  unhandle(protocol: string): Promise<void>
  dialProtocol(peer: ReturnType<typeof peerIdFromString>, protocol: string, options?: { signal?: AbortSignal }): Promise<Stream>
}

export interface RpcInit {
  /** this peer. */
  peerId: PeerId
  /** default `DEFAULT_RPC_POLICY`. */
  policy?: RpcPolicy
  /** default `RPC_PROTOCOL`. */
  protocol?: string
  /** ms; default timeout of calls that give none (default 60 000). */
  defaultTimeoutMs?: number
  /** concurrent inbound/outbound RPC streams per connection (default 256). */
  maxStreams?: number
}

export interface RpcComponents {
  /** the cluster host; without it only local calls work. */
  libp2p?: RpcLibp2p
  /** whether a remote peer may call `trusted` methods. */
  isTrusted: (peer: PeerId) => boolean
}

/** The calling side of the RPC, what components that call other peers need. */
export interface RpcClient {
  readonly peerId: PeerId
  /**
   * Calls a unary method on `peer`.
   * @throws RpcUnauthorizedError, RpcMethodNotFoundError, RpcTimeoutError,
   * RpcTransportError, RpcKindError, AbortError, or the remote error
   * (NotFoundError, InvalidArgumentError, IPFSError, … by name; else RpcRemoteError).
   */
  call(peer: PeerId, service: string, method: string, arg: unknown, options?: RpcCallOptions): Promise<unknown>
  /** Calls a streaming method; same errors as `call`, thrown from the iteration. */
  callStream(peer: PeerId, service: string, method: string, arg: unknown, options?: RpcCallOptions): AsyncGenerator<unknown>
  /** `call` on every peer concurrently, each with its own timeout; never throws for a peer's failure. Results in `peers` order. */
  multiCall(peers: PeerId[], service: string, method: string, arg: unknown, options?: RpcCallOptions): Promise<RpcMultiResult[]>
}

type Frame = { t: 'r'; v: unknown } | { t: 'i'; v: unknown } | { t: 'b'; v: unknown[] } | { t: 'end' } | { t: 'e'; n: string; e: string }

/** Items per `b` frame at most. */
const BATCH_MAX_ITEMS = 128
const PENDING = Symbol('pending')

/** Resolves with `p`'s result if it settles before the next macrotask, else with PENDING. */
function settledSoon<T>(p: Promise<T>): Promise<T | typeof PENDING> {
  return Promise.race([p, new Promise<typeof PENDING>((resolve) => setImmediate(() => resolve(PENDING)))])
}

/**
 * Sends the items of a handler's stream in `b` frames: items already
 * available are grouped (up to BATCH_MAX_ITEMS); as soon as the source
 * makes us wait, what is gathered is sent, so a slow source still streams
 * item by item.
 */
async function sendStream(source: AsyncIterable<unknown>, sendBatch: (items: unknown[]) => Promise<void>): Promise<void> {
  const it = source[Symbol.asyncIterator]()
  let batch: unknown[] = []
  let next = it.next()
  try {
    for (;;) {
      const r = batch.length === 0 ? await next : await settledSoon(next)
      if (r === PENDING) {
        await sendBatch(batch)
        batch = []
        continue
      }
      if (r.done === true) break
      batch.push(r.value)
      next = it.next()
      if (batch.length >= BATCH_MAX_ITEMS) {
        await sendBatch(batch)
        batch = []
        // let I/O (e.g. the caller's reset) through: a fast source never waits otherwise
        await new Promise<void>((resolve) => setImmediate(resolve))
      }
    }
    if (batch.length > 0) await sendBatch(batch)
  } catch (err) {
    next.catch(() => {})
    await it.return?.(undefined)?.catch(() => {})
    throw err
  }
}

const KNOWN_ERRORS: Record<string, (msg: string) => Error> = {
  NotFoundError: (m) => new NotFoundError(m),
  InvalidArgumentError: (m) => new InvalidArgumentError(m),
  FollowerModeError: (m) => new FollowerModeError(m),
  NotEnoughPeersError: (m) => new NotEnoughPeersError(m),
  QueueFullError: (m) => new QueueFullError(m),
  IPFSError: (m) => new IPFSError(m),
  UnsupportedError: (m) => new UnsupportedError(m),
  RpcUnauthorizedError: (m) => new RpcUnauthorizedError(m),
  RpcMethodNotFoundError: (m) => new RpcMethodNotFoundError(m),
  RpcKindError: (m) => new RpcKindError(m)
}

function errorFromFrame(name: string, message: string): Error {
  const make = KNOWN_ERRORS[name]
  return make !== undefined ? make(message) : new RpcRemoteError(name, message)
}

function isAsyncIterable(v: unknown): v is AsyncIterable<unknown> {
  return typeof v === 'object' && v !== null && typeof (v as Record<symbol, unknown>)[Symbol.asyncIterator] === 'function'
}

/** Libp2p may reject with an Event (e.g. a stream's `close`, carrying `error`): make it an Error. */
function toError(err: unknown): Error {
  if (err instanceof Error) return err
  if (typeof err === 'object' && err !== null) {
    const inner = (err as { error?: unknown }).error
    if (inner instanceof Error) return inner
    const type = (err as { type?: unknown }).type
    if (typeof type === 'string') return new Error(`the stream ended (${type})`)
  }
  return new Error(String(err))
}

function decodeFrame(bytes: Uint8Array): Frame {
  const f = decode(bytes) as Frame
  if (typeof f !== 'object' || f === null || typeof (f as { t?: unknown }).t !== 'string') {
    throw new RpcTransportError('malformed RPC frame')
  }
  return f
}

/** An abort controller combining a caller's signal, the RPC's run and a (resettable) timeout. */
class CallDeadline {
  readonly controller = new AbortController()
  timedOut = false
  private timer: ReturnType<typeof setTimeout> | undefined
  private readonly ms: number
  private readonly cleanups: (() => void)[] = []

  constructor(ms: number, signals: (AbortSignal | undefined)[]) {
    this.ms = ms
    for (const s of signals) {
      if (s === undefined) continue
      if (s.aborted) {
        this.controller.abort(s.reason)
        continue
      }
      const onAbort = (): void => this.controller.abort(s.reason)
      s.addEventListener('abort', onAbort, { once: true })
      this.cleanups.push(() => s.removeEventListener('abort', onAbort))
    }
    this.reset()
  }

  get signal(): AbortSignal {
    return this.controller.signal
  }

  reset(): void {
    if (this.timer !== undefined) clearTimeout(this.timer)
    this.timer = undefined
    if (this.ms > 0 && !this.controller.signal.aborted) {
      this.timer = setTimeout(() => {
        this.timedOut = true
        this.controller.abort(new RpcTimeoutError('timed out'))
      }, this.ms)
    }
  }

  /** Stops the clock (while the consumer holds a streamed item). */
  pause(): void {
    if (this.timer !== undefined) clearTimeout(this.timer)
    this.timer = undefined
  }

  dispose(): void {
    if (this.timer !== undefined) clearTimeout(this.timer)
    this.timer = undefined
    for (const c of this.cleanups) c()
    this.cleanups.length = 0
  }

  /** The error to throw for a failure that happened while this deadline applied. */
  translate(err: unknown, what: string): Error {
    if (this.timedOut) return new RpcTimeoutError(`${what}: no answer within ${this.ms} ms`)
    if (this.controller.signal.aborted) return new AbortError(`${what}: aborted`)
    const e = toError(err)
    if (e.name in KNOWN_ERRORS || e.name.startsWith('Rpc')) return e
    return new RpcTransportError(`${what}: ${e.message}`, { cause: err })
  }
}

/**
 * The RPC endpoint of one peer: serves registered methods to remote peers
 * (under the policy) and calls other peers.
 */
export class Rpc implements RpcClient {
  readonly peerId: PeerId
  private readonly policy: RpcPolicy
  private readonly protocol: string
  private readonly defaultTimeoutMs: number
  private readonly maxStreams: number
  private readonly components: RpcComponents
  private readonly handlers = new Map<string, RpcHandler>()
  private controller: AbortController | undefined

  constructor(init: RpcInit, components: RpcComponents) {
    this.peerId = init.peerId
    this.policy = init.policy ?? DEFAULT_RPC_POLICY
    this.protocol = init.protocol ?? RPC_PROTOCOL
    this.defaultTimeoutMs = init.defaultTimeoutMs ?? 60_000
    this.maxStreams = init.maxStreams ?? 256
    this.components = components
  }

  /** Registers the protocol handler on the host. Idempotent. */
  async start(): Promise<void> {
    if (this.controller !== undefined) return
    this.controller = new AbortController()
    const libp2p = this.components.libp2p
    if (libp2p !== undefined) {
      await libp2p.handle(
        this.protocol,
        (stream, connection) => {
          this.serve(stream, connection.remotePeer.toString()).catch((err: unknown) => log.debug(`serving RPC: ${toError(err).message}`))
        },
        { maxInboundStreams: this.maxStreams, maxOutboundStreams: this.maxStreams }
      )
    }
  }

  /** Unregisters the protocol and aborts every call in flight. Idempotent. */
  async stop(): Promise<void> {
    const c = this.controller
    if (c === undefined) return
    this.controller = undefined
    c.abort(new AbortError('the RPC stopped'))
    await this.components.libp2p?.unhandle(this.protocol).catch((err: unknown) => log.debug(`unhandle: ${toError(err).message}`))
  }

  /**
   * Serves `service.method` with `handler` (replacing a previous one).
   * Remote access follows the policy; local calls always reach it.
   */
  register(service: string, method: string, handler: RpcHandler): void {
    this.handlers.set(`${service}.${method}`, handler)
  }

  /** The policy's verdict for a remote caller; undefined when allowed. */
  private authorize(peer: PeerId, service: string, method: string): Error | undefined {
    const kind = endpointType(this.policy, service, method)
    if (kind === 'open') return undefined
    if (kind === 'trusted' && this.components.isTrusted(peer)) return undefined
    return new RpcUnauthorizedError(
      kind === 'closed'
        ? `unauthorized: ${service}.${method} is closed to remote peers`
        : `unauthorized: ${service}.${method} is only for trusted peers and ${peer} is not trusted`
    )
  }

  private async serve(stream: Stream, peer: PeerId): Promise<void> {
    const run = this.controller
    if (run === undefined) {
      stream.abort(new Error('RPC not running'))
      return
    }
    const handlerCtl = new AbortController()
    const onRunAbort = (): void => handlerCtl.abort(run.signal.reason)
    run.signal.addEventListener('abort', onRunAbort, { once: true })
    const onClose = (): void => handlerCtl.abort(new AbortError('the caller went away'))
    stream.addEventListener('close', onClose, { once: true })
    const lp = lpStream(stream, { maxDataLength: MAX_FRAME_BYTES })
    const send = async (f: Frame): Promise<void> => {
      await lp.write(encode(f), { signal: handlerCtl.signal })
    }
    try {
      let req: { s?: unknown; m?: unknown; a?: unknown }
      try {
        const readDeadline = new CallDeadline(REQUEST_READ_TIMEOUT_MS, [handlerCtl.signal])
        try {
          req = decode((await lp.read({ signal: readDeadline.signal })).subarray()) as typeof req
        } finally {
          readDeadline.dispose()
        }
      } catch (err) {
        stream.abort(toError(err))
        return
      }
      if (typeof req !== 'object' || req === null || typeof req.s !== 'string' || typeof req.m !== 'string') {
        await send({ t: 'e', n: 'RpcTransportError', e: 'malformed RPC request' })
        await stream.close()
        return
      }
      const { s: service, m: method } = req
      const denied = this.authorize(peer, service, method)
      if (denied !== undefined) {
        log.debug(`${peer} denied ${service}.${method}: ${denied.message}`)
        await send({ t: 'e', n: denied.name, e: denied.message })
        await stream.close()
        return
      }
      const handler = this.handlers.get(`${service}.${method}`)
      if (handler === undefined) {
        await send({ t: 'e', n: 'RpcMethodNotFoundError', e: `rpc: can't find method ${service}.${method}` })
        await stream.close()
        return
      }
      try {
        const result = await handler(req.a, { peer, local: false, signal: handlerCtl.signal })
        if (isAsyncIterable(result)) {
          await sendStream(result, async (items) => send({ t: 'b', v: items }))
          await send({ t: 'end' })
        } else {
          await send({ t: 'r', v: result ?? null })
        }
      } catch (err) {
        if (handlerCtl.signal.aborted) {
          log.debug(`RPC ${service}.${method} from ${peer} stopped: ${toError(err).message}`)
          stream.abort(toError(err))
          return
        }
        const name = err instanceof Error ? err.name : 'Error'
        await send({ t: 'e', n: name, e: toError(err).message })
      }
      const closeDeadline = new CallDeadline(5_000, [run.signal])
      try {
        await stream.close({ signal: closeDeadline.signal })
      } finally {
        closeDeadline.dispose()
      }
    } catch (err) {
      log.debug(`RPC stream from ${peer}: ${toError(err).message}`)
      stream.abort(toError(err))
    } finally {
      run.signal.removeEventListener('abort', onRunAbort)
      stream.removeEventListener('close', onClose)
    }
  }

  private deadline(options: RpcCallOptions | undefined): CallDeadline {
    return new CallDeadline(options?.timeoutMs ?? this.defaultTimeoutMs, [options?.signal, this.controller?.signal])
  }

  private async open(peer: PeerId, what: string, d: CallDeadline): Promise<Stream> {
    const libp2p = this.components.libp2p
    if (libp2p === undefined) throw new RpcTransportError(`${what}: no cluster host to reach ${peer}`)
    let pid: ReturnType<typeof peerIdFromString>
    try {
      pid = peerIdFromString(peer)
    } catch {
      throw new InvalidArgumentError(`${what}: invalid peer ID ${peer}`)
    }
    return libp2p.dialProtocol(pid, this.protocol, { signal: d.signal })
  }

  async call(peer: PeerId, service: string, method: string, arg: unknown, options?: RpcCallOptions): Promise<unknown> {
    const what = `${service}.${method} on ${peer}`
    const d = this.deadline(options)
    try {
      if (d.signal.aborted) throw d.signal.reason
      if (peer === this.peerId) return await this.callLocal(service, method, arg, d)
      const stream = await this.open(peer, what, d)
      try {
        const lp = lpStream(stream, { maxDataLength: MAX_FRAME_BYTES })
        await lp.write(encode({ s: service, m: method, a: arg ?? null }), { signal: d.signal })
        const f = decodeFrame((await lp.read({ signal: d.signal })).subarray())
        stream.close().catch(() => {})
        if (f.t === 'r') return f.v
        if (f.t === 'e') throw errorFromFrame(f.n, f.e)
        throw new RpcKindError(`${what} is a streaming method: use callStream`)
      } catch (err) {
        stream.abort(toError(err))
        throw err
      }
    } catch (err) {
      throw d.translate(err, what)
    } finally {
      d.dispose()
    }
  }

  private async callLocal(service: string, method: string, arg: unknown, d: CallDeadline): Promise<unknown> {
    const handler = this.handlers.get(`${service}.${method}`)
    if (handler === undefined) throw new RpcMethodNotFoundError(`rpc: can't find method ${service}.${method}`)
    const aborted = new Promise<never>((_, reject) => {
      d.signal.addEventListener('abort', () => reject(d.signal.reason), { once: true })
    })
    aborted.catch(() => {})
    const result = await Promise.race([Promise.resolve(handler(arg, { peer: this.peerId, local: true, signal: d.signal })), aborted])
    if (isAsyncIterable(result)) throw new RpcKindError(`${service}.${method} is a streaming method: use callStream`)
    return result
  }

  async *callStream(peer: PeerId, service: string, method: string, arg: unknown, options?: RpcCallOptions): AsyncGenerator<unknown> {
    const what = `${service}.${method} on ${peer}`
    const d = this.deadline(options)
    try {
      if (d.signal.aborted) throw d.signal.reason
      if (peer === this.peerId) {
        yield* this.callStreamLocal(service, method, arg, d)
        return
      }
      const stream = await this.open(peer, what, d)
      let ended = false
      try {
        const lp = lpStream(stream, { maxDataLength: MAX_FRAME_BYTES })
        await lp.write(encode({ s: service, m: method, a: arg ?? null }), { signal: d.signal })
        for (;;) {
          d.reset()
          const f = decodeFrame((await lp.read({ signal: d.signal })).subarray())
          if (f.t === 'b' && Array.isArray(f.v)) {
            d.pause()
            for (const item of f.v) yield item
            continue
          }
          if (f.t === 'i') {
            d.pause()
            yield f.v
            continue
          }
          ended = true
          if (f.t === 'end') break
          if (f.t === 'e') throw errorFromFrame(f.n, f.e)
          throw new RpcKindError(`${what} is a unary method: use call`)
        }
        stream.close().catch(() => {})
      } finally {
        // also reached when the consumer stops early: tell the callee to stop
        if (!ended) stream.abort(new AbortError('the caller stopped reading'))
      }
    } catch (err) {
      throw d.translate(err, what)
    } finally {
      d.dispose()
    }
  }

  private async *callStreamLocal(service: string, method: string, arg: unknown, d: CallDeadline): AsyncGenerator<unknown> {
    const handler = this.handlers.get(`${service}.${method}`)
    if (handler === undefined) throw new RpcMethodNotFoundError(`rpc: can't find method ${service}.${method}`)
    const aborted = new Promise<never>((_, reject) => {
      d.signal.addEventListener('abort', () => reject(d.signal.reason), { once: true })
    })
    aborted.catch(() => {})
    const result = await Promise.race([Promise.resolve(handler(arg, { peer: this.peerId, local: true, signal: d.signal })), aborted])
    if (!isAsyncIterable(result)) throw new RpcKindError(`${service}.${method} is a unary method: use call`)
    const it = result[Symbol.asyncIterator]()
    let done = false
    try {
      for (;;) {
        d.reset()
        const r = await Promise.race([it.next(), aborted])
        if (r.done === true) {
          done = true
          return
        }
        d.pause()
        yield r.value
      }
    } finally {
      if (!done) it.return?.()?.catch(() => {})
    }
  }

  async multiCall(peers: PeerId[], service: string, method: string, arg: unknown, options?: RpcCallOptions): Promise<RpcMultiResult[]> {
    return Promise.all(
      peers.map(async (peer): Promise<RpcMultiResult> => {
        try {
          return { peer, ok: true, value: await this.call(peer, service, method, arg, options) }
        } catch (err) {
          return { peer, ok: false, error: toError(err) }
        }
      })
    )
  }
}

/** Creates the RPC endpoint (call `start()` to serve remote peers). */
export function createRpc(init: RpcInit, components: RpcComponents): Rpc {
  return new Rpc(init, components)
}
