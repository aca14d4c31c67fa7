/**
 * The add relay: when an upload's blocks would go to the local IPFS daemon
 * only, the daemon hands the multipart body to kubo's own `add` (with
 * `pin=false` and every CID-shaping option explicit) instead of building
 * the DAG itself, turns kubo's lines into `AddedOutput`s and pins the root
 * through the cluster. Our own shortcut: upstream always builds the DAG in
 * the cluster. kubo's storing through `add` costs it less than the same
 * blocks through `dag/import` (docs/add-throughput.md).
 *
 * The relay is used only where the result cannot differ from the cluster
 * adder's: see {@link relayRefusal} (per request) and
 * {@link importConfigRefusal} (kubo's `Import` config). The multipart body
 * is checked on the way through ({@link checkedParts}) so that an upload the
 * cluster adder refuses is refused here too.
 */
import { InvalidArgumentError } from '../errors.ts'
import type { AbortOptions } from '../interfaces.ts'
import type { PeerId } from '../types/index.ts'
import { DIRECTORY_CONTENT_TYPE, cleanPath, queryUnescape } from './multipart.ts'
import type { AddParams } from './params.ts'

/** One line of kubo's `add` output (`AddEvent`): `Size` is a decimal string; a progress line has `Bytes` and no `Hash`. */
export interface KuboAddEvent {
  Name: string
  Hash?: string
  Size?: string
  Bytes?: number
}

/**
 * What relays an upload to the local IPFS daemon's `add`
 * (`IpfsHttpConnector` implements it; the bundled Helia node does not).
 */
export interface AddRelay {
  /**
   * Why kubo's `add` could give other CIDs than the cluster adder
   * (non-default `Import` settings), or `null` when it gives the same.
   * @throws IPFSError when kubo cannot be asked.
   */
  relayRefusal(options?: AbortOptions): Promise<string | null>
  /**
   * `POST /api/v0/add?<query>` with `body` (multipart/form-data of
   * `contentType`), yielding kubo's output lines as they come.
   * @throws IPFSError when kubo answers an error, reports one in its
   *   `X-Stream-Error` trailer, or the connection breaks; the body's own
   *   error when reading the upload fails; AbortError.
   */
  add(body: AsyncIterable<Uint8Array>, contentType: string, query: [string, string][], options?: RelayAddOptions): AsyncGenerator<KuboAddEvent>
}

export interface RelayAddOptions extends AbortOptions {
  /**
   * The body's length in bytes, when known (the upload announced it): sent
   * as `Content-Length`, which spares the chunked framing of the request
   * to kubo (node:http copies every chunk to frame it: about a third of
   * the relay's CPU). The body must then be exactly that long.
   */
  contentLength?: number
}

/**
 * The body length a request announces: its `Content-Length` when it is a
 * plain decimal and no `Transfer-Encoding` is set, else `undefined`.
 */
export function announcedLength(headers: Headers): number | undefined {
  if (headers.has('transfer-encoding')) return undefined
  const v = headers.get('content-length')
  if (v === null || !/^\d{1,15}$/.test(v.trim())) return undefined
  return Number(v.trim())
}

/** Hash functions whose kubo name is the name the cluster adder takes (`hash=`). */
const RELAY_HASHES = new Set(['sha2-256', 'sha2-512', 'sha3-224', 'sha3-256', 'sha3-384', 'sha3-512', 'blake2b-256', 'blake2b-512', 'blake2s-256', 'keccak-256', 'keccak-512', 'identity'])

/**
 * Why this add cannot be relayed, or `null` when it can:
 * - `format=car`, sharding, nocopy: not unixfs built from the upload;
 * - the body is not `multipart/form-data` (kubo takes no other);
 * - the blocks go to other peers than the local one (`sinkPeers` other than
 *   `[]` or `[local]`); with `onlyHash` nothing is stored anywhere, so any;
 * - a chunker other than `size-<n>` or a hash function not known by the
 *   same name to both.
 */
export function relayRefusal(params: AddParams, req: { contentType: string; sinkPeers: PeerId[]; localPeer: PeerId; onlyHash: boolean }): string | null {
  if (params.format !== 'unixfs') return `format=${params.format}`
  if (params.shard) return 'shard=true'
  if (params.noCopy) return 'nocopy=true'
  if (!/^multipart\/form-data\s*(;|$)/i.test(req.contentType.trim())) return 'the body is not multipart/form-data'
  if (!req.onlyHash && !req.sinkPeers.every((p) => p === req.localPeer)) return 'the blocks go to other peers'
  if (!/^size-\d+$/.test(params.chunker)) return `chunker ${params.chunker}`
  if (!RELAY_HASHES.has(params.hashFun)) return `hash ${params.hashFun}`
  if (params.layout !== '' && params.layout !== 'balanced' && params.layout !== 'trickle') return `layout ${params.layout}`
  return null
}

/**
 * The `Import` keys of kubo 0.42's config that a request's options
 * override (sent explicitly by {@link relayQuery}) or that do not change
 * CIDs (write batching, providing). Any other key set (not `null`) makes
 * {@link importConfigRefusal} refuse: `UnixFSFileMaxLinks`,
 * `UnixFSDirectoryMaxLinks`, `UnixFSHAMTDirectoryMaxFanout`,
 * `UnixFSHAMTDirectorySizeThreshold`, `UnixFSHAMTDirectorySizeEstimation`
 * and whatever later kubos add.
 */
const HARMLESS_IMPORT_KEYS = new Set([
  'CidVersion',
  'UnixFSRawLeaves',
  'UnixFSChunker',
  'HashFunction',
  'UnixFSDAGLayout',
  'BatchMaxNodes',
  'BatchMaxSize',
  'FastProvideRoot',
  'FastProvideDAG',
  'FastProvideWait'
])

/**
 * Why kubo's config (`config/show`) could make its `add` differ from the
 * cluster adder, or `null`. A key counts as set unless it is absent or
 * `null` (kubo's "default" for its optional values).
 */
export function importConfigRefusal(cfg: unknown): string | null {
  if (cfg === null || typeof cfg !== 'object') return 'kubo config unreadable'
  const c = cfg as { Import?: unknown; Internal?: unknown }
  if (c.Import !== undefined && c.Import !== null) {
    if (typeof c.Import !== 'object' || Array.isArray(c.Import)) return 'kubo Import config unreadable'
    for (const [k, v] of Object.entries(c.Import as Record<string, unknown>)) {
      if (v === null || HARMLESS_IMPORT_KEYS.has(k)) continue
      return `kubo config Import.${k} is set`
    }
  }
  const internal = c.Internal as Record<string, unknown> | null | undefined
  if (internal !== null && typeof internal === 'object' && internal.UnixFSShardingSizeThreshold !== undefined && internal.UnixFSShardingSizeThreshold !== null) {
    return 'kubo config Internal.UnixFSShardingSizeThreshold is set'
  }
  return null
}

/**
 * kubo `add` options for a relayed add: no pin, and every option that
 * shapes the DAG given explicitly (so kubo's `Import` defaults do not
 * apply), no inlining, no filestore, no fast provide (the cluster adder
 * announces nothing either).
 */
export function relayQuery(params: AddParams, onlyHash: boolean): [string, string][] {
  return [
    ['stream-channels', 'true'],
    ['pin', 'false'],
    ['progress', String(params.progress)],
    ['only-hash', String(onlyHash)],
    ['wrap-with-directory', String(params.wrap)],
    ['cid-version', String(params.cidVersion)],
    ['raw-leaves', String(params.rawLeaves)],
    ['chunker', params.chunker],
    ['hash', params.hashFun],
    ['trickle', String(params.layout === 'trickle')],
    ['inline', 'false'],
    ['nocopy', 'false'],
    ['fscache', 'false'],
    ['preserve-mode', 'false'],
    ['preserve-mtime', 'false'],
    ['empty-dirs', 'true'],
    ['fast-provide-root', 'false'],
    ['fast-provide-dag', 'false'],
    ['quiet', 'false'],
    ['quieter', 'false'],
    ['silent', 'false']
  ]
}

/** The boundary of a multipart `Content-Type`. @throws InvalidArgumentError without one. */
export function multipartBoundary(contentType: string): string {
  const m = /;\s*boundary=(?:"([^"]+)"|([^\s;]+))/i.exec(contentType)
  const b = m?.[1] ?? m?.[2]
  if (b === undefined || b === '') throw new InvalidArgumentError('bad multipart request: no boundary in the Content-Type')
  return b
}

/** Largest part header accepted by {@link checkedParts} (bytes, as the parser's limit). */
const MAX_PART_HEADER = 16 * 1024

/** The `name` / `filename` parameters and type of a part's headers. */
function partHeaders(head: string): { formName: string | undefined; filename: string | undefined; mime: string } {
  let formName: string | undefined
  let filename: string | undefined
  let mime = ''
  for (const line of head.split('\r\n')) {
    const colon = line.indexOf(':')
    if (colon < 0) continue
    const key = line.slice(0, colon).trim().toLowerCase()
    const value = line.slice(colon + 1).trim()
    if (key === 'content-type') mime = (value.split(';')[0] ?? '').trim().toLowerCase()
    else if (key === 'content-disposition') {
      for (const m of value.matchAll(/;\s*([a-z*]+)=(?:"((?:[^"\\]|\\.)*)"|([^;\s]*))/gi)) {
        const k = (m[1] ?? '').toLowerCase()
        const v = m[2] !== undefined ? m[2].replace(/\\(.)/g, '$1') : (m[3] ?? '')
        if (k === 'name') formName = v
        else if (k === 'filename') filename = v
        else throw new InvalidArgumentError(`the upload's part header parameter ${k} is not supported`)
      }
    }
  }
  return { formName, filename, mime }
}

/**
 * Passes a multipart/form-data body through unchanged while checking each
 * part's headers as the cluster adder's parser would take them: a path
 * the parser refuses (`..`, empty without `unnamedFile`) fails with the
 * parser's error. It also refuses what the two would read differently, so
 * that kubo never sees it: a part outside the directory opened last (kubo
 * reads parts as a depth-first walk, the DAG builder by path), a part
 * without a filename (kubo does not fall back to the form name), an
 * unknown header parameter, an upload without parts. The form name's
 * `?mode=…&mtime=…` (kubo's CLI sends them) is left to kubo, which stores
 * them only with `preserve-mode`/`preserve-mtime` (sent as false). `onDir` gets each directory's path as its part comes.
 * The boundary search is `Buffer.indexOf` (native).
 * @throws InvalidArgumentError
 */
export async function* checkedParts(
  body: AsyncIterable<Uint8Array>,
  contentType: string,
  options: { unnamedFile?: boolean; onDir?: (path: string) => void } = {}
): AsyncGenerator<Uint8Array> {
  const boundary = multipartBoundary(contentType)
  // every delimiter but the first is preceded by CRLF; the body is read as if it started with one
  const delim = Buffer.from(`\r\n--${boundary}`)
  const keep = delim.length - 1
  let carry: Buffer = Buffer.from('\r\n')
  let inHead = false
  let head: Buffer[] = []
  let headLen = 0
  let ended = false
  let parts = 0
  let unnamed = false
  const open: string[] = []

  const checkPart = (raw: Buffer): void => {
    const { formName, filename, mime } = partHeaders(raw.toString('utf8'))
    // kubo takes only the filename (the parser falls back to the form name)
    if (filename === undefined && formName !== undefined) throw new InvalidArgumentError('upload parts without a filename are not supported')
    const name = queryUnescape(filename ?? '')
    const isDir = mime === DIRECTORY_CONTENT_TYPE || mime === 'multipart/form-data'
    parts++
    if (unnamed) throw new InvalidArgumentError('an unnamed part must be the only one of the upload')
    if (name === '' && options.unnamedFile === true && !isDir) {
      if (parts > 1) throw new InvalidArgumentError('an unnamed part must be the only one of the upload')
      unnamed = true
      return
    }
    const path = cleanPath(name)
    const parent = path.includes('/') ? path.slice(0, path.lastIndexOf('/')) : ''
    while (open.length > 0 && open[open.length - 1] !== parent) open.pop()
    if (parent !== '' && open[open.length - 1] !== parent) throw new InvalidArgumentError(`upload part ${path} does not follow its directory`)
    if (isDir) {
      open.push(path)
      options.onDir?.(path)
    }
  }

  // where, in the chunk being scanned, the current part body began (bytes
  // before it are headers or delimiters already seen: never searched again)
  let bodyFrom = 0
  // scans `buf` from `from`, switching between part bodies and part headers
  const scan = (buf: Buffer, from: number): void => {
    let pos = from
    while (pos < buf.length && !ended) {
      if (!inHead) {
        const at = buf.indexOf(delim, pos)
        if (at < 0) return
        inHead = true
        head = []
        headLen = 0
        pos = at + delim.length
        continue
      }
      // headers end at the first CRLFCRLF after the delimiter (its own line end included)
      const piece = buf.subarray(pos)
      head.push(piece)
      headLen += piece.length
      const joined = head.length === 1 ? piece : Buffer.concat(head, headLen)
      if (joined.length >= 2 && joined[0] === 0x2d && joined[1] === 0x2d) {
        ended = true
        return
      }
      const end = joined.indexOf('\r\n\r\n')
      if (end < 0) {
        if (headLen > MAX_PART_HEADER) throw new InvalidArgumentError('bad multipart request: part header too large')
        head = [joined]
        return
      }
      checkPart(joined.subarray(0, end))
      inHead = false
      // the part's body starts in this buffer after the headers
      pos += end + 4 - (joined.length - piece.length)
      bodyFrom = pos
      head = []
      headLen = 0
    }
  }

  for await (const chunk of body) {
    if (chunk.length === 0) continue
    const buf = Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk.buffer, chunk.byteOffset, chunk.length)
    if (!ended) {
      bodyFrom = 0
      if (inHead) scan(buf, 0)
      else {
        // a delimiter across the chunk edge: search the carried tail joined to the chunk's start
        const edge = Buffer.concat([carry, buf.subarray(0, Math.min(buf.length, keep))])
        const at = edge.indexOf(delim)
        if (at >= 0 && at + delim.length > carry.length) {
          inHead = true
          head = []
          headLen = 0
          scan(buf, at + delim.length - carry.length)
        } else scan(buf, 0)
      }
      if (inHead) carry = Buffer.alloc(0)
      else if (bodyFrom === 0) carry = Buffer.from(Buffer.concat([carry, buf.subarray(Math.max(0, buf.length - keep))]).subarray(-keep))
      else carry = Buffer.from(buf.subarray(Math.max(bodyFrom, buf.length - keep)))
    }
    yield chunk
  }
  if (!ended) throw new InvalidArgumentError('bad multipart request: Unexpected end of form')
  if (parts === 0) throw new InvalidArgumentError('no files in the upload')
}
