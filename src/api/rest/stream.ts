/**
 * Streaming responses, mirroring upstream `api/common/api.go`
 * (`StreamResponse`):
 * - NDJSON: one JSON value per line (Go's `json.Encoder.Encode`), each line
 *   handed to the server as soon as it is produced (flushed per item);
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

/**
 * Builds a streaming NDJSON response from an async source.
 * Awaits the first item before answering (to choose 200, 204 or 500).
 * @param source async iterator of items (its `return()` is called on cancel)
 * @param toJSON maps an item to its wire shape
 */
export async function streamResponse<T>(source: AsyncIterator<T>, toJSON: (item: T) => unknown): Promise<Response> {
  const headers = { 'Content-Type': 'application/json', Trailer: STREAM_ERROR_TRAILER }
  let first: IteratorResult<T>
  try {
    first = await source.next()
  } catch (err) {
    const message = errorMessage(err)
    log.error(`sending error response: 500: ${message}`)
    return new Response(`${JSON.stringify({ code: 500, message })}\n`, { status: 500, headers })
  }
  if (first.done === true) return new Response(null, { status: 204, headers })

  const enc = new TextEncoder()
  const line = (item: T): Uint8Array => enc.encode(`${JSON.stringify(toJSON(item))}\n`)
  let pending: Uint8Array | null = line(first.value)
  let streamError = ''
  let finished = false

  const body = new ReadableStream<Uint8Array>(
    {
      async pull(ctrl) {
        if (pending !== null) {
          ctrl.enqueue(pending)
          pending = null
          return
        }
        try {
          const r = await source.next()
          if (r.done === true) {
            finished = true
            ctrl.close()
            return
          }
          ctrl.enqueue(line(r.value))
        } catch (err) {
          streamError = errorMessage(err)
          finished = true
          log.error(`stream error: ${streamError}`)
          ctrl.close()
        }
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
