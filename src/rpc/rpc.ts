/**
 * Peer-to-peer RPC over libp2p streams, speaking go-libp2p-gorpc v0.6.0's
 * wire format as upstream ipfs-cluster v1.1.6 uses it (`rpc_api.go`,
 * gorpc `server.go`/`client.go`), with upstream's open/trusted/closed
 * policy (`rpc_policy.go`). Go peers and ours speak this one protocol.
 *
 * Wire format (protocol `RPC_PROTOCOL`, `/ipfscluster/1.0/rpc`), one stream
 * per call, msgpack values back to back with no length prefix (ugorji's
 * old spec, `msgpack.ts`):
 * - caller: `ServiceID` `{Name, Method}`, then for a unary method one
 *   argument value, keeping its write side open (a Go server cancels the
 *   call when the caller half-closes); for a streaming method
 *   (`methods.ts`) any number of argument values, then a half-close (a Go
 *   server waits for it before ending the stream);
 * - callee, unary: `Response` `{Service, Error?, ErrType?}` then the reply
 *   value (nil after an error), then it closes the stream; streaming: a
 *   `Response{Service}` and the value for each item, then it closes; a
 *   failure ends the stream with a `Response` carrying the error and nil.
 * - `ErrType`: 0 the method's own error, 1 server error (`rpc: can't find
 *   method X`, bad request), 3 authorization refused. Our peers also put
 *   the error's class in `ErrName` (Go ignores unknown keys) so that a
 *   `NotFoundError` stays one between our peers.
 * Values are msgpack values (`gotypes.ts` converts the cluster's types to
 * Go's `codec` maps); a streaming handler receives its arguments as an
 * `AsyncIterable` and returns one.
 *
 * A call whose destination is this peer runs the local handler directly,
 * without a stream, encoding or policy check (local calls are allowed
 * everything, as upstream).
 */
import { setImmediate } from 'node:timers'
import type { Connection, Stream } from '@libp2p/interface'
import { peerIdFromString } from '@libp2p/peer-id'
import { byteStream } from '@libp2p/utils'
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
import { isStreamingMethod } from './methods.ts'
import { GoRaw, goDecode, goDecoder, goEncode, MAX_VALUE_BYTES } from './msgpack.ts'
import { DEFAULT_RPC_POLICY, endpointType, type RpcPolicy } from './policy.ts'

const log = getLogger('rpc')

/** ms a callee waits for the request once a stream is open. */
const REQUEST_READ_TIMEOUT_MS = 30_000

/** gorpc `ErrorType` (errors.go). */
export const ErrType = { NonRPC: 0, Server: 1, Client: 2, Authorization: 3 } as const

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
 * A method implementation. A unary method gets its argument value and
 * returns its reply (or a Promise of it); a streaming method
 * (`methods.ts`) gets an `AsyncIterable` of its argument values and
 * returns an `AsyncIterable` of replies (e.g. an async generator). Values
 * are msgpack values (see `gotypes.ts`).
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

/** Streaming arguments: values sent one by one before the half-close. */
export type RpcArgs = Iterable<unknown> | AsyncIterable<unknown>

/** The calling side of the RPC, what components that call other peers need. */
export interface RpcClient {
  readonly peerId: PeerId
  /**
   * Calls a unary method on `peer` with one argument value.
   * @throws RpcUnauthorizedError (ErrType 3), RpcMethodNotFoundError,
   * RpcTimeoutError, RpcTransportError, RpcKindError (a streaming method),
   * AbortError, or the remote error (our peers' classes by `ErrName`:
   * NotFoundError, InvalidArgumentError, IPFSError…; else RpcRemoteError).
   */
  call(peer: PeerId, service: string, method: string, arg: unknown, options?: RpcCallOptions): Promise<unknown>
  /** Calls a streaming method with its argument values (none: `[]`); same errors as `call`, thrown from the iteration. */
  callStream(peer: PeerId, service: string, method: string, args: RpcArgs, options?: RpcCallOptions): AsyncGenerator<unknown>
  /** `call` on every peer concurrently, each with its own timeout; never throws for a peer's failure. Results in `peers` order. */
  multiCall(peers: PeerId[], service: string, method: string, arg: unknown, options?: RpcCallOptions): Promise<RpcMultiResult[]>
}

/** gorpc's `Response` header as it travels. */
interface WireResponse {
  Service?: unknown
  Error?: unknown
  ErrType?: unknown
  ErrName?: unknown
}

/** Items gathered into one write at most. */
const BATCH_MAX_ITEMS = 128
const PENDING = Symbol('pending')

/** A promise resolving with PENDING at the next macrotask. */
function nextTick(): Promise<typeof PENDING> {
  return new Promise<typeof PENDING>((resolve) => setImmediate(() => resolve(PENDING)))
}

/**
 * Sends the items of a handler's stream, grouping the items already
 * available (up to BATCH_MAX_ITEMS) into one write; as soon as the source
 * makes us wait, what is gathered is sent, so a slow source still streams
 * item by item. "Available" means settled before the next macrotask: every
 * item of a batch races one shared tick (a tick per item was a
 * setImmediate and a race each).
 */
async function sendStream(source: AsyncIterable<unknown>, sendBatch: (items: unknown[]) => Promise<void>): Promise<void> {
  const it = source[Symbol.asyncIterator]()
  let batch: unknown[] = []
  let next = it.next()
  let tick: Promise<typeof PENDING> | undefined
  const sourceFailed = async (err: unknown): Promise<never> => {
    // the items gathered before the failure still go out, then the error
    if (batch.length > 0) await sendBatch(batch)
    batch = []
    throw err
  }
  const flush = async (): Promise<void> => {
    await sendBatch(batch)
    batch = []
    tick = undefined
  }
  try {
    for (;;) {
      let r: IteratorResult<unknown> | typeof PENDING
      if (batch.length === 0) r = await next.catch(sourceFailed)
      else {
        tick ??= nextTick()
        r = await Promise.race([next, tick]).catch(sourceFailed)
      }
      if (r === PENDING) {
        await flush()
        continue
      }
      if (r.done === true) break
      batch.push(r.value)
      next = it.next()
      if (batch.length >= BATCH_MAX_ITEMS) {
        await flush()
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

/** Our error classes that keep their class between our peers (`ErrName`). */
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

const fromUtf8 = new TextDecoder()

function text(v: unknown): string {
  if (v instanceof Uint8Array) return fromUtf8.decode(v)
  return typeof v === 'string' ? v : ''
}

/** The error a `Response` header carries, or undefined when it carries none. */
function responseError(r: WireResponse): Error | undefined {
  const msg = text(r.Error)
  if (msg === '') return undefined
  const type = typeof r.ErrType === 'number' ? r.ErrType : Number(r.ErrType ?? 0)
  if (type === ErrType.Authorization) return new RpcUnauthorizedError(msg)
  if (type === ErrType.Server && msg.startsWith("rpc: can't find")) return new RpcMethodNotFoundError(msg)
  if (type === ErrType.Server || type === ErrType.Client) return new RpcTransportError(msg)
  const make = KNOWN_ERRORS[text(r.ErrName)]
  return make !== undefined ? make(msg) : new RpcRemoteError(text(r.ErrName) || 'Error', msg)
}

/** A handler's pre-encoded value (`GoRaw`) as a local caller expects it: decoded, as a remote one would get it. */
function unraw(v: unknown): unknown {
  return v instanceof GoRaw ? goDecode(v.bytes) : v
}

function isAsyncIterable(v: unknown): v is AsyncIterable<unknown> {
  return typeof v === 'object' && v !== null && typeof (v as Record<symbol, unknown>)[Symbol.asyncIterator] === 'function'
}

async function* toAsync(args: RpcArgs): AsyncGenerator<unknown> {
  yield* args
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

/**
 * Unread bytes a stream holds before it pauses reading. A consumer slower
 * than its peer (a global status merging several peers in lockstep) would
 * otherwise buffer without bound until the read buffer's limit fails the
 * stream (`Read buffer overflow`). While paused, at most the muxer's stream
 * window (yamux: 16 MiB, `host/muxer.ts`) still arrives.
 */
export const READ_HIGH_WATER_BYTES = 4 * 1024 * 1024

/**
 * Unsent bytes a stream holds before `send()` waits for the peer to take
 * some. libp2p's write resolves at the next window update, however much is
 * still queued: a handler faster than its caller queued its whole answer
 * (a 1M-pin status is ~350 MB) in memory, then its close timed out.
 */
export const WRITE_HIGH_WATER_BYTES = 4 * 1024 * 1024

/**
 * ms a callee's final close may pass without the caller taking any bytes
 * (a `drain`: the caller granted window). A reading caller grants window
 * only each time it has used what it holds (up to a window and
 * READ_HIGH_WATER_BYTES), which a caller writing to a slow HTTP client
 * takes seconds to do; a fixed 5 s cut those streams short.
 */
const CLOSE_IDLE_TIMEOUT_MS = 60_000

/**
 * Resolves once `stream` holds at most `highWater` unsent bytes: woken by
 * the muxer's `drain` (the peer granted window) and `idle` (all sent).
 * @throws RpcTransportError when the stream closes first; `signal`'s reason when it aborts
 */
async function writable(stream: Stream, highWater: number, signal: AbortSignal): Promise<void> {
  while (stream.writeBufferLength > highWater) {
    signal.throwIfAborted()
    if (stream.status !== 'open') throw new RpcTransportError(`the stream is ${stream.status} with ${stream.writeBufferLength} bytes unsent`)
    await new Promise<void>((resolve, reject) => {
      const cleanup = (): void => {
        stream.removeEventListener('drain', onProgress)
        stream.removeEventListener('idle', onProgress)
        stream.removeEventListener('close', onClose)
        signal.removeEventListener('abort', onAbort)
      }
      const onProgress = (): void => {
        cleanup()
        resolve()
      }
      const onClose = (): void => {
        cleanup()
        reject(new RpcTransportError('the stream closed while sending'))
      }
      const onAbort = (): void => {
        cleanup()
        reject(signal.reason)
      }
      stream.addEventListener('drain', onProgress)
      stream.addEventListener('idle', onProgress)
      stream.addEventListener('close', onClose)
      signal.addEventListener('abort', onAbort)
    })
  }
}

/**
 * `stream.close()` (the write side: it first sends what is queued), failing
 * only after `idleMs` in which the peer took nothing, or when `signal`
 * aborts. A caller that reads slowly is still reading: a fixed deadline cut
 * its last megabytes (the stream reset, the caller saw it end early).
 */
async function closeWhileDraining(stream: Stream, idleMs: number, signal: AbortSignal): Promise<void> {
  const d = new CallDeadline(idleMs, [signal])
  const onDrain = (): void => d.reset()
  stream.addEventListener('drain', onDrain)
  try {
    await stream.close({ signal: d.signal })
  } finally {
    stream.removeEventListener('drain', onDrain)
    d.dispose()
  }
}

/**
 * The two directions of one gorpc stream: `next()` gives the next msgpack
 * value the peer sent (undefined at its half-close), `send()` writes values
 * back to back in one write; both directions apply backpressure.
 */
class GorpcStream {
  readonly stream: Stream
  private readonly bytes: ReturnType<typeof byteStream<Stream>>
  private readonly values: AsyncGenerator<unknown, void, unknown>
  private readonly writeSignal: AbortSignal

  /** `signal` aborts reads; `writeSignal` (default `signal`) aborts writes. */
  constructor(stream: Stream, signal: AbortSignal, writeSignal: AbortSignal = signal) {
    this.stream = stream
    this.writeSignal = writeSignal
    this.bytes = byteStream(stream, { maxBufferSize: MAX_VALUE_BYTES + 1024 })
    const bytes = this.bytes
    // backpressure: past the high-water mark the stream pauses (the muxer then
    // stops granting the sender window) until the decoder asks for more
    let unread = 0
    let pausing = false
    const pauseIfFull = (): void => {
      pausing = false
      if (unread > READ_HIGH_WATER_BYTES && stream.readStatus === 'readable') stream.pause()
    }
    stream.addEventListener('message', (evt) => {
      unread += evt.data.byteLength
      // not inside the dispatch: `resume()` dispatches what arrived while
      // paused and then grants window, which would undo a pause made here
      if (unread > READ_HIGH_WATER_BYTES && !pausing) {
        pausing = true
        queueMicrotask(pauseIfFull)
      }
    })
    this.values = goDecoder().decodeStream(
      (async function* () {
        for (;;) {
          const chunk = await bytes.read({ signal })
          // a read takes everything buffered
          unread = 0
          if (stream.readStatus === 'paused') stream.resume()
          if (chunk === null) {
            // libp2p reads a reset as the end: it is not one (the peer did not finish)
            if (stream.status === 'reset') throw new RpcTransportError('the peer reset the stream')
            return
          }
          yield chunk.subarray()
        }
      })()
    )
  }

  /** The next value, or undefined when the peer half-closed. @throws on a broken stream or malformed msgpack */
  async next(): Promise<{ value: unknown } | undefined> {
    const r = await this.values.next()
    return r.done === true ? undefined : { value: r.value }
  }

  async send(...values: unknown[]): Promise<void> {
    const parts = values.map((v) => goEncode(v))
    let len = 0
    for (const p of parts) len += p.byteLength
    const buf = new Uint8Array(len)
    let off = 0
    for (const p of parts) {
      buf.set(p, off)
      off += p.byteLength
    }
    await this.bytes.write(buf, { signal: this.writeSignal })
    await writable(this.stream, WRITE_HIGH_WATER_BYTES, this.writeSignal)
  }
}

/**
 * An abort controller combining a caller's signal, the RPC's run and a
 * (resettable) timeout. A stream resets and pauses the clock around every
 * item, so those only move the due time: one timer is armed at a time and,
 * when it fires early (the due time moved on) or while paused, it re-arms
 * for what is left or stays off until the next reset (two timer calls per
 * item were ~2% of a peer merging a global status).
 */
class CallDeadline {
  readonly controller = new AbortController()
  timedOut = false
  private timer: ReturnType<typeof setTimeout> | undefined
  /** when the call times out (performance.now() ms); Infinity while paused */
  private due = Number.POSITIVE_INFINITY
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

  /** Restarts the clock: the call times out `ms` from now. */
  reset(): void {
    if (this.ms <= 0 || this.controller.signal.aborted) return
    this.due = performance.now() + this.ms
    if (this.timer === undefined) this.arm(this.ms)
  }

  private arm(ms: number): void {
    this.timer = setTimeout(() => this.fire(), ms)
  }

  private fire(): void {
    this.timer = undefined
    if (this.due === Number.POSITIVE_INFINITY || this.controller.signal.aborted) return
    const left = this.due - performance.now()
    if (left > 0) {
      this.arm(left)
      return
    }
    this.timedOut = true
    this.controller.abort(new RpcTimeoutError('timed out'))
  }

  /** Stops the clock (while the consumer holds a streamed item). */
  pause(): void {
    this.due = Number.POSITIVE_INFINITY
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

/** An inbound call past lookup and authorization. */
interface ServedCall {
  io: GorpcStream
  handler: RpcHandler
  /** the ServiceID, echoed in every Response. */
  header: { Name: string; Method: string }
  peer: PeerId
  /** aborts the handler (caller gone, half-close of a unary call, RPC stopped). */
  handlerCtl: AbortController
  /** sends an error Response and nil. */
  fail: (error: string, type: number, name?: string) => Promise<void>
}

/**
 * The RPC endpoint of one peer: serves registered methods to remote peers
 * (under the policy) and calls other peers, both in gorpc's wire format.
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
   * Serves `service.method` with `handler` (replacing a previous one); the
   * method is streaming when `methods.ts` says so. Remote access follows
   * the policy; local calls always reach it.
   */
  register(service: string, method: string, handler: RpcHandler): void {
    this.handlers.set(`${service}.${method}`, handler)
  }

  /** The policy's verdict for a remote caller: true when allowed. */
  private authorized(peer: PeerId, service: string, method: string): boolean {
    const kind = endpointType(this.policy, service, method)
    return kind === 'open' || (kind === 'trusted' && this.components.isTrusted(peer))
  }

  /**
   * Serves one inbound stream as gorpc's `Server.handle` does: the
   * ServiceID, lookup (ErrType 1), authorization (ErrType 3), then the
   * method. A malformed request resets the stream and is logged with the
   * peer ID; it never reaches a handler.
   */
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
    const io = new GorpcStream(stream, handlerCtl.signal, run.signal)
    let service = ''
    let method = ''
    try {
      const readDeadline = new CallDeadline(REQUEST_READ_TIMEOUT_MS, [handlerCtl.signal])
      const onTimeout = (): void => handlerCtl.abort(readDeadline.signal.reason)
      readDeadline.signal.addEventListener('abort', onTimeout, { once: true })
      let svcId: WireResponse['Service']
      try {
        svcId = (await io.next())?.value
      } finally {
        readDeadline.signal.removeEventListener('abort', onTimeout)
        readDeadline.dispose()
      }
      if (typeof svcId !== 'object' || svcId === null) throw new RpcTransportError('malformed RPC request: no ServiceID')
      service = text((svcId as { Name?: unknown }).Name)
      method = text((svcId as { Method?: unknown }).Method)
      const header = { Name: service, Method: method }
      const fail = async (error: string, type: number, name?: string): Promise<void> => {
        const r: Record<string, unknown> = { Service: header, Error: error }
        if (type !== ErrType.NonRPC) r.ErrType = type
        if (name !== undefined && name in KNOWN_ERRORS) r.ErrName = name
        await io.send(r, null)
      }
      const handler = this.handlers.get(`${service}.${method}`)
      // upstream registers every method of its policy table: those refuse before they are looked up
      const known = handler !== undefined || `${service}.${method}` in this.policy
      if (!known || (handler === undefined && this.authorized(peer, service, method))) {
        await fail(`rpc: can't find method ${method}`, ErrType.Server)
      } else if (!this.authorized(peer, service, method) || handler === undefined) {
        log.debug(`${peer} refused ${service}.${method} (policy)`)
        await fail(`client does not have permissions to call ${service}.${method}`, ErrType.Authorization)
      } else {
        const call: ServedCall = { io, handler, header, peer, handlerCtl, fail }
        await (isStreamingMethod(service, method) ? this.serveStream(call) : this.serveUnary(call))
      }
      await closeWhileDraining(stream, CLOSE_IDLE_TIMEOUT_MS, run.signal)
    } catch (err) {
      if (!handlerCtl.signal.aborted) log.info(`RPC stream from ${peer} (${service}.${method}) reset: ${toError(err).message}`)
      stream.abort(toError(err))
    } finally {
      run.signal.removeEventListener('abort', onRunAbort)
      stream.removeEventListener('close', onClose)
    }
  }

  private async serveUnary({ io, handler, header, peer, handlerCtl, fail }: ServedCall): Promise<void> {
    const arg = await io.next()
    if (arg === undefined) throw new RpcTransportError('malformed RPC request: no argument')
    // as gorpc: the caller's half-close cancels the call, which then answers `context canceled`
    let halfClosed = false
    io.next().then(
      (r) => {
        if (r !== undefined) return
        halfClosed = true
        handlerCtl.abort(new AbortError('context canceled'))
      },
      () => handlerCtl.abort(new AbortError('the caller went away'))
    )
    let result: unknown
    try {
      result = await handler(arg.value, { peer, local: false, signal: handlerCtl.signal })
      if (isAsyncIterable(result)) throw new RpcKindError(`${header.Name}.${header.Method} answered a stream to a unary call`)
    } catch (err) {
      if (halfClosed) {
        await fail('context canceled', ErrType.NonRPC)
        return
      }
      if (handlerCtl.signal.aborted) throw err
      await fail(toError(err).message, ErrType.NonRPC, toError(err).name)
      return
    }
    await io.send({ Service: header }, result ?? null)
  }

  private async serveStream({ io, handler, header, peer, handlerCtl, fail }: ServedCall): Promise<void> {
    const args = (async function* () {
      for (;;) {
        const v = await io.next()
        if (v === undefined) return
        yield v.value
      }
    })()
    try {
      const result = await handler(args, { peer, local: false, signal: handlerCtl.signal })
      if (!isAsyncIterable(result)) throw new RpcKindError(`${header.Name}.${header.Method} did not answer a stream`)
      // the same Response header before every item: encoded once
      const itemHeader = new GoRaw(goEncode({ Service: header }))
      await sendStream(result, async (items) => io.send(...items.flatMap((item) => [itemHeader, item ?? null])))
      // the caller's arguments end with its half-close; read to it as gorpc's server does
      for await (const _ of args) {
        // arguments the method did not read
      }
    } catch (err) {
      if (handlerCtl.signal.aborted) throw err
      await fail(toError(err).message, ErrType.NonRPC, toError(err).name)
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

  /** Reads one `Response` header; undefined at the stream's end. @throws RpcTransportError when it is not one */
  private static async readResponse(io: GorpcStream): Promise<WireResponse | undefined> {
    const r = await io.next()
    if (r === undefined) return undefined
    if (typeof r.value !== 'object' || r.value === null || Array.isArray(r.value) || r.value instanceof Uint8Array) {
      throw new RpcTransportError('malformed RPC response header')
    }
    return r.value as WireResponse
  }

  async call(peer: PeerId, service: string, method: string, arg: unknown, options?: RpcCallOptions): Promise<unknown> {
    const what = `${service}.${method} on ${peer}`
    const d = this.deadline(options)
    try {
      if (d.signal.aborted) throw d.signal.reason
      if (isStreamingMethod(service, method)) throw new RpcKindError(`${what} is a streaming method: use callStream`)
      if (peer === this.peerId) return await this.callLocal(service, method, arg, d)
      const stream = await this.open(peer, what, d)
      try {
        const io = new GorpcStream(stream, d.signal)
        // no half-close: a Go server cancels a unary call at the caller's EOF
        await io.send({ Name: service, Method: method }, arg ?? {})
        const header = await Rpc.readResponse(io)
        if (header === undefined) throw new RpcTransportError(`${what}: the stream ended before the response`)
        const value = await io.next()
        stream.close().catch(() => {})
        const err = responseError(header)
        if (err !== undefined) throw err
        if (value === undefined) throw new RpcTransportError(`${what}: the stream ended before the reply`)
        return value.value
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
    if (handler === undefined) throw new RpcMethodNotFoundError(`rpc: can't find method ${method}`)
    const aborted = new Promise<never>((_, reject) => {
      d.signal.addEventListener('abort', () => reject(d.signal.reason), { once: true })
    })
    aborted.catch(() => {})
    const result = await Promise.race([Promise.resolve(handler(arg, { peer: this.peerId, local: true, signal: d.signal })), aborted])
    if (isAsyncIterable(result)) throw new RpcKindError(`${service}.${method} is a streaming method: use callStream`)
    return unraw(result)
  }

  async *callStream(peer: PeerId, service: string, method: string, args: RpcArgs, options?: RpcCallOptions): AsyncGenerator<unknown> {
    const what = `${service}.${method} on ${peer}`
    const d = this.deadline(options)
    try {
      if (d.signal.aborted) throw d.signal.reason
      if (!isStreamingMethod(service, method)) throw new RpcKindError(`${what} is a unary method: use call`)
      if (peer === this.peerId) {
        yield* this.callStreamLocal(service, method, args, d)
        return
      }
      const stream = await this.open(peer, what, d)
      let ended = false
      try {
        const io = new GorpcStream(stream, d.signal)
        await io.send({ Name: service, Method: method })
        for await (const a of toAsync(args)) await io.send(a)
        // a Go server ends the stream only after the caller's half-close
        await stream.close({ signal: d.signal })
        for (;;) {
          d.reset()
          const header = await Rpc.readResponse(io)
          if (header === undefined) {
            ended = true
            break
          }
          const value = await io.next()
          const err = responseError(header)
          if (err !== undefined) {
            ended = true
            throw err
          }
          if (value === undefined) throw new RpcTransportError(`${what}: the stream ended inside an item`)
          d.pause()
          yield value.value
        }
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

  private async *callStreamLocal(service: string, method: string, args: RpcArgs, d: CallDeadline): AsyncGenerator<unknown> {
    const handler = this.handlers.get(`${service}.${method}`)
    if (handler === undefined) throw new RpcMethodNotFoundError(`rpc: can't find method ${method}`)
    const aborted = new Promise<never>((_, reject) => {
      d.signal.addEventListener('abort', () => reject(d.signal.reason), { once: true })
    })
    aborted.catch(() => {})
    const result = await Promise.race([Promise.resolve(handler(toAsync(args), { peer: this.peerId, local: true, signal: d.signal })), aborted])
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
        yield unraw(r.value)
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
