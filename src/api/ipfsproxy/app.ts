/**
 * The IPFS Proxy API as a Hono app (upstream `api/ipfsproxy/ipfsproxy.go`):
 * kubo's RPC API, where the commands that touch pins are answered by the
 * cluster and everything else is relayed to the IPFS daemon.
 *
 * Hijacked (methods POST, GET, PUT; see `HIJACKED`): `pin/add`, `pin/rm`,
 * `pin/ls` (also in the `/<command>/<arg>` form), `pin/update`, `add`,
 * `repo/stat`, `repo/gc`, `block/put` and `dag/put` with `pin=true`.
 * Answers use kubo's JSON shapes; errors kubo's
 * `{"Message","Code","Type":"error"}`.
 *
 * Where upstream is wrong, this one is not: every `arg` is handled,
 * `recursive=false` pins direct, `pin/add?name=` names the pin,
 * `pin/ls` honours `type`, `names` and `name` (kubo 0.42: a part of the name) and gives each pin its mode,
 * `add?only-hash=true` only computes the CIDs (nothing stored, nothing
 * pinned), `repo/stat` sums every field kubo gives over the peers, and
 * `block/put`/`dag/put` never pin in the local kubo behind the cluster's
 * back (the cluster pins with its allocations). With REST API credentials,
 * every request except `OPTIONS` needs them (upstream has no auth).
 */
import { type Context, Hono } from 'hono'
import type { CID } from 'multiformats/cid'
import { addUpload, type UploadComponents } from '../../adder/upload.ts'
import { type AddParams, addParamsFromQuery } from '../../adder/params.ts'
import { announcedLength } from '../../adder/relay.ts'
import type { BlockSink } from '../../adder/sink.ts'
import { ClusterError, errorMessage, errorName, InvalidArgumentError } from '../../errors.ts'
import type { AbortOptions, ClusterAPI } from '../../interfaces.ts'
import { getLogger } from '../../observability/logging.ts'
import { RESPONSE_TRAILERS, remoteAddressOf, STREAM_ERROR_TRAILER, type TrailerCarrier, type TrailerList } from '../../runtime/http.ts'
import { defaultPinOptions, type IPFSRepoStat, type PeerId, type Pin, type PinMode } from '../../types/index.ts'
import { parseCid } from '../../types/json.ts'
import { authMiddleware, type BasicAuthCredentials, UnauthorizedError } from '../rest/auth.ts'
import { HeaderExtractor, SERVER_HEADER } from './headers.ts'
import { forward, type NodeFetch } from './node.ts'

const log = getLogger('ipfsproxy')

/** A required argument is missing (kubo: 400, `Code` 1). */
export class MissingArgumentError extends ClusterError {
  static override name = 'MissingArgumentError'
  constructor(arg: string) {
    super(`argument "${arg}" is required`)
  }
}

/** The settings the app uses. */
export interface IpfsProxyInit {
  /** the REST API's `basic_auth_credentials`: null = no auth. */
  basicAuthCredentials: BasicAuthCredentials
  extractHeadersPath: string
  extractHeadersExtra: string[]
  /** ms; 0 = never expires. */
  extractHeadersTtlMs: number
}

/** What the app uses of the peer. */
export interface IpfsProxyComponents {
  cluster: Pick<ClusterAPI, 'pin' | 'pinPath' | 'unpin' | 'unpinPath' | 'pins' | 'pinGet' | 'repoGC'>
  /** Resolves an IPFS path to a CID (the IPFS connector's `resolve`). */
  resolve: (path: string, options?: AbortOptions) => Promise<CID>
  /** This peer's ID (its kubo gives `RepoPath` and `Version` of `repo/stat`). */
  localPeer: PeerId
  /** The cluster's peerset. */
  peers: (options?: AbortOptions) => Promise<PeerId[]>
  /** One peer's kubo `repo/stat` (RPC `IPFSConnector.RepoStat`). */
  repoStat: (peer: PeerId, opts: { sizeOnly: boolean }, options?: AbortOptions) => Promise<IPFSRepoStat>
  /** The adder (as the REST API's `/add` uses it). */
  adder: UploadComponents
  /** Requests to the IPFS daemon behind the proxy. */
  fetchNode: NodeFetch
}

/** kubo's error body and status for a thrown value. */
export function kuboError(err: unknown): { status: number; body: { Message: string; Code: number; Type: 'error' } } {
  const name = errorName(err)
  const message = errorMessage(err)
  if (name === 'MissingArgumentError' || name === 'InvalidArgumentError') return { status: 400, body: { Message: message, Code: 1, Type: 'error' } }
  if (name === 'UnauthorizedError') return { status: 401, body: { Message: message, Code: 0, Type: 'error' } }
  return { status: 500, body: { Message: message, Code: 0, Type: 'error' } }
}

/** Go `strconv.ParseBool` of a query flag. @throws InvalidArgumentError */
function flag(q: URLSearchParams, name: string, dflt: boolean): boolean {
  const v = q.get(name)
  if (v === null || v === '') return dflt
  if (['1', 't', 'T', 'true', 'TRUE', 'True'].includes(v)) return true
  if (['0', 'f', 'F', 'false', 'FALSE', 'False'].includes(v)) return false
  throw new InvalidArgumentError(`invalid value for option "${name}": ${v}`)
}

/** A kubo path argument: `/ipfs/…`, `/ipns/…`, `/ipld/…`, or a bare CID (`/ipfs/<cid>`). */
function toPath(arg: string): string {
  return arg.startsWith('/') ? arg : `/ipfs/${arg}`
}

/** The CID of a `pin/ls` argument: a CID or `/ipfs/<cid>`. @throws InvalidArgumentError */
function cidArg(arg: string): CID {
  const m = /^\/ipfs\/([^/]+)\/?$/.exec(arg)
  return parseCid(m !== null ? m[1] : arg, 'path')
}

function json(value: unknown, status = 200): Response {
  return new Response(`${JSON.stringify(value)}\n`, { status, headers: { 'Content-Type': 'application/json' } })
}

/**
 * A streamed answer: the lines of `source`, each flushed as produced; an
 * error after the first byte goes in the `X-Stream-Error` trailer.
 * @param collectErrors extra errors (not failures) for the trailer
 */
function streamLines(source: AsyncGenerator<string>, headers: HeadersInit = {}, collectErrors?: () => string[]): Response {
  const enc = new TextEncoder()
  let streamError = ''
  let finished = false
  const body = new ReadableStream<Uint8Array>(
    {
      async pull(ctrl) {
        try {
          const r = await source.next()
          if (r.done === true) {
            finished = true
            ctrl.close()
            return
          }
          ctrl.enqueue(enc.encode(r.value))
        } catch (err) {
          streamError = errorMessage(err)
          log.error(`stream error: ${streamError}`)
          finished = true
          ctrl.close()
        }
      },
      async cancel() {
        if (finished) return
        finished = true
        await source.return(undefined).catch((err: unknown) => log.debug(`closing stream: ${errorMessage(err)}`))
      }
    },
    { highWaterMark: 0 }
  ) as TrailerCarrier
  body[RESPONSE_TRAILERS] = (): TrailerList => {
    const all = [...(collectErrors?.() ?? []), ...(streamError !== '' ? [streamError] : [])]
    return [[STREAM_ERROR_TRAILER, all.join('; ')]]
  }
  const h = new Headers(headers)
  h.set('Content-Type', 'application/json')
  h.set('X-Chunked-Output', '1')
  h.set('Trailer', STREAM_ERROR_TRAILER)
  return new Response(body, { status: 200, headers: h })
}

/** Kubo's `add` output line (`AddEvent`: `Hash`, `Bytes`, `Size` omitted when empty). */
function addEvent(o: { name: string; cid?: CID | undefined; bytes?: number | undefined; size?: number | undefined }): Record<string, unknown> {
  const e: Record<string, unknown> = { Name: o.name }
  if (o.cid !== undefined) e.Hash = o.cid.toString()
  if (o.bytes !== undefined && o.bytes !== 0) e.Bytes = o.bytes
  if (o.size !== undefined && o.size !== 0) e.Size = String(o.size)
  return e
}

/** The placeholder path of an unnamed upload (stdin); never seen by clients. */
const STDIN_NAME = '\u0000stdin'

/** A sink that stores nothing (`add?only-hash=true`). */
function discardSink(): BlockSink {
  return { put: async () => {}, close: async () => {}, abort: () => {} }
}

/**
 * kubo's `add` options as the cluster adder's params: `pin=false` is
 * `no-pin`, `trickle=true` the trickle layout, `pin-name` the pin's name.
 * Options that would give other CIDs than kubo, or that the cluster cannot
 * do, are refused rather than ignored.
 * @throws InvalidArgumentError
 */
export function addParamsFromKuboQuery(q: URLSearchParams): { params: AddParams; onlyHash: boolean } {
  const t = new URLSearchParams(q)
  for (const opt of ['inline', 'preserve-mode', 'preserve-mtime', 'nocopy']) {
    if (flag(q, opt, false)) throw new InvalidArgumentError(`the IPFS proxy does not support add --${opt}`)
  }
  for (const opt of ['to-files', 'mode', 'mtime']) {
    if ((q.get(opt) ?? '') !== '') throw new InvalidArgumentError(`the IPFS proxy does not support add --${opt}`)
  }
  // kubo's `mode` option is the unixfs file mode, not the cluster's pin mode
  t.delete('mode')
  if (!flag(q, 'pin', true)) t.set('no-pin', 'true')
  if (flag(q, 'trickle', false)) t.set('layout', 'trickle')
  const pinName = q.get('pin-name') ?? ''
  if (pinName !== '' && (q.get('name') ?? '') === '') t.set('name', pinName)
  const onlyHash = flag(q, 'only-hash', false)
  const params = addParamsFromQuery(t)
  if (onlyHash) params.noPin = true
  return { params, onlyHash }
}

/** Hijacked commands, by path under `/api/v0/`; `slash`: the `/<cmd>/<arg>` form is accepted too. */
const HIJACKED: Record<string, { slash: boolean }> = {
  'pin/add': { slash: true },
  'pin/rm': { slash: true },
  'pin/ls': { slash: true },
  'pin/update': { slash: false },
  add: { slash: false },
  'repo/stat': { slash: false },
  'repo/gc': { slash: false },
  'block/put': { slash: false },
  'dag/put': { slash: false }
}

/** The hijacked command of a request and its `arg`s, or null to relay it. */
export function hijackedCommand(method: string, url: URL): { command: string; args: string[] } | null {
  if (method !== 'POST' && method !== 'GET' && method !== 'PUT') return null
  const prefix = '/api/v0/'
  if (!url.pathname.startsWith(prefix)) return null
  const rest = url.pathname.slice(prefix.length).replace(/\/$/, '')
  const args = url.searchParams.getAll('arg')
  if (HIJACKED[rest] !== undefined) return { command: rest, args }
  const i = rest.lastIndexOf('/')
  if (i > 0) {
    const cmd = rest.slice(0, i)
    if (HIJACKED[cmd]?.slash === true) {
      let seg = rest.slice(i + 1)
      try {
        seg = decodeURIComponent(seg)
      } catch {
        // kept as sent
      }
      return { command: cmd, args: [...args, seg] }
    }
  }
  return null
}

function signalOf(c: Context): AbortOptions {
  return { signal: c.req.raw.signal }
}

/**
 * Builds the proxy app.
 * @param init auth and header-extraction settings
 * @param components the cluster, the adder, the IPFS daemon
 */
export function createIpfsProxyApp(init: IpfsProxyInit, components: IpfsProxyComponents): Hono {
  const { cluster, fetchNode } = components
  const extractor = new HeaderExtractor(init, fetchNode)
  const app = new Hono()

  app.use('*', authMiddleware(init.basicAuthCredentials))

  const pinAdd = async (c: Context, args: string[]): Promise<Response> => {
    if (args.length === 0) throw new MissingArgumentError('ipfs-path')
    const q = new URL(c.req.url).searchParams
    const mode: PinMode = q.get('type') === 'direct' || !flag(q, 'recursive', true) ? 'direct' : 'recursive'
    const opts = { ...defaultPinOptions(), mode, name: q.get('name') ?? '' }
    const pins: string[] = []
    for (const a of args) pins.push((await cluster.pinPath(toPath(a), opts, signalOf(c))).cid.toString())
    return json({ Pins: pins })
  }

  const pinRm = async (c: Context, args: string[]): Promise<Response> => {
    if (args.length === 0) throw new MissingArgumentError('ipfs-path')
    const pins: string[] = []
    for (const a of args) pins.push((await cluster.unpinPath(toPath(a), signalOf(c))).cid.toString())
    return json({ Pins: pins })
  }

  const pinUpdate = async (c: Context, args: string[]): Promise<Response> => {
    const [fromArg, toArg] = args
    if (fromArg === undefined) throw new MissingArgumentError('from-path')
    if (toArg === undefined) throw new MissingArgumentError('to-path')
    const q = new URL(c.req.url).searchParams
    const unpin = flag(q, 'unpin', true)
    const from = await components.resolve(toPath(fromArg), signalOf(c))
    const to = await cluster.pinPath(toPath(toArg), { ...defaultPinOptions(), pinUpdate: from }, signalOf(c))
    if (unpin && !to.cid.equals(from)) await cluster.unpin(from, signalOf(c))
    return json({ Pins: [from.toString(), to.cid.toString()] })
  }

  const pinLs = async (c: Context, args: string[]): Promise<Response> => {
    const q = new URL(c.req.url).searchParams
    const stream = flag(q, 'stream', false) || flag(q, 's', false)
    // kubo 0.42's `pin ls --name`: a case-sensitive part of the name, implies names
    const nameFilter = q.get('name') ?? ''
    const names = flag(q, 'names', nameFilter !== '')
    if (nameFilter !== '' && !names) throw new InvalidArgumentError('cannot use name filter when names is explicitly set to false')
    const type = q.get('type') ?? 'all'
    if (!['all', 'recursive', 'direct', 'indirect'].includes(type)) {
      throw new InvalidArgumentError(`invalid type '${type}', must be one of {direct, indirect, recursive, all}`)
    }
    const wanted = (p: Pin): boolean => (type === 'all' || type === p.mode) && (nameFilter === '' || p.name.includes(nameFilter))
    const entry = (p: Pin): Record<string, string> => (names ? { Type: p.mode, Name: p.name } : { Type: p.mode })
    let source: AsyncGenerator<Pin>
    if (args.length > 0) {
      const cids = args.map((a) => ({ arg: a, cid: cidArg(a) }))
      const found: Pin[] = []
      for (const { arg, cid } of cids) {
        let p: Pin
        try {
          p = await cluster.pinGet(cid, signalOf(c))
        } catch (err) {
          if (errorName(err) === 'NotFoundError') throw new InvalidArgumentError(`path '${arg}' is not pinned`)
          throw err
        }
        if (!wanted(p)) throw new InvalidArgumentError(`path '${arg}' is not pinned as ${type}`)
        found.push(p)
      }
      source = (async function* () {
        yield* found
      })()
    } else {
      const all = cluster.pins(signalOf(c))
      source = (async function* () {
        for await (const p of all) if (p.type === 'pin' && wanted(p)) yield p
      })()
    }
    if (stream) {
      return streamLines(
        (async function* () {
          for await (const p of source) yield `${JSON.stringify({ Cid: p.cid.toString(), ...entry(p) })}\n`
        })()
      )
    }
    // one {"Keys":{...}} value, written as the pinset is read (never held whole)
    const first = await source.next()
    const lines = (async function* () {
      yield '{"Keys":{'
      let sep = ''
      for (let r = first; r.done !== true; r = await source.next()) {
        yield `${sep}${JSON.stringify(r.value.cid.toString())}:${JSON.stringify(entry(r.value))}`
        sep = ','
      }
      yield '}}\n'
    })()
    const res = streamLines(lines)
    res.headers.delete('X-Chunked-Output')
    return res
  }

  const repoStat = async (c: Context): Promise<Response> => {
    const q = new URL(c.req.url).searchParams
    const sizeOnly = flag(q, 'size-only', false)
    flag(q, 'human', false)
    const peers = await components.peers(signalOf(c))
    const results = await Promise.all(
      peers.map(async (peer) => {
        try {
          return { peer, stat: await components.repoStat(peer, { sizeOnly }, signalOf(c)) }
        } catch (err) {
          if (errorName(err) !== 'RpcUnauthorizedError') log.error(`repo/stat on ${peer}: ${errorMessage(err)}`)
          return { peer, error: err }
        }
      })
    )
    const ok = results.flatMap((r) => (r.stat !== undefined ? [{ peer: r.peer, stat: r.stat }] : []))
    if (ok.length === 0) {
      const e = results.find((r) => r.error !== undefined)?.error
      throw e ?? new Error('no peer answered repo/stat')
    }
    const local = ok.find((r) => r.peer === components.localPeer)?.stat ?? ok[0]!.stat
    return json({
      RepoSize: ok.reduce((s, r) => s + r.stat.repoSize, 0),
      StorageMax: ok.reduce((s, r) => s + r.stat.storageMax, 0),
      NumObjects: ok.reduce((s, r) => s + (r.stat.numObjects ?? 0), 0),
      RepoPath: local.repoPath ?? '',
      Version: local.version ?? ''
    })
  }

  const repoGC = async (c: Context): Promise<Response> => {
    const q = new URL(c.req.url).searchParams
    const streamErrors = flag(q, 'stream-errors', false)
    const gc = await cluster.repoGC(false, signalOf(c))
    const errors: string[] = []
    const lines = (async function* () {
      for (const r of Object.values(gc.peerMap)) {
        for (const k of r.keys) {
          if (k.error !== '') {
            if (streamErrors) yield `${JSON.stringify({ Key: k.key === null ? null : { '/': k.key.toString() }, Error: k.error })}\n`
            else errors.push(k.error)
            continue
          }
          if (k.key !== null) yield `${JSON.stringify({ Key: { '/': k.key.toString() } })}\n`
        }
        if (r.error !== '') {
          if (streamErrors) yield `${JSON.stringify({ Key: null, Error: `${r.peername || r.peer}: ${r.error}` })}\n`
          else errors.push(`${r.peername || r.peer}: ${r.error}`)
        }
      }
    })()
    return streamLines(lines, {}, () => errors)
  }

  /** `block/put` and `dag/put` with `pin=true`: stored by kubo without its pin, then pinned by the cluster. */
  const putAndPin = async (c: Context, keyOf: (o: Record<string, unknown>) => unknown): Promise<Response> => {
    const req = c.req.raw
    const url = new URL(req.url)
    url.searchParams.set('pin', 'false')
    const res = await forward(fetchNode, new Request(url, { method: req.method, headers: req.headers, body: req.body, signal: req.signal, duplex: 'half' } as RequestInit), {
      dropAuthorization: init.basicAuthCredentials !== null,
      remoteAddress: remoteAddressOf(req)
    })
    if (res.status !== 200 || res.body === null) return res
    const errors: string[] = []
    const reader = res.body.pipeThrough(new TextDecoderStream()).getReader()
    const signal = req.signal
    const lines = (async function* () {
      let buf = ''
      try {
        for (;;) {
          const { value, done } = await reader.read()
          if (value !== undefined) buf += value
          let nl = buf.indexOf('\n')
          while (nl >= 0 || (done && buf.trim() !== '')) {
            const line = nl >= 0 ? buf.slice(0, nl) : buf
            buf = nl >= 0 ? buf.slice(nl + 1) : ''
            if (line.trim() !== '') {
              const o = JSON.parse(line) as Record<string, unknown>
              try {
                await cluster.pin(parseCid(keyOf(o), 'cid'), defaultPinOptions(), { signal })
              } catch (err) {
                errors.push(errorMessage(err))
              }
              yield `${line}\n`
            }
            nl = buf.indexOf('\n')
          }
          if (done) break
        }
      } finally {
        reader.releaseLock()
      }
    })()
    const h = new Headers(res.headers)
    h.delete('Content-Length')
    return streamLines(lines, h, () => errors)
  }

  const add = async (c: Context): Promise<Response> => {
    const req = c.req.raw
    const { params, onlyHash } = addParamsFromKuboQuery(new URL(req.url).searchParams)
    const ct = req.headers.get('content-type') ?? ''
    if (!/^multipart\/(form-data|mixed)/i.test(ct) || req.body === null) {
      throw new InvalidArgumentError("error reading request: request Content-Type isn't multipart/form-data")
    }
    log.debug('proxy add: kubo options the cluster adder has no use for are ignored (inline-limit, empty-dirs, fscache, quiet…)')
    const adder: UploadComponents = onlyHash ? { ...components.adder, allocate: async () => [], blockSinks: () => discardSink() } : components.adder
    const ctrl = new AbortController()
    const signal = AbortSignal.any([req.signal, ctrl.signal])
    // stdin (a part without a name): kubo names its line after its CID; the
    // name is not part of the DAG unless wrapped, so a wrapped one is refused
    const unnamed = params.wrap ? {} : { unnamedFile: STDIN_NAME }
    const outputs = addUpload(req.body, ct, params, adder, { signal, onlyHash, contentLength: announcedLength(req.headers), ...unnamed })
    const lines = (async function* () {
      try {
        for await (const o of outputs) {
          const name = o.name === STDIN_NAME ? (o.cid?.toString() ?? '') : o.name
          yield `${JSON.stringify(addEvent({ ...o, name }))}\n`
        }
      } finally {
        ctrl.abort()
      }
    })()
    if (!params.streamChannels) {
      const all: unknown[] = []
      for await (const l of lines) all.push(JSON.parse(l))
      return json(all)
    }
    const res = streamLines(lines, { 'Cache-Control': 'no-cache', Connection: 'close' })
    return res
  }

  app.all('*', async (c) => {
    const req = c.req.raw
    const url = new URL(req.url)
    const hit = hijackedCommand(req.method, url)
    const relay = async (): Promise<Response> => {
      try {
        return await forward(fetchNode, req, { dropAuthorization: init.basicAuthCredentials !== null, remoteAddress: remoteAddressOf(req) })
      } catch (err) {
        if (req.signal.aborted) throw err
        // Go's reverse proxy: 502 when the daemon cannot be reached
        log.error(`relaying ${url.pathname} to the IPFS daemon: ${errorMessage(err)}`)
        return new Response(`${JSON.stringify({ Message: `the IPFS daemon cannot be reached: ${errorMessage(err)}`, Code: 0, Type: 'error' })}\n`, {
          status: 502,
          headers: { 'Content-Type': 'application/json', Server: SERVER_HEADER }
        })
      }
    }
    if (hit === null) return relay()
    const q = url.searchParams
    let res: Response
    switch (hit.command) {
      case 'pin/add':
        res = await pinAdd(c, hit.args)
        break
      case 'pin/rm':
        res = await pinRm(c, hit.args)
        break
      case 'pin/update':
        res = await pinUpdate(c, hit.args)
        break
      case 'pin/ls':
        res = await pinLs(c, hit.args)
        break
      case 'repo/stat':
        res = await repoStat(c)
        break
      case 'repo/gc':
        res = await repoGC(c)
        break
      case 'add':
        res = await add(c)
        break
      case 'block/put':
        if (!flag(q, 'pin', false)) return relay()
        res = await putAndPin(c, (o) => o.Key)
        break
      case 'dag/put':
        if (!flag(q, 'pin', false)) return relay()
        res = await putAndPin(c, (o) => (o.Cid as { '/'?: unknown } | undefined)?.['/'])
        break
      default:
        return relay()
    }
    const extra = await extractor.headersFor(req)
    for (const [k, v] of extra) res.headers.set(k, v)
    return res
  })

  app.onError((err) => {
    const { status, body } = kuboError(err)
    if (status >= 500) log.error(`sending error response: ${status}: ${body.Message}`)
    else log.debug(`sending error response: ${status}: ${body.Message}`)
    const headers = new Headers({ 'Content-Type': 'application/json', Server: SERVER_HEADER })
    if (err instanceof UnauthorizedError) for (const ch of err.challenges) headers.append('WWW-Authenticate', ch)
    return new Response(`${JSON.stringify(body)}\n`, { status, headers })
  })

  return app
}
