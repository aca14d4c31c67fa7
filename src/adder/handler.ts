/**
 * `POST /add` for the REST API (upstream `adder/adderutils`
 * `AddMultipartHTTPHandler`): add params in the query, the upload as a
 * streamed multipart/form-data body.
 *
 * - Bad params or a body that is not multipart: 400 `{"code","message"}`
 *   before anything is read.
 * - `stream-channels=true` (default): 200 at once with `Content-Type:
 *   application/json`, `X-Chunked-Output: 1`, `Cache-Control: no-cache`,
 *   `Connection: close`,
 *   `Trailer: X-Stream-Error`; one `AddedOutput` JSON object per line as it
 *   happens; an error after that goes in the `X-Stream-Error` trailer.
 * - `stream-channels=false`: one JSON array of every line once done, or the
 *   error body: 507 when the disk of every destination is full
 *   (`DiskFullError`), 500 otherwise.
 */
import type { AbortOptions } from '../interfaces.ts'
import { getLogger } from '../observability/logging.ts'
import { RESPONSE_TRAILERS, STREAM_ERROR_TRAILER, type TrailerCarrier, type TrailerList } from '../runtime/http.ts'
import { addedOutputToJSON } from '../types/json.ts'
import type { AddOutput } from './adder.ts'
import { addUpload, type UploadComponents } from './upload.ts'
import { type AddParams, addParamsFromQuery } from './params.ts'
import { announcedLength } from './relay.ts'
import { errorMessage } from '../errors.ts'

const log = getLogger('adder')

/**
 * Handles `POST /add` (multipart body, add params in the query) and returns
 * the full response (an NDJSON stream of AddedOutput, or one JSON array).
 * Built by {@link createAddHandler}; the REST API mounts it (`RestApiComponents.add`).
 */
export type AddHandler = (req: Request, options?: AbortOptions) => Promise<Response>

/** The JSON of one output line; a progress line is `{name, cid: "", bytes}` (it has no CID yet). */
export function addOutputToJSON(o: AddOutput): Record<string, unknown> {
  if (o.cid === undefined) return { name: o.name, cid: '', bytes: o.bytes }
  return addedOutputToJSON(o) as unknown as Record<string, unknown>
}

function errorBody(code: number, message: string): string {
  return `${JSON.stringify({ code, message })}\n`
}

function statusFor(err: unknown): number {
  const e = err as { name?: unknown; diskFull?: unknown } | null
  if (e?.name === 'DiskFullError' || (e?.name === 'BlockAdderError' && e.diskFull === true)) return 507
  return e?.name === 'InvalidArgumentError' ? 400 : 500
}

/**
 * Builds the `/add` handler.
 * @param components what the adder needs (local peer, IPFS, allocate, pin, block sinks, the relay to kubo's `add`)
 */
export function createAddHandler(components: UploadComponents): AddHandler {
  return async (req: Request, options: AbortOptions = {}): Promise<Response> => {
    const json = { 'Content-Type': 'application/json' }
    let params: AddParams
    try {
      params = addParamsFromQuery(new URL(req.url).searchParams)
    } catch (err) {
      return new Response(errorBody(statusFor(err), errorMessage(err)), { status: statusFor(err), headers: json })
    }
    const ct = req.headers.get('content-type') ?? ''
    if (!/^multipart\/(form-data|mixed)/i.test(ct) || req.body === null) {
      return new Response(errorBody(400, 'the request body must be multipart/form-data'), { status: 400, headers: json })
    }
    const ctrl = new AbortController()
    const signal = options.signal !== undefined ? AbortSignal.any([options.signal, ctrl.signal]) : ctrl.signal
    const outputs = addUpload(req.body, ct, params, components, { signal, contentLength: announcedLength(req.headers) })

    if (!params.streamChannels) {
      const all: Record<string, unknown>[] = []
      try {
        for await (const o of outputs) all.push(addOutputToJSON(o))
      } catch (err) {
        log.error(`add: ${errorMessage(err)}`)
        const status = statusFor(err) === 507 ? 507 : 500
        return new Response(errorBody(status, errorMessage(err)), { status, headers: { ...json, 'Cache-Control': 'no-cache' } })
      }
      return new Response(`${JSON.stringify(all)}\n`, { status: 200, headers: { ...json, 'Cache-Control': 'no-cache' } })
    }

    const enc = new TextEncoder()
    let streamError = ''
    let finished = false
    const body = new ReadableStream<Uint8Array>(
      {
        async pull(c) {
          try {
            const r = await outputs.next()
            if (r.done === true) {
              finished = true
              c.close()
              return
            }
            c.enqueue(enc.encode(`${JSON.stringify(addOutputToJSON(r.value))}\n`))
          } catch (err) {
            streamError = errorMessage(err)
            finished = true
            c.close()
          }
        },
        async cancel() {
          if (finished) return
          finished = true
          ctrl.abort()
          try {
            await outputs.return(undefined)
          } catch (err) {
            log.debug(`closing add: ${errorMessage(err)}`)
          }
        }
      },
      { highWaterMark: 0 }
    ) as TrailerCarrier
    body[RESPONSE_TRAILERS] = (): TrailerList => [[STREAM_ERROR_TRAILER, streamError]]
    return new Response(body, {
      status: 200,
      headers: {
        ...json,
        'Cache-Control': 'no-cache',
        // upstream asks clients not to reuse the connection after an add
        Connection: 'close',
        'X-Chunked-Output': '1',
        Trailer: STREAM_ERROR_TRAILER
      }
    })
  }
}
