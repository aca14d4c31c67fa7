/**
 * The multipart/form-data body of `POST /add`, streamed both ways.
 *
 * Wire format (go-ipfs-files / boxo `files.MultiFileReader` with
 * `form=true`, what upstream's Go client and ctl send): one part per file,
 * directory or symlink, depth-first, a directory before its children:
 *
 * ```
 * Content-Disposition: form-data; name="file"; filename="dir%2Fsub%2Ffile"
 * Content-Type: application/octet-stream      (file: the part body is the content)
 * Content-Type: application/x-directory       (directory: empty body)
 * Content-Type: application/symlink           (symlink: the body is the target)
 * ```
 *
 * The filename is the entry's path inside the upload, `/`-separated and
 * escaped with Go's `url.QueryEscape` (space as `+`, `/` as `%2F`).
 *
 * Parsing uses `@fastify/busboy` (streaming; each file part's content is
 * handed out as a stream and read once, never buffered whole). Encoding
 * builds a `ReadableStream` that pulls each file's bytes when the HTTP
 * client asks for them.
 */
import { Busboy, type BusboyFileStream } from '@fastify/busboy'
import { errorMessage, InvalidArgumentError } from '../errors.ts'
import type { AbortOptions } from '../interfaces.ts'
import { concat } from 'uint8arrays/concat'
import { toString as uint8ArrayToString } from 'uint8arrays/to-string'
import { getLogger } from '../observability/logging.ts'
import type { AddEntry } from './dag.ts'

const log = getLogger('adder')

export const DIRECTORY_CONTENT_TYPE = 'application/x-directory'
export const SYMLINK_CONTENT_TYPE = 'application/symlink'
export const FILE_CONTENT_TYPE = 'application/octet-stream'

/** Largest symlink target accepted (bytes). */
const MAX_SYMLINK_TARGET = 4096

/** Go `url.QueryEscape`. */
export function queryEscape(s: string): string {
  return encodeURIComponent(s)
    .replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`)
    .replace(/%20/g, '+')
}

/** Go `url.QueryUnescape`; returns the input unchanged when it is not valid escaping. */
export function queryUnescape(s: string): string {
  try {
    return decodeURIComponent(s.replace(/\+/g, ' '))
  } catch {
    return s
  }
}

/**
 * Cleans an upload path: `/`-separated, no leading `/`, no `.` or `..`
 * segments (a `..` is refused), no empty segments.
 * @throws InvalidArgumentError on `..` or an empty path.
 */
export function cleanPath(p: string): string {
  const out: string[] = []
  for (const seg of p.replace(/\\/g, '/').split('/')) {
    if (seg === '' || seg === '.') continue
    if (seg === '..') throw new InvalidArgumentError(`invalid path in upload: ${p}`)
    out.push(seg)
  }
  if (out.length === 0) throw new InvalidArgumentError(`invalid path in upload: ${JSON.stringify(p)}`)
  return out.join('/')
}

type PartEvent =
  | { type: 'part'; filename: string; mime: string; stream: BusboyFileStream }
  | { type: 'done' }
  | { type: 'error'; err: Error }

async function readAll(stream: AsyncIterable<Uint8Array>, max: number): Promise<Uint8Array> {
  const chunks: Uint8Array[] = []
  let n = 0
  for await (const c of stream) {
    n += c.length
    if (n > max) throw new InvalidArgumentError('symlink target too long')
    chunks.push(c)
  }
  return concat(chunks, n)
}

/**
 * Parses a streamed multipart/form-data upload into entries, in upload
 * order. A file entry's `content` must be read before asking for the next
 * entry (it is the live part of the request body); an unread remainder is
 * discarded when the next entry is requested.
 * @param contentType the request's `Content-Type` (with its boundary)
 * @param options `unnamedFile`: the path of a file part sent without a
 *   filename (kubo's CLI sends stdin so); without it such a part is refused.
 * @throws InvalidArgumentError when the body is not multipart or a part
 *   is malformed; the body's own error when the upload breaks off.
 */
export async function* parseMultipart(
  body: ReadableStream<Uint8Array> | AsyncIterable<Uint8Array>,
  contentType: string,
  options: AbortOptions & { unnamedFile?: string } = {}
): AsyncGenerator<AddEntry> {
  if (!/^multipart\//i.test(contentType.trim())) {
    throw new InvalidArgumentError(`expected a multipart request body, got Content-Type "${contentType}"`)
  }
  let bb: ReturnType<typeof Busboy>
  try {
    bb = Busboy({
      headers: { 'content-type': contentType },
      preservePath: true,
      // every part is an entry, with or without a filename
      isPartAFile: () => true,
      limits: { headerPairs: 64, headerSize: 16 * 1024 }
    })
  } catch (err) {
    throw new InvalidArgumentError(`bad multipart request: ${errorMessage(err)}`)
  }

  const queue: PartEvent[] = []
  let wake: (() => void) | undefined
  const push = (e: PartEvent): void => {
    queue.push(e)
    wake?.()
  }
  bb.on('file', (fieldname: string, stream: BusboyFileStream, filename: string, _enc: string, mime: string) => {
    push({ type: 'part', filename: filename ?? fieldname ?? '', mime: (mime ?? '').toLowerCase(), stream })
  })
  bb.on('finish', () => push({ type: 'done' }))

  // the body is written into busboy directly (no intermediate Node stream),
  // waiting for 'drain' whenever busboy's buffer is full
  let stopped = false
  const source = body as AsyncIterable<Uint8Array>
  const pump = async (): Promise<void> => {
    const signal = options.signal
    for await (const chunk of source) {
      if (stopped) return
      signal?.throwIfAborted()
      if (!bb.write(chunk)) {
        await new Promise<void>((resolve, reject) => {
          const cleanup = (): void => {
            bb.off('drain', onDrain)
            bb.off('error', onError)
            bb.off('close', onDrain)
            signal?.removeEventListener('abort', onAbort)
          }
          const onDrain = (): void => {
            cleanup()
            resolve()
          }
          const onError = (err: Error): void => {
            cleanup()
            reject(err)
          }
          const onAbort = (): void => {
            cleanup()
            reject(signal?.reason ?? new Error('aborted'))
          }
          bb.on('drain', onDrain)
          bb.on('error', onError)
          bb.on('close', onDrain)
          signal?.addEventListener('abort', onAbort, { once: true })
        })
      }
    }
    if (!stopped) {
      await new Promise<void>((resolve, reject) => {
        bb.once('error', reject)
        bb.end(() => resolve())
      })
    }
  }
  let current: BusboyFileStream | undefined
  bb.on('error', () => {
    // reported through the pump
  })
  const pumping = pump().catch((err: unknown) => {
    const e = err instanceof Error ? err : new Error(String(err))
    // the part being read ends with the upload's error
    if (current !== undefined && !current.readableEnded) current.destroy(e)
    for (const q of queue) if (q.type === 'part' && !q.stream.readableEnded) q.stream.destroy(e)
    push({ type: 'error', err: e })
  })

  try {
    while (true) {
      if (current !== undefined) {
        // discard whatever the consumer did not read of the previous part
        if (!current.readableEnded) current.resume()
        current = undefined
      }
      while (queue.length === 0) {
        await new Promise<void>((resolve) => {
          wake = resolve
        })
        wake = undefined
      }
      const ev = queue.shift() as PartEvent
      if (ev.type === 'done') return
      if (ev.type === 'error') {
        const msg = ev.err.message
        if (/boundary|multipart|Unexpected end/i.test(msg)) throw new InvalidArgumentError(`bad multipart request: ${msg}`)
        throw ev.err
      }
      current = ev.stream
      const raw = queryUnescape(ev.filename)
      // kubo's CLI sends stdin as a file part without a name
      const unnamed = options.unnamedFile !== undefined && ev.mime !== DIRECTORY_CONTENT_TYPE && raw === ''
      const path = unnamed ? (options.unnamedFile as string) : cleanPath(raw)
      if (ev.mime === DIRECTORY_CONTENT_TYPE) {
        yield { kind: 'dir', path }
      } else if (ev.mime === SYMLINK_CONTENT_TYPE) {
        const target = new TextDecoder().decode(await readAll(ev.stream, MAX_SYMLINK_TARGET))
        yield { kind: 'symlink', path, target }
      } else {
        yield { kind: 'file', path, content: ev.stream }
      }
    }
  } finally {
    if (current !== undefined && !current.readableEnded) current.resume()
    stopped = true
    if (!bb.writableFinished) bb.destroy()
    // not awaited: the pump may sit waiting for a stalled client's next
    // chunk; it stops at that chunk (and its errors are already handled)
    void pumping
    log.debug('multipart upload closed')
  }
}

/** One entry to upload (what the client encodes). */
export type UploadEntry =
  | {
      kind: 'file'
      path: string
      content: () => AsyncIterable<Uint8Array>
      /** its length in bytes when known beforehand (a local file): lets the body carry a Content-Length. */
      size?: number
    }
  | { kind: 'dir'; path: string }
  | { kind: 'symlink'; path: string; target: string }

/** The MIME type of an entry's part. */
function partMime(e: UploadEntry): string {
  return e.kind === 'dir' ? DIRECTORY_CONTENT_TYPE : e.kind === 'symlink' ? SYMLINK_CONTENT_TYPE : FILE_CONTENT_TYPE
}

/** The header of an entry's part (with the CRLF that closes the previous part). */
function partHead(e: UploadEntry, boundary: string, first: boolean): string {
  return (
    `${first ? '' : '\r\n'}--${boundary}\r\n` +
    `Content-Disposition: form-data; name="file"; filename="${queryEscape(e.path)}"\r\n` +
    `Content-Type: ${partMime(e)}\r\n\r\n`
  )
}

/**
 * The length in bytes of the body {@link encodeMultipart} makes of
 * `entries` with `boundary`, or `undefined` when a file's size is not known
 * beforehand (no `size`, e.g. a URL). Only the entries' metadata is read.
 */
export async function multipartLength(entries: AsyncIterable<UploadEntry> | Iterable<UploadEntry>, boundary: string): Promise<number | undefined> {
  const enc = new TextEncoder()
  let n = 0
  let first = true
  for await (const e of entries) {
    n += enc.encode(partHead(e, boundary, first)).length
    first = false
    if (e.kind === 'file') {
      if (e.size === undefined) return undefined
      n += e.size
    } else if (e.kind === 'symlink') n += enc.encode(e.target).length
  }
  return n + enc.encode(`${first ? '' : '\r\n'}--${boundary}--\r\n`).length
}

/** A multipart boundary like Go's `multipart.Writer` makes (60 hex chars). */
export function randomBoundary(): string {
  const b = new Uint8Array(30)
  crypto.getRandomValues(b)
  return uint8ArrayToString(b, 'base16')
}

/**
 * Encodes entries as a streamed multipart/form-data body (boxo
 * `MultiFileReader` with `form=true`). File contents are pulled lazily; a
 * file with a `size` that reads more or fewer bytes fails the body (its
 * Content-Length, see {@link multipartLength}, would be wrong).
 * @returns the body and its `Content-Type` header value
 */
export function encodeMultipart(
  entries: AsyncIterable<UploadEntry> | Iterable<UploadEntry>,
  boundary = randomBoundary()
): { body: ReadableStream<Uint8Array>; contentType: string } {
  const enc = new TextEncoder()
  async function* parts(): AsyncGenerator<Uint8Array> {
    let first = true
    for await (const e of entries) {
      const head = partHead(e, boundary, first)
      first = false
      yield enc.encode(head)
      if (e.kind === 'file') {
        let n = 0
        for await (const chunk of e.content()) {
          n += chunk.length
          if (e.size !== undefined && n > e.size) throw new Error(`${e.path} grew while being uploaded (expected ${e.size} bytes)`)
          if (chunk.length > 0) yield chunk
        }
        if (e.size !== undefined && n !== e.size) throw new Error(`${e.path} shrank while being uploaded (read ${n} of ${e.size} bytes)`)
      } else if (e.kind === 'symlink') {
        yield enc.encode(e.target)
      }
    }
    yield enc.encode(`${first ? '' : '\r\n'}--${boundary}--\r\n`)
  }
  const it = parts()
  const body = new ReadableStream<Uint8Array>(
    {
      async pull(ctrl) {
        try {
          const r = await it.next()
          if (r.done === true) ctrl.close()
          else ctrl.enqueue(r.value)
        } catch (err) {
          ctrl.error(err)
        }
      },
      async cancel() {
        await it.return(undefined)
      }
    },
    { highWaterMark: 0 }
  )
  return { body, contentType: `multipart/form-data; boundary=${boundary}` }
}
