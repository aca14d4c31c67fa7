/**
 * Streaming responses, mirroring upstream `api/common/api.go`
 * (`StreamResponse`):
 * - NDJSON: one JSON value per line (Go's `json.Encoder.Encode`); lines
 *   that are ready at once share a chunk (up to 16 KiB), and a line waits at
 *   most 5 ms for the next before its chunk is sent;
 * - header `Trailer: X-Stream-Error`, and the trailer itself is always sent
 *   (empty on success, else the error message);
 * - 204 when there are no items;
 * - 500 with the `{"code","message"}` body when the source fails before
 *   the first item.
 *
 * Trailer mechanics: the response body carries a function under
 * `RESPONSE_TRAILERS` (see `src/runtime/http.ts`) that the server calls
 * after the last chunk and sends as real HTTP/1.1 trailers, which is what
 * upstream's Go client reads (`resp.Trailer.Values("X-Stream-Error")`). We
 * deliberately do NOT append the error as a last NDJSON line: Go's client
 * would decode it as one more item (unknown fields are ignored) and report
 * a bogus empty object. Without a trailer-capable server (e.g. a test
 * using `app.request`), read the trailers with {@link streamTrailers}.
 *
 * The source is pulled lazily (one `next()` per chunk the server asks for,
 * never collected) and is closed with `return()` when the client goes away.
 */
import { getLogger } from '../../observability/logging.ts'
import { RESPONSE_TRAILERS, STREAM_ERROR_TRAILER, type TrailerCarrier, type TrailerList } from '../../runtime/http.ts'
import { errorMessage } from '../../errors.ts'

export { STREAM_ERROR_TRAILER } from '../../runtime/http.ts'

const log = getLogger('restapi')

/** a streamed chunk is sent once it holds this many characters… */
const CHUNK_CHARS = 16 * 1024
/** …or once the next item has not come for this many ms */
const CHUNK_WAIT_MS = 5
const WAITED = Symbol('waited')

/**
 * Builds a streaming NDJSON response from an async source.
 * Awaits the first item before answering (to choose 200, 204 or 500).
 * @param source async iterator of items (its `return()` is called on cancel)
 * @param toJSON maps an item to its wire shape
 * @param toText optional: the item's JSON text directly (must equal
 *   `JSON.stringify(toJSON(item))`), for hot item types
 */
export function streamResponse<T>(source: AsyncIterator<T>, toJSON: (item: T) => unknown, toText?: (item: T) => string): Promise<Response> {
  const line = toText !== undefined ? (item: T): string => `${toText(item)}\n` : (item: T): string => `${JSON.stringify(toJSON(item))}\n`
  return respond(source, line)
}

/**
 * As {@link streamResponse}, from a source of pages of items: the same
 * bytes, framing and trailers as the items one by one, but one await per
 * page and a page's lines joined at once. Empty pages are skipped (a source
 * of empty pages only answers 204).
 */
export function streamPagesResponse<T>(source: AsyncIterator<readonly T[]>, toJSON: (item: T) => unknown): Promise<Response> {
  return respond(source, (page) => {
    let out = ''
    for (let i = 0; i < page.length; i++) out += `${JSON.stringify(toJSON(page[i]!))}\n`
    return out
  })
}

/** The response of both: `render` gives a value's lines ('' for none). */
async function respond<V>(source: AsyncIterator<V>, render: (value: V) => string): Promise<Response> {
  const headers = { 'Content-Type': 'application/json', Trailer: STREAM_ERROR_TRAILER }
  let firstLines = ''
  try {
    for (;;) {
      const first = await source.next()
      if (first.done === true) return new Response(null, { status: 204, headers })
      firstLines = render(first.value)
      if (firstLines !== '') break
    }
  } catch (err) {
    const message = errorMessage(err)
    log.error(`sending error response: 500: ${message}`)
    return new Response(`${JSON.stringify({ code: 500, message })}\n`, { status: 500, headers })
  }

  const enc = new TextEncoder()
  let held: string[] = [firstLines]
  let streamError = ''
  let finished = false
  /** a `next()` still running when a chunk was sent: the next pull awaits it */
  let inflight: Promise<IteratorResult<V>> | undefined

  const body = new ReadableStream<Uint8Array>(
    {
      // Values that are ready at once go out together, up to CHUNK_CHARS per
      // chunk (one enqueue per item was a third of listing 100,000 pins);
      // a value never waits more than CHUNK_WAIT_MS for the next one, so a
      // slow stream (a global status) still sends each item as it comes.
      async pull(ctrl) {
        let size = held.reduce((n, l) => n + l.length, 0)
        let timer: ReturnType<typeof setTimeout> | undefined
        let timeout: Promise<typeof WAITED> | undefined
        try {
          while (size < CHUNK_CHARS) {
            const next = inflight ?? source.next()
            inflight = next
            let r: IteratorResult<V> | typeof WAITED
            if (held.length === 0) r = await next
            else {
              timeout ??= new Promise((resolve) => {
                timer = setTimeout(() => resolve(WAITED), CHUNK_WAIT_MS)
              })
              r = await Promise.race([next, timeout])
              if (r === WAITED) break
            }
            inflight = undefined
            if (r.done === true) {
              finished = true
              break
            }
            const l = render(r.value)
            if (l === '') continue
            held.push(l)
            size += l.length
          }
        } catch (err) {
          inflight = undefined
          streamError = errorMessage(err)
          finished = true
          log.error(`stream error: ${streamError}`)
        } finally {
          if (timer !== undefined) clearTimeout(timer)
        }
        if (held.length > 0) ctrl.enqueue(enc.encode(held.length === 1 ? held[0]! : held.join('')))
        held = []
        if (finished) ctrl.close()
      },
      async cancel() {
        if (finished) return
        finished = true
        try {
          await source.return?.(undefined)
        } catch (err) {
          log.debug(`closing stream source: ${errorMessage(err)}`)
        }
      }
    },
    { highWaterMark: 0 }
  ) as TrailerCarrier
  body[RESPONSE_TRAILERS] = (): TrailerList => [[STREAM_ERROR_TRAILER, streamError]]
  return new Response(body, { status: 200, headers })
}

/**
 * The trailers a streamed response will send once its body has been read
 * to the end (for tests and in-process callers). `undefined` when the
 * response does not carry trailers.
 */
export function streamTrailers(res: Response): TrailerList | undefined {
  const body = res.body as TrailerCarrier | null
  return body?.[RESPONSE_TRAILERS]?.()
}

/** Lazily keeps the items of `source` that satisfy `pred` (closing `source` when closed). */
export async function* filterStream<T>(source: AsyncIterable<T>, pred: (item: T) => boolean): AsyncGenerator<T> {
  for await (const item of source) {
    if (pred(item)) yield item
  }
}

/** Lazily maps the items of `source`. */
export async function* mapStream<T, U>(source: AsyncIterable<T>, fn: (item: T) => U): AsyncGenerator<U> {
  for await (const item of source) yield fn(item)
}
