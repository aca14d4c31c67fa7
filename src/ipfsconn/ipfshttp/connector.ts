/**
 * The kubo connector: the cluster's only way to the local IPFS daemon,
 * mirroring upstream `ipfsconn/ipfshttp/ipfshttp.go` (v1.1.6).
 *
 * It talks to kubo's RPC API (`POST /api/v0/<command>`) with `fetch`
 * directly rather than through `kubo-rpc-client`: the connector needs the
 * raw NDJSON streams (`pin/add?progress=true`, `pin/ls?stream=true`,
 * `repo/gc`), upstream's per-command timeouts and one uniform mapping of
 * every failure to `IPFSError`, which the client would hide behind its own
 * option parsing and error classes for every single command.
 *
 * Errors:
 * - `IPFSError` when kubo is unreachable ("IPFS request failed (is it
 *   running?) (<command>): …"), answers with an error ("IPFS error
 *   (<command>): <kubo's message>"), a request times out, or a pin makes
 *   no progress for `pin_timeout`.
 * - `AbortError` when the caller's signal aborts or the connector stops.
 * - `NotFoundError` from `configKey` for a key kubo's config lacks.
 * - `InvalidArgumentError` for a path `resolve` cannot parse.
 */
import { parse as ndjsonParse } from 'it-ndjson'
import { CID } from 'multiformats/cid'
import { equals as uint8ArrayEquals } from 'uint8arrays/equals'
import { encodeMultipart, type UploadEntry } from '../../adder/multipart.ts'
import { AbortError, errorName, InvalidArgumentError, IPFSError, NotFoundError } from '../../errors.ts'
import type { AbortOptions, IPFSConnector, IPFSPinInfo, PinProgressHandler } from '../../interfaces.ts'
import { getLogger } from '../../observability/logging.ts'
import { importConfigRefusal, type KuboAddEvent } from '../../adder/relay.ts'
import { fetchWithTrailers } from '../../runtime/fetch.ts'
import { RESPONSE_TRAILERS, STREAM_ERROR_TRAILER, type TrailerCarrier } from '../../runtime/http.ts'
import { clusterMetrics } from '../../observability/metrics.ts'
import type { ID, IPFSID, IPFSPinStatus, IPFSRepoStat, Pin } from '../../types/index.ts'
import { parseCidString } from '../../types/cidstring.ts'
import { carV1Stream } from './car.ts'
import { type IpfsHttpInit, nodeUrl, validateIpfsHttpInit } from './config.ts'

const log = getLogger('ipfshttp')

/** What the connector uses of the rest of the peer (all optional). */
export interface IpfsHttpComponents {
  /**
   * The cluster's peers with their IPFS identities, for `connectSwarms`
   * (upstream: RPC `Cluster.Peers`). Without it `connectSwarms` does nothing.
   */
  clusterPeers?: (options?: AbortOptions) => AsyncIterable<ID>
  /**
   * Asks the cluster to publish informer metrics now, every
   * `informerTriggerInterval` pin/unpin requests (upstream: RPC
   * `Cluster.SendInformersMetrics`).
   */
  sendInformersMetrics?: (options?: AbortOptions) => Promise<void>
}

/** kubo answered with an error body `{"Message","Code","Type":"error"}`. */
/** kubo answered with an error: an IPFSError to callers, with kubo's status and message. */
class KuboResponseError extends IPFSError {
  static override name = 'IPFSError'
  readonly status: number
  readonly kuboMessage: string
  constructor(command: string, status: number, kuboMessage: string) {
    super(`IPFS error (${command}): ${kuboMessage}`)
    this.status = status
    this.kuboMessage = kuboMessage
  }
}

function isNotPinned(err: unknown): boolean {
  return err instanceof KuboResponseError && /not pinned/.test(err.kuboMessage)
}

function describe(err: unknown): string {
  if (err instanceof Error) {
    const code = (err as { code?: unknown }).code
    return typeof code === 'string' && !err.message.includes(code) ? `${err.message} (${code})` : err.message
  }
  return String(err)
}

type AbortCause = 'timeout' | 'caller' | 'stopped'

/**
 * The open scopes of each run signal, aborted together by one listener: a
 * listener per request on the long-lived run signal made every request cost
 * O(open requests) (Bun scans a signal's listeners on each add), 63% of a
 * joining peer's CPU with 10k unpins in flight.
 */
const openScopes = new WeakMap<AbortSignal, Set<Scope>>()

/** Adds `scope` to the open scopes of `run`; returns that set (the scope leaves it on close). */
function openScope(run: AbortSignal, scope: Scope): Set<Scope> {
  let set = openScopes.get(run)
  if (set === undefined) {
    const scopes = new Set<Scope>()
    set = scopes
    openScopes.set(run, scopes)
    run.addEventListener(
      'abort',
      () => {
        for (const sc of [...scopes]) sc.stop()
        scopes.clear()
      },
      { once: true }
    )
  }
  set.add(scope)
  return set
}

/**
 * One request's cancellation: the caller's signal, the connector's run
 * signal and a (resettable) timeout, merged into `signal`. `fail()` turns
 * whatever went wrong into the right error class.
 */
export class Scope {
  readonly signal: AbortSignal
  private readonly controller = new AbortController()
  private readonly timeoutMessage: string
  private readonly cleanups: (() => void)[] = []
  private timer: ReturnType<typeof setTimeout> | undefined
  private cause: AbortCause | undefined

  constructor(timeoutMs: number, timeoutMessage: string, caller: AbortSignal | undefined, run: AbortSignal) {
    this.signal = this.controller.signal
    this.timeoutMessage = timeoutMessage
    const link = (s: AbortSignal | undefined, cause: AbortCause): void => {
      if (s === undefined) return
      if (s.aborted) {
        this.abort(cause)
        return
      }
      const h = (): void => this.abort(cause)
      s.addEventListener('abort', h, { once: true })
      this.cleanups.push(() => s.removeEventListener('abort', h))
    }
    link(caller, 'caller')
    if (run.aborted) this.abort('stopped')
    else {
      const open = openScope(run, this)
      this.cleanups.push(() => open.delete(this))
    }
    this.reset(timeoutMs)
  }

  /** Aborts it as stopped (its run signal aborted). */
  stop(): void {
    this.abort('stopped')
  }

  /** Restarts the timeout (`0` = none). */
  reset(timeoutMs: number): void {
    if (this.timer !== undefined) clearTimeout(this.timer)
    this.timer = undefined
    if (timeoutMs > 0 && !this.signal.aborted) this.timer = setTimeout(() => this.abort('timeout'), timeoutMs)
  }

  private abort(cause: AbortCause): void {
    if (this.signal.aborted) return
    this.cause = cause
    this.controller.abort(cause)
  }

  /** Stops the timer and unlinks from the parent signals. */
  close(): void {
    if (this.timer !== undefined) clearTimeout(this.timer)
    this.timer = undefined
    for (const c of this.cleanups.splice(0)) c()
  }

  /** The error to throw for `err`, raised while running `command`. */
  fail(command: string, err: unknown): Error {
    if (this.cause === 'timeout') return new IPFSError(this.timeoutMessage, { cause: err })
    if (this.cause === 'caller') return new AbortError(`IPFS request aborted (${command})`)
    if (this.cause === 'stopped') return new AbortError(`IPFS request aborted: the IPFS connector stopped (${command})`)
    if (err instanceof IPFSError || err instanceof AbortError) return err
    return new IPFSError(`IPFS request failed (is it running?) (${command}): ${describe(err)}`, { cause: err })
  }
}

type Query = [string, string][]

/**
 * Connector to a kubo daemon (`IPFSConnector`).
 * `start()` begins waiting for kubo in the background (logging a warning
 * every 10 failed tries) and, once it answers, runs `connectSwarms` after
 * `connectSwarmsDelayMs`. Requests work before and regardless of that.
 */
export class IpfsHttpConnector implements IPFSConnector {
  private readonly init: IpfsHttpInit
  private readonly components: IpfsHttpComponents
  private readonly baseUrl: string
  private run = new AbortController()
  private started = false
  private background: Promise<void> | undefined
  private readyWaiters: (() => void)[] = []
  private isReady = false
  private failedRequests = 0
  private nextSlot = 0
  private informerCount = 0
  /** the last `relayRefusal` answer and when it was read (ms). */
  private importCheck: { at: number; refusal: string | null } | undefined

  /** @throws InvalidArgumentError on invalid settings (see `validateIpfsHttpInit`). */
  constructor(init: IpfsHttpInit, components: IpfsHttpComponents = {}) {
    validateIpfsHttpInit(init)
    this.init = { ...init }
    this.components = components
    this.baseUrl = nodeUrl(init.nodeMultiaddress)
  }

  /** `http://host:port` of kubo's RPC API. */
  get url(): string {
    return this.baseUrl
  }

  async start(): Promise<void> {
    if (this.started) return
    this.started = true
    this.run = new AbortController()
    const signal = this.run.signal
    this.background = this.waitAndConnect(signal).catch((err: unknown) => {
      if (!signal.aborted) log.error(`ipfshttp background task: ${describe(err)}`)
    })
  }

  async stop(): Promise<void> {
    if (!this.started) return
    this.started = false
    log.info('stopping IPFS Connector')
    this.run.abort()
    await this.background
    this.background = undefined
  }

  /** Resolves once kubo has answered `id` at least once (after `start()`). */
  ready(options: AbortOptions = {}): Promise<void> {
    if (this.isReady) return Promise.resolve()
    return new Promise((resolve, reject) => {
      const onAbort = (): void => reject(new AbortError('waiting for IPFS aborted'))
      if (options.signal?.aborted === true) {
        onAbort()
        return
      }
      options.signal?.addEventListener('abort', onAbort, { once: true })
      this.readyWaiters.push(() => {
        options.signal?.removeEventListener('abort', onAbort)
        resolve()
      })
    })
  }

  private async waitAndConnect(signal: AbortSignal): Promise<void> {
    for (let i = 1; !signal.aborted; i++) {
      try {
        await this.id({ signal })
        break
      } catch (err) {
        if (signal.aborted) return
        if (i % 10 === 0) log.warn(`ipfs does not seem to be available after ${i} retries: ${describe(err)}`)
      }
      await sleep(1000, signal)
    }
    if (signal.aborted) return
    this.isReady = true
    for (const w of this.readyWaiters.splice(0)) w()
    if (this.init.connectSwarmsDelayMs === 0) return
    await sleep(this.init.connectSwarmsDelayMs, signal)
    if (signal.aborted) return
    await this.connectSwarms({ signal })
  }

  // ---------------------------------------------------------------- HTTP

  /** Upstream's limiter: after more than 10 consecutive failures, 1 request/s. */
  private async rateLimit(signal: AbortSignal): Promise<void> {
    if (this.failedRequests <= 10) return
    const now = Date.now()
    const slot = Math.max(now, this.nextSlot)
    this.nextSlot = slot + 1000
    if (slot > now) await sleep(slot - now, signal)
  }

  /**
   * POSTs `/api/v0/<command>?<query>` and returns the response once its
   * status is 200 (the body is not read). The scope stays open: the caller
   * reads the body and closes it.
   */
  private async post(command: string, query: Query, scope: Scope, body?: BodyInit, headers?: Record<string, string>, withTrailers = false): Promise<Response> {
    const qs = new URLSearchParams(query).toString()
    const url = `${this.baseUrl}/api/v0/${command}${qs === '' ? '' : `?${qs}`}`
    log.debug(`posting /${command}${qs === '' ? '' : `?${qs}`}`)
    await this.rateLimit(scope.signal)
    if (scope.signal.aborted) throw scope.fail(command, new Error('aborted'))
    let res: Response
    try {
      const init = { method: 'POST', body, signal: scope.signal, ...(headers !== undefined ? { headers } : {}) }
      res = await (withTrailers ? fetchWithTrailers(url, init) : fetch(url, init))
    } catch (err) {
      if (!scope.signal.aborted) {
        this.failedRequests++
        if (this.failedRequests === 11) log.warn('rate-limiting requests to IPFS to 1req/s')
        log.error(`error posting to IPFS (${command}): ${describe(err)}`)
      }
      throw scope.fail(command, err)
    }
    if (this.failedRequests > 10) log.warn('lifting up the rate limit of requests to IPFS')
    this.failedRequests = 0
    if (res.status === 200) return res
    let text = ''
    try {
      text = await res.text()
    } catch (err) {
      throw scope.fail(command, err)
    }
    try {
      const j = JSON.parse(text) as { Message?: unknown }
      if (typeof j.Message === 'string') throw new KuboResponseError(command, res.status, j.Message)
    } catch (err) {
      if (err instanceof KuboResponseError) throw err
    }
    throw new IPFSError(`IPFS request failed (is it running?) (${command}). Code ${res.status}: ${text.trim()}`)
  }

  private scope(timeoutMs: number, command: string, options: AbortOptions): Scope {
    return new Scope(timeoutMs, `IPFS request timed out after ${timeoutMs} ms (${command})`, options.signal, this.run.signal)
  }

  /** A request whose whole JSON body is returned. */
  private async postJSON<T>(command: string, query: Query, options: AbortOptions, timeoutMs = this.init.ipfsRequestTimeoutMs, body?: BodyInit): Promise<T> {
    const scope = this.scope(timeoutMs, command, options)
    try {
      const res = await this.post(command, query, scope, body)
      const text = await res.text()
      try {
        return JSON.parse(text) as T
      } catch {
        throw new IPFSError(`IPFS error (${command}): cannot parse the response: ${text.slice(0, 200)}`)
      }
    } catch (err) {
      throw scope.fail(command, err)
    } finally {
      scope.close()
    }
  }

  /** NDJSON objects of a streamed response; the scope closes when the stream ends. */
  private async *postStream<T>(command: string, query: Query, scope: Scope): AsyncGenerator<T> {
    try {
      const res = await this.post(command, query, scope)
      if (res.body === null) return
      for await (const obj of ndjsonParse(res.body as AsyncIterable<Uint8Array>)) {
        const o = obj as { Type?: unknown; Message?: unknown }
        if (o !== null && typeof o === 'object' && o.Type === 'error' && typeof o.Message === 'string') {
          throw new KuboResponseError(command, 200, o.Message)
        }
        yield obj as T
      }
    } catch (err) {
      throw scope.fail(command, err)
    } finally {
      scope.close()
    }
  }

  // ------------------------------------------------------------ commands

  /** `id`: kubo's peer ID and addresses. @throws IPFSError */
  async id(options: AbortOptions = {}): Promise<IPFSID> {
    const res = await this.postJSON<{ ID?: string; Addresses?: string[] | null }>('id', [], options)
    if (typeof res.ID !== 'string' || res.ID === '') throw new IPFSError('IPFS error (id): the response has no ID')
    return { id: res.ID, addresses: res.Addresses ?? [], error: '' }
  }

  /**
   * Pins `pin.cid` (recursive for maxDepth -1, direct for 0, `max-depth=N`
   * otherwise), unless kubo already has it pinned that way. Before pinning it
   * asks kubo to connect to up to 10 of `pin.origins` (not awaited). When
   * `pin.pinUpdate` is set and that CID is pinned recursively, it runs
   * `pin/update?unpin=false` instead (bounded by ipfs_request_timeout), and
   * falls back to `pin/add` when kubo refuses it (`from` unpinned meanwhile).
   * Otherwise `pin/add?progress=true`: `onProgress(blocks)` is called on
   * each progress line, and the request is aborted when no progress was
   * made for `pin_timeout`.
   * @throws IPFSError (kubo error, unreachable, pin timeout), AbortError
   */
  async pin(pin: Pin, options: AbortOptions & { onProgress?: PinProgressHandler } = {}): Promise<void> {
    const cid = pin.cid.toString()
    const status = await this.pinLsCid(pin, options)
    if (isPinned(status, pin.maxDepth)) {
      log.debug(`IPFS object is already pinned: ${cid}`)
      return
    }
    await this.triggerInformers()
    const originsCtl = new AbortController()
    const stopOrigins = (): void => originsCtl.abort()
    options.signal?.addEventListener('abort', stopOrigins, { once: true })
    try {
      for (const origin of pin.origins.slice(0, 10)) {
        this.swarmConnect([origin], { signal: originsCtl.signal }).then(
          () => log.debug(`swarm-connect success to origin: ${origin}`),
          (err: unknown) => log.debug(`swarm-connect to origin ${origin}: ${describe(err)}`)
        )
      }
      if (pin.pinUpdate !== null) {
        const from = pin.pinUpdate
        const fromStatus = await this.pinLsCid({ ...pin, cid: from, maxDepth: -1 }, options).catch(() => 'error' as const)
        if (fromStatus === 'recursive') {
          const q: Query = [
            ['arg', from.toString()],
            ['arg', cid],
            ['unpin', 'false']
          ]
          try {
            await this.postJSON<unknown>('pin/update', q, options)
            clusterMetrics.pinsIpfsPins.inc()
            log.info(`IPFS Pin Update request succeeded. ${from} -> ${cid} (unpin=false)`)
            return
          } catch (err) {
            // `from` can be unpinned between the check above and pin/update:
            // a pin update is followed by the unpin of `from`, which this
            // peer's tracker runs concurrently ("'from' cid was not
            // recursively pinned already"). Upstream then fails the pin;
            // a plain pin/add still pins `to`.
            if (options.signal?.aborted === true || errorName(err) !== 'IPFSError') throw err
            log.warn(`IPFS Pin Update ${from} -> ${cid} failed (${describe(err)}): pinning ${cid} with pin/add`)
          }
        }
      }
      clusterMetrics.pinsPinAdd.inc()
      try {
        await this.pinProgress(pin, options)
      } catch (err) {
        clusterMetrics.pinsPinAddErrors.inc()
        throw err
      }
      clusterMetrics.pinsIpfsPins.inc()
      log.info(`IPFS Pin request succeeded: ${cid}`)
    } finally {
      options.signal?.removeEventListener('abort', stopOrigins)
      originsCtl.abort()
      await this.triggerInformers()
    }
  }

  private async pinProgress(pin: Pin, options: AbortOptions & { onProgress?: PinProgressHandler }): Promise<void> {
    const cid = pin.cid.toString()
    const timeoutMs = this.init.pinTimeoutMs
    const scope = new Scope(timeoutMs, `pin timeout: no progress for ${timeoutMs} ms while pinning ${cid} (pin/add)`, options.signal, this.run.signal)
    const q: Query = [['arg', cid], ...pinArgs(pin.maxDepth), ['progress', 'true']]
    let last = 0
    let pinned = false
    for await (const line of this.postStream<{ Pins?: string[] | null; Progress?: number }>('pin/add', q, scope)) {
      if (typeof line.Progress === 'number') {
        if (line.Progress > last) {
          last = line.Progress
          scope.reset(timeoutMs)
        }
        options.onProgress?.(line.Progress)
      }
      if (Array.isArray(line.Pins) && line.Pins.length > 0) pinned = true
    }
    if (!pinned) throw new IPFSError(`IPFS error (pin/add): the response ended before the pin of ${cid} was confirmed`)
  }

  /**
   * `pin/rm` (recursive), bounded by unpin_timeout. A CID that is not
   * pinned is not an error.
   * @throws IPFSError (also when `unpinDisable` is set), AbortError
   */
  async unpin(cid: CID, options: AbortOptions = {}): Promise<void> {
    if (this.init.unpinDisable) throw new IPFSError('ipfs unpinning is disallowed by configuration on this peer')
    // no informer trigger: upstream v1.1.6 leaves it out of Unpin (an unpin
    // frees no space and leaves the pin queue as it is)
    try {
      await this.postJSON<unknown>('pin/rm', [['arg', cid.toString()]], options, this.init.unpinTimeoutMs)
      clusterMetrics.pinsIpfsPins.dec()
      log.info(`IPFS Unpin request succeeded: ${cid}`)
    } catch (err) {
      if (!isNotPinned(err)) throw err
      log.debug(`IPFS object is already unpinned: ${cid}`)
    }
  }

  /**
   * `pin/ls?stream=true&type=<filter>`: kubo's pins, streamed. `typeFilter`
   * is `recursive`, `direct`, `indirect`, `all`, or several joined by
   * commas (each listed in turn). The whole listing is bounded by
   * ipfs_request_timeout.
   * @throws IPFSError, AbortError
   */
  async *pinLs(typeFilter: string, options: AbortOptions = {}): AsyncGenerator<IPFSPinInfo> {
    const filters = typeFilter
      .split(',')
      .map((s) => s.trim())
      .filter((s) => s !== '')
    if (filters.length === 0) filters.push('all')
    const scope = this.scope(this.init.ipfsRequestTimeoutMs, 'pin/ls', options)
    let total = 0
    try {
      for (const f of filters) {
        // each stream closes the scope when it ends: give each its own child scope
        const child = new Scope(0, '', scope.signal, this.run.signal)
        try {
          for await (const p of this.postStream<{ Cid?: string; Type?: string }>('pin/ls', [['stream', 'true'], ['type', f]], child)) {
            if (typeof p.Cid !== 'string') continue
            total++
            yield { cid: parseCidString(p.Cid), type: toPinStatus(p.Type) }
          }
        } catch (err) {
          throw scope.fail('pin/ls', err)
        }
      }
      clusterMetrics.pinsIpfsPins.set(total)
    } finally {
      scope.close()
    }
  }

  /**
   * Status of `pin.cid` in kubo, asked with the type matching
   * `pin.maxDepth` (`recursive` for -1 and shards, `direct` for 0):
   * `unpinned` when kubo says it is not pinned.
   * @throws IPFSError, AbortError
   */
  async pinLsCid(pin: Pin, options: AbortOptions = {}): Promise<IPFSPinStatus> {
    const type = pin.maxDepth === 0 ? 'direct' : 'recursive'
    const scope = this.scope(this.init.ipfsRequestTimeoutMs, 'pin/ls', options)
    const q: Query = [
      ['stream', 'true'],
      ['arg', pin.cid.toString()],
      ['type', type]
    ]
    try {
      for await (const p of this.postStream<{ Type?: string }>('pin/ls', q, scope)) {
        return toPinStatus(p.Type)
      }
      return 'unpinned'
    } catch (err) {
      if (isNotPinned(err)) return 'unpinned'
      throw err
    } finally {
      scope.close()
    }
  }

  /**
   * Asks kubo to connect to the IPFS daemons of every cluster peer
   * (from `components.clusterPeers`); individual failures are only logged.
   */
  async connectSwarms(options: AbortOptions = {}): Promise<void> {
    const peers = this.components.clusterPeers
    if (peers === undefined) return
    const scope = this.scope(this.init.ipfsRequestTimeoutMs, 'connectSwarms', options)
    try {
      for await (const id of peers({ signal: scope.signal })) {
        if (id.error !== '' || id.ipfs.error !== '') continue
        for (const addr of id.ipfs.addresses) {
          try {
            await this.swarmConnect([addr], { signal: scope.signal })
            log.debug(`ipfs successfully connected to ${addr}`)
          } catch (err) {
            if (scope.signal.aborted) throw err
            log.debug(`ipfs could not connect to ${addr}: ${describe(err)}`)
          }
        }
      }
    } catch (err) {
      const e = scope.fail('connectSwarms', err)
      if (e instanceof AbortError) throw e
      log.error(e.message)
    } finally {
      scope.close()
    }
  }

  /** `swarm/connect?arg=<addr>…` (addresses must include `/p2p/<id>`). @throws IPFSError, AbortError */
  async swarmConnect(addrs: string[], options: AbortOptions = {}): Promise<void> {
    if (addrs.length === 0) return
    await this.postJSON<unknown>(
      'swarm/connect',
      addrs.map((a) => ['arg', a]),
      options
    )
  }

  /** `swarm/peers`: peer IDs kubo is connected to. @throws IPFSError, AbortError */
  async swarmPeers(options: AbortOptions = {}): Promise<string[]> {
    const res = await this.postJSON<{ Peers?: { Peer?: string }[] | null }>('swarm/peers', [], options)
    return (res.Peers ?? []).map((p) => p.Peer).filter((p): p is string => typeof p === 'string')
  }

  /**
   * A value of kubo's config (`config/show`), by a `/`-separated path such
   * as `Datastore/StorageMax`.
   * @throws NotFoundError when the key is absent, IPFSError, AbortError
   */
  async configKey(key: string, options: AbortOptions = {}): Promise<unknown> {
    const cfg = await this.postJSON<unknown>('config/show', [], options)
    const path = key.split('/').filter((s) => s !== '')
    if (path.length === 0) throw new InvalidArgumentError('cannot lookup without a path')
    let v: unknown = cfg
    for (const seg of path) {
      if (v === null || typeof v !== 'object' || Array.isArray(v) || !Object.hasOwn(v, seg)) {
        throw new NotFoundError(`key not found in configuration: ${key}`)
      }
      v = (v as Record<string, unknown>)[seg]
    }
    return v
  }

  /**
   * `repo/stat?size-only=true`: sizes in bytes; with `sizeOnly: false` the
   * full stat (kubo then counts the objects: slower).
   * @throws IPFSError, AbortError
   */
  async repoStat(options: AbortOptions & { sizeOnly?: boolean } = {}): Promise<IPFSRepoStat> {
    const sizeOnly = options.sizeOnly ?? true
    type Stat = { RepoSize?: number; StorageMax?: number; NumObjects?: number; RepoPath?: string; Version?: string }
    const res = await this.postJSON<Stat>('repo/stat', sizeOnly ? [['size-only', 'true']] : [], options)
    const st: IPFSRepoStat = { repoSize: Number(res.RepoSize ?? 0), storageMax: Number(res.StorageMax ?? 0) }
    if (!sizeOnly) {
      st.numObjects = Number(res.NumObjects ?? 0)
      st.repoPath = res.RepoPath ?? ''
      st.version = res.Version ?? ''
    }
    return st
  }

  /**
   * `repo/gc?stream-errors=true`, streamed: one item per removed block
   * (`key`) or per error (`key` null, `error` set). Bounded by repogc_timeout.
   * @throws IPFSError, AbortError
   */
  async *repoGC(options: AbortOptions = {}): AsyncGenerator<{ key: CID | null; error: string }> {
    const scope = this.scope(this.init.repoGcTimeoutMs, 'repo/gc', options)
    try {
      for await (const r of this.postStream<{ Key?: unknown; Error?: string }>('repo/gc', [['stream-errors', 'true']], scope)) {
        yield { key: parseKey(r.Key), error: r.Error ?? '' }
      }
    } finally {
      scope.close()
      await this.triggerInformers()
    }
  }

  /**
   * Resolves an IPFS path to the CID it points to: `/ipfs/<cid>` (or a bare
   * CID) without asking kubo, `/ipfs/<cid>/sub/path`, `/ipns/…`, `/ipld/…`
   * through kubo's `resolve`.
   * @throws InvalidArgumentError (unparseable path), IPFSError, AbortError
   */
  async resolve(path: string, options: AbortOptions = {}): Promise<CID> {
    const { segs, root } = parseIpfsPath(path)
    if (root !== undefined && segs.length === 2) return root
    const res = await this.postJSON<{ Path?: string }>('resolve', [['arg', `/${segs.join('/')}`]], options)
    const out = (res.Path ?? '').split('/').filter((s) => s !== '')
    if (out.length < 2 || (out[0] !== 'ipfs' && out[0] !== 'ipld')) {
      throw new IPFSError(`IPFS error (resolve): resolved path is not immutable: ${res.Path ?? ''}`)
    }
    try {
      return CID.parse(out[1]!)
    } catch (err) {
      throw new IPFSError(`IPFS error (resolve): invalid CID in resolved path ${res.Path ?? ''}: ${describe(err)}`)
    }
  }

  /**
   * `block/put` (pin=false, allow-big-block). `format` is the CID codec
   * (`raw` by default; legacy names `protobuf`/`v0` → dag-pb, `cbor` →
   * dag-cbor), `mhtype` the hash (`sha2-256`); `cidVersion: 0` returns the
   * CIDv0 form when the block is dag-pb + sha2-256.
   * @throws IPFSError, AbortError
   */
  async blockPut(data: Uint8Array, opts: { format?: string; mhtype?: string; cidVersion?: number }, options: AbortOptions = {}): Promise<CID> {
    let codec = opts.format ?? 'raw'
    if (codec === 'protobuf' || codec === 'v0') codec = 'dag-pb'
    if (codec === 'cbor') codec = 'dag-cbor'
    const q: Query = [
      ['cid-codec', codec],
      ['mhtype', opts.mhtype ?? 'sha2-256'],
      ['pin', 'false'],
      ['allow-big-block', 'true']
    ]
    const form = new FormData()
    form.append('file', new Blob([data as Uint8Array<ArrayBuffer>]), 'block')
    clusterMetrics.blocksPut.inc()
    let res: { Key?: string }
    try {
      res = await this.postJSON<{ Key?: string }>('block/put', q, options, this.init.ipfsRequestTimeoutMs, form)
      if (typeof res.Key !== 'string') throw new IPFSError('IPFS error (block/put): the response has no Key')
    } catch (err) {
      clusterMetrics.blocksPutErrors.inc()
      throw err
    }
    clusterMetrics.blocksAdded.inc()
    clusterMetrics.blocksAddedSize.inc(data.length)
    let cid = CID.parse(res.Key)
    if (opts.cidVersion === 0 && cid.code === 0x70 && cid.multihash.code === 0x12) cid = cid.toV0()
    return cid
  }

  /** `block/get`: the raw bytes of a block. @throws IPFSError, AbortError */
  async blockGet(cid: CID, options: AbortOptions = {}): Promise<Uint8Array> {
    const scope = this.scope(this.init.ipfsRequestTimeoutMs, 'block/get', options)
    try {
      const res = await this.post('block/get', [['arg', cid.toString()]], scope)
      return new Uint8Array(await res.arrayBuffer())
    } catch (err) {
      throw scope.fail('block/get', err)
    } finally {
      scope.close()
    }
  }

  /**
   * Stores a stream of blocks in kubo (upstream `BlockStream`, which sends
   * one `block/put` multipart stream). Raw and dag-pb blocks (every block
   * of a UnixFS add) go as one CARv1 stream in a single `dag/import` request
   * (`pin-roots=false`, `allow-big-block=true`, no provide of the header's
   * root, `stats=true`): kubo checks every block's bytes against its CID and
   * writes them in batches, which costs it about what `ipfs add` costs
   * (`block/put` stores block by block, measured at 1.5 to 2 times kubo's
   * CPU; see bench/kubo-ingest.ts). Blocks of other codecs go in streamed
   * `block/put` multipart requests (`cid-codec`, `mhtype`, `pin=false`),
   * one part per block, at most {@link BLOCK_STREAM_BATCH} blocks of one
   * codec and hash function per request, each stored CID checked against
   * the one given. A request ends where the next block needs the other
   * kind; the next request starts while kubo answers the previous one (at
   * most {@link BLOCK_STREAM_CONCURRENCY} in flight). The first failure
   * stops the others. The timeout (`ipfs_request_timeout`) counts from the
   * last block sent or acknowledged.
   * @throws IPFSError (kubo unreachable or failing, unsupported codec or
   *   hash, a block whose bytes do not match its CID, fewer blocks stored
   *   than sent), AbortError; an error of `blocks` itself is rethrown as is.
   */
  async blockStream(blocks: AsyncIterable<{ cid: CID; bytes: Uint8Array }>, options: AbortOptions = {}): Promise<void> {
    const it = blocks[Symbol.asyncIterator]()
    let sourceError: unknown
    let failure: unknown
    let next = await it.next()
    // a failed request stops its siblings
    const stopAll = new AbortController()
    const signal = options.signal !== undefined ? AbortSignal.any([options.signal, stopAll.signal]) : stopAll.signal
    const inflight = new Set<Promise<void>>()
    const timeoutMs = this.init.ipfsRequestTimeoutMs
    try {
      while (next.done !== true && failure === undefined) {
        const first = next.value.cid
        const viaImport = IMPORT_CODECS.has(first.code)
        const command = viaImport ? 'dag/import' : 'block/put'
        const codec = CODEC_NAMES.get(first.code)
        const mhtype = MULTIHASH_NAMES.get(first.multihash.code)
        if (codec === undefined) throw new IPFSError(`IPFS error (${command}): unsupported block codec 0x${first.code.toString(16)}`)
        if (mhtype === undefined) throw new IPFSError(`IPFS error (${command}): unsupported hash function 0x${first.multihash.code.toString(16)}`)
        const sent: CID[] = []
        let bytesSent = 0
        const scope = this.scope(timeoutMs, command, { signal })
        let bodyTaken: () => void = () => {}
        const taken = new Promise<void>((resolve) => {
          bodyTaken = resolve
        })
        // whether the next block belongs to this request
        const belongs = (cid: CID): boolean =>
          viaImport
            ? IMPORT_CODECS.has(cid.code) && MULTIHASH_NAMES.has(cid.multihash.code)
            : sent.length < BLOCK_STREAM_BATCH && cid.code === first.code && cid.multihash.code === first.multihash.code
        // the blocks of this request, each taken from the source as the body is read
        async function* take(): AsyncGenerator<{ cid: CID; bytes: Uint8Array }> {
          try {
            while (true) {
              const cur = next
              if (cur.done === true || !belongs(cur.value.cid)) return
              sent.push(cur.value.cid)
              bytesSent += cur.value.bytes.length
              scope.reset(timeoutMs)
              yield cur.value
              next = await it.next()
            }
          } catch (err) {
            sourceError = err
            throw err
          } finally {
            bodyTaken()
          }
        }
        const parts = viaImport ? carParts(first, take()) : blockParts(take())
        const { body, contentType } = encodeMultipart(parts)
        const q: Query = viaImport
          ? [
              ['pin-roots', 'false'],
              ['stats', 'true'],
              ['allow-big-block', 'true'],
              // the header's root is only the first block: nothing to announce
              ['fast-provide-root', 'false'],
              ['fast-provide-dag', 'false']
            ]
          : [
              ['cid-codec', codec],
              ['mhtype', mhtype],
              ['pin', 'false'],
              ['allow-big-block', 'true']
            ]
        clusterMetrics.blocksPut.inc()
        const request = (async (): Promise<void> => {
          try {
            const res = await this.post(command, q, scope, body, { 'Content-Type': contentType })
            const acked = viaImport ? await checkImport(res, sent.length, bytesSent) : await checkPuts(res, sent, () => scope.reset(timeoutMs))
            if (acked !== sent.length) throw new IPFSError(`IPFS error (${command}): kubo stored ${acked} of ${sent.length} blocks`)
            clusterMetrics.blocksAdded.inc(sent.length)
            clusterMetrics.blocksAddedSize.inc(bytesSent)
            log.debug(`${command}: stored ${sent.length} blocks (${bytesSent} bytes)`)
          } catch (err) {
            clusterMetrics.blocksPutErrors.inc()
            const e = viaImport ? importFailure(err) : err
            failure ??= sourceError ?? (e instanceof IPFSError ? e : scope.fail(command, e))
            stopAll.abort()
          } finally {
            scope.close()
            bodyTaken()
          }
        })()
        inflight.add(request)
        void request.finally(() => inflight.delete(request))
        // the next request starts once this one has taken its blocks
        await taken
        while (inflight.size >= BLOCK_STREAM_CONCURRENCY) await Promise.race(inflight)
      }
      await Promise.all(inflight)
      if (failure === undefined && options.signal?.aborted === true) throw new AbortError('IPFS request aborted (block/put)')
      if (failure !== undefined) throw failure
    } finally {
      stopAll.abort()
      await Promise.allSettled(inflight)
      if (next.done !== true) await it.return?.(undefined)
    }
    await this.triggerInformers()
  }

  /**
   * Why kubo's `add` could give other CIDs than the cluster adder (a
   * non-default `Import` setting, see `importConfigRefusal`), or `null`.
   * kubo's config is read with `config/show` at most every
   * {@link IMPORT_CONFIG_TTL_MS} (kubo applies a config change to the next
   * `add`, so it is read again after that).
   * @throws IPFSError, AbortError
   */
  async relayRefusal(options: AbortOptions = {}): Promise<string | null> {
    const cached = this.importCheck
    if (cached !== undefined && Date.now() - cached.at < IMPORT_CONFIG_TTL_MS) return cached.refusal
    const cfg = await this.postJSON<unknown>('config/show', [], options)
    const refusal = importConfigRefusal(cfg)
    this.importCheck = { at: Date.now(), refusal }
    if (refusal !== null) log.debug(`adds are not relayed to kubo: ${refusal}`)
    return refusal
  }

  /**
   * kubo's own `add` of a multipart/form-data upload (the add relay, see
   * `src/adder/relay.ts`): streams `body` to `POST /api/v0/add?<query>`
   * and yields kubo's output lines as they come. kubo reports a failure
   * after its first line only in the `X-Stream-Error` trailer, which is
   * read (the request goes over `node:http`; `fetch` drops trailers) once
   * the output ends. The timeout (`ipfs_request_timeout`) counts from the
   * last chunk sent or line received. Closing the generator early aborts
   * the request: kubo's add stops. `contentLength` (the body's exact
   * length, when known) is sent as `Content-Length`.
   * @throws IPFSError (kubo unreachable, an error status, an error line or
   *   trailer, output that is not kubo's), AbortError; an error of `body`
   *   itself is rethrown as is.
   */
  async *add(
    body: AsyncIterable<Uint8Array>,
    contentType: string,
    query: Query,
    options: AbortOptions & { contentLength?: number } = {}
  ): AsyncGenerator<KuboAddEvent> {
    const command = 'add'
    const timeoutMs = this.init.ipfsRequestTimeoutMs
    // ends the request when the generator is closed early (the scope's own
    // links to the caller's signal are gone once it is closed)
    const stop = new AbortController()
    const scope = this.scope(timeoutMs, command, { signal: options.signal !== undefined ? AbortSignal.any([options.signal, stop.signal]) : stop.signal })
    let sourceError: unknown
    let complete = false
    const it = body[Symbol.asyncIterator]()
    const stream = new ReadableStream<Uint8Array>(
      {
        async pull(ctrl) {
          try {
            const r = await it.next()
            scope.reset(timeoutMs)
            if (r.done === true) ctrl.close()
            else ctrl.enqueue(r.value)
          } catch (err) {
            sourceError = err
            ctrl.error(err)
          }
        },
        async cancel() {
          await it.return?.(undefined)
        }
      },
      { highWaterMark: 0 }
    )
    try {
      // a known length: no chunked framing (node:http copies each chunk to frame it)
      const headers: Record<string, string> = { 'Content-Type': contentType }
      if (options.contentLength !== undefined) headers['Content-Length'] = String(options.contentLength)
      const res = await this.post(command, query, scope, stream, headers, true)
      if (res.body === null) throw new IPFSError('IPFS error (add): the response has no body')
      const out = res.body as TrailerCarrier
      try {
        for await (const obj of ndjsonParse(out as unknown as AsyncIterable<Uint8Array>)) {
          scope.reset(timeoutMs)
          const o = obj as { Type?: unknown; Message?: unknown; Name?: unknown }
          if (o !== null && typeof o === 'object' && o.Type === 'error' && typeof o.Message === 'string') throw new KuboResponseError(command, 200, o.Message)
          if (o === null || typeof o !== 'object' || typeof o.Name !== 'string') throw new IPFSError(`IPFS error (add): unexpected output line ${JSON.stringify(obj).slice(0, 200)}`)
          yield obj as KuboAddEvent
        }
      } catch (err) {
        if (sourceError !== undefined) throw sourceError
        throw err
      }
      const trailer = (out[RESPONSE_TRAILERS]?.() ?? []).find(([k]) => k.toLowerCase() === STREAM_ERROR_TRAILER.toLowerCase())
      if (trailer !== undefined && trailer[1] !== '') throw new KuboResponseError(command, 200, trailer[1])
      if (sourceError !== undefined) throw sourceError
      complete = true
    } catch (err) {
      if (sourceError !== undefined && !scope.signal.aborted) throw sourceError
      throw err instanceof IPFSError ? err : scope.fail(command, err)
    } finally {
      if (!complete) stop.abort()
      scope.close()
      if (!stream.locked) await stream.cancel().catch(() => {})
    }
  }

  private async triggerInformers(): Promise<void> {
    const n = this.init.informerTriggerInterval ?? 0
    const send = this.components.sendInformersMetrics
    if (n <= 0 || send === undefined) return
    this.informerCount++
    if (this.informerCount < n) return
    this.informerCount = 0
    try {
      await send({ signal: this.run.signal })
    } catch (err) {
      log.error(`sending informer metrics: ${describe(err)}`)
    }
  }
}

/**
 * Splits an IPFS path (`/ipfs/<cid>/…`, `/ipns/…`, `/ipld/<cid>/…`, or a
 * bare CID) into its segments and, except for `/ipns/`, its root CID.
 * @throws InvalidArgumentError for another namespace, a missing root or an invalid CID
 */
export function parseIpfsPath(path: string): { segs: string[]; root: CID | undefined } {
  let p = path.trim()
  if (!p.startsWith('/')) p = `/ipfs/${p}`
  const segs = p.split('/').filter((s) => s !== '')
  const ns = segs[0]
  if (segs.length < 2 || (ns !== 'ipfs' && ns !== 'ipns' && ns !== 'ipld')) throw new InvalidArgumentError(`invalid path "${path}"`)
  if (ns === 'ipns') return { segs, root: undefined }
  try {
    return { segs, root: CID.parse(segs[1]!) }
  } catch (err) {
    throw new InvalidArgumentError(`invalid path "${path}": ${describe(err)}`)
  }
}

/** Upstream `pinArgs`: recursive / direct / recursive with max-depth. */
function pinArgs(maxDepth: number): Query {
  if (maxDepth < 0) return [['recursive', 'true']]
  if (maxDepth === 0) return [['recursive', 'false']]
  return [
    ['recursive', 'true'],
    ['max-depth', String(maxDepth)]
  ]
}

/** Upstream `IPFSPinStatus.IsPinned`. */
export function isPinned(status: IPFSPinStatus, maxDepth: number): boolean {
  if (maxDepth === 0) return status === 'direct'
  return status === 'recursive'
}

function toPinStatus(t: unknown): IPFSPinStatus {
  if (typeof t !== 'string') return 'bug'
  // kubo reports "recursive", "direct", "indirect" or "indirect through <cid>"
  if (t === 'recursive' || t === 'direct') return t
  if (t.startsWith('indirect')) return 'indirect'
  return 'bug'
}

function parseKey(k: unknown): CID | null {
  try {
    if (typeof k === 'string' && k !== '') return CID.parse(k)
    if (k !== null && typeof k === 'object' && typeof (k as { '/'?: unknown })['/'] === 'string') {
      return CID.parse((k as { '/': string })['/'])
    }
  } catch {
    // fall through
  }
  return null
}

/** Resolves after `ms`, or early (without error) when `signal` aborts; leaves no timer behind. */
export function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) {
      resolve()
      return
    }
    const done = (): void => {
      clearTimeout(t)
      signal.removeEventListener('abort', done)
      resolve()
    }
    const t = setTimeout(done, ms)
    signal.addEventListener('abort', done, { once: true })
  })
}

/** One multipart part per block (`block/put`). */
async function* blockParts(blocks: AsyncIterable<{ cid: CID; bytes: Uint8Array }>): AsyncGenerator<UploadEntry> {
  for await (const { bytes } of blocks) {
    yield {
      kind: 'file',
      path: 'block',
      content: async function* () {
        yield bytes
      }
    }
  }
}

/** One multipart part holding the CARv1 stream of `blocks` (`dag/import`), see {@link carV1Stream}. */
function carParts(first: CID, blocks: AsyncIterable<{ cid: CID; bytes: Uint8Array }>): UploadEntry[] {
  return [{ kind: 'file', path: 'blocks.car', content: () => carV1Stream(first, blocks) }]
}

/**
 * Reads `dag/import`'s answer (`{"Stats":{"BlockCount","BlockBytesCount"}}`;
 * kubo emits nothing before the end, so its failures are a 500 status,
 * which `post` turns into a KuboResponseError) and returns the number of
 * blocks kubo stored.
 * @throws IPFSError when the answer has no stats, or fewer bytes were stored.
 */
async function checkImport(res: Response, blocks: number, bytes: number): Promise<number> {
  let count = -1
  for await (const obj of ndjsonParse(res.body as AsyncIterable<Uint8Array>)) {
    const o = obj as { Message?: unknown; Type?: unknown; Stats?: { BlockCount?: unknown; BlockBytesCount?: unknown } }
    if (o.Type === 'error' && typeof o.Message === 'string') throw new KuboResponseError('dag/import', 200, o.Message)
    if (o.Stats === undefined) continue
    count = Number(o.Stats.BlockCount)
    if (count === blocks && Number(o.Stats.BlockBytesCount) !== bytes) {
      throw new IPFSError(`IPFS error (dag/import): kubo stored ${String(o.Stats.BlockBytesCount)} bytes of ${bytes}`)
    }
  }
  if (count < 0) throw new IPFSError('IPFS error (dag/import): the response has no Stats')
  return count
}

/** kubo's "mismatch in content integrity" (a block whose bytes do not hash to its CID) as our error; other errors unchanged. */
function importFailure(err: unknown): unknown {
  if (!(err instanceof KuboResponseError)) return err
  const m = /mismatch in content integrity, expected: (\S+), got: (\S+)/.exec(err.kuboMessage)
  if (m === null) return err
  return new IPFSError(`IPFS error (dag/import): block ${m[1]} does not match its bytes (they hash to ${m[2]})`, { cause: err })
}

/**
 * Reads `block/put`'s answer (one `{Key}` per block, in order), checking
 * each stored CID's multihash against the one sent; returns how many were
 * acknowledged. `onAck` is called per line (the timeout restarts).
 * @throws KuboResponseError; IPFSError on a stored CID that differs.
 */
async function checkPuts(res: Response, sent: CID[], onAck: () => void): Promise<number> {
  let i = 0
  for await (const obj of ndjsonParse(res.body as AsyncIterable<Uint8Array>)) {
    const o = obj as { Key?: unknown; Message?: unknown; Type?: unknown }
    if (o.Type === 'error' && typeof o.Message === 'string') throw new KuboResponseError('block/put', 200, o.Message)
    const want = sent[i++]
    const got = typeof o.Key === 'string' ? CID.parse(o.Key) : undefined
    if (want === undefined || got === undefined || !uint8ArrayEquals(want.multihash.bytes, got.multihash.bytes)) {
      throw new IPFSError(`IPFS error (block/put): stored block ${String(o.Key)} does not match the block sent (${want?.toString() ?? 'none'})`)
    }
    onAck()
  }
  return i
}

/**
 * Codecs sent by `dag/import`: raw and dag-pb, the blocks of a UnixFS
 * add. kubo's import decodes every block (it refuses a codec it has no
 * decoder for, and bytes its decoder cannot read), where `block/put`
 * stores any bytes: the blocks of other codecs (from CAR uploads) keep
 * going by `block/put`, as upstream sends them.
 */
const IMPORT_CODECS = new Set([0x55, 0x70])

/** Blocks per `block/put` request of {@link IpfsHttpConnector.blockStream}. */
export const BLOCK_STREAM_BATCH = 256

/** How long `relayRefusal` trusts the kubo config it read (ms). */
export const IMPORT_CONFIG_TTL_MS = 5_000

/** `block/put` requests of one {@link IpfsHttpConnector.blockStream} in flight at once. */
export const BLOCK_STREAM_CONCURRENCY = 2

/** kubo `cid-codec` names of the codecs an upload can carry. */
const CODEC_NAMES = new Map<number, string>([
  [0x55, 'raw'],
  [0x70, 'dag-pb'],
  [0x71, 'dag-cbor'],
  [0x0129, 'dag-json'],
  [0x0200, 'json'],
  [0x51, 'cbor'],
  [0x72, 'libp2p-key'],
  [0x78, 'git-raw']
])

/** kubo `mhtype` names (go-multihash `Codes`). */
const MULTIHASH_NAMES = new Map<number, string>([
  [0x00, 'identity'],
  [0x11, 'sha1'],
  [0x12, 'sha2-256'],
  [0x13, 'sha2-512'],
  [0x14, 'sha3-512'],
  [0x15, 'sha3-384'],
  [0x16, 'sha3-256'],
  [0x17, 'sha3-224'],
  [0x1b, 'keccak-256'],
  [0x1d, 'keccak-512'],
  [0x1e, 'blake3'],
  [0xb220, 'blake2b-256'],
  [0xb240, 'blake2b-512'],
  [0xb260, 'blake2s-256']
])

