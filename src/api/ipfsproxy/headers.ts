/**
 * The headers of hijacked answers (upstream `api/ipfsproxy/headers.go`):
 *
 * 1. CORS: when the request has an `Origin`, kubo is asked (`OPTIONS` on
 *    the same path, that `Origin`, `Access-Control-Request-Method`) and
 *    its `Access-Control-Allow-Origin`, `Vary` and
 *    `Access-Control-Allow-Credentials` are copied, so a hijacked answer
 *    carries what kubo would give that origin. (Upstream asks on every
 *    request, with or without `Origin`; without one kubo grants nothing.)
 * 2. Extracted: `Access-Control-Expose-Headers` and the
 *    `extract_headers_extra` names, copied from kubo's answer to
 *    `POST <extract_headers_path>`, cached for `extract_headers_ttl`
 *    (0 = extracted once, kept for ever). A failed extraction keeps what
 *    was cached.
 * 3. Own: `Server: ipfs-cluster/ipfsproxy/<version>`.
 */
import { errorMessage } from '../../errors.ts'
import { getLogger } from '../../observability/logging.ts'
import { VERSION } from '../../version.ts'
import type { NodeFetch } from './node.ts'

const log = getLogger('ipfsproxy')

const CORS_HEADERS = ['Access-Control-Allow-Origin', 'Vary', 'Access-Control-Allow-Credentials']
const EXPOSE = 'Access-Control-Expose-Headers'

/** ms allowed to the header-extraction request. */
const EXTRACT_TIMEOUT_MS = 10_000

export const SERVER_HEADER = `ipfs-cluster/ipfsproxy/${VERSION}`

export interface HeaderExtractorInit {
  extractHeadersPath: string
  extractHeadersExtra: string[]
  /** ms; 0 = never expires. */
  extractHeadersTtlMs: number
  /** clock (tests). */
  now?: () => number
}

/** Applies steps 1-3 above to a hijacked response. */
export class HeaderExtractor {
  private readonly init: HeaderExtractorInit
  private readonly fetchNode: NodeFetch
  private cached = new Map<string, string[]>()
  private extractedAt = -1
  private inflight: Promise<void> | undefined

  constructor(init: HeaderExtractorInit, fetchNode: NodeFetch) {
    this.init = init
    this.fetchNode = fetchNode
  }

  private now(): number {
    return this.init.now?.() ?? Date.now()
  }

  private fresh(): boolean {
    if (this.extractedAt < 0) return false
    const names = [EXPOSE, ...this.init.extractHeadersExtra]
    if (!names.every((n) => this.cached.has(n.toLowerCase()))) return false
    return this.init.extractHeadersTtlMs === 0 || this.now() - this.extractedAt < this.init.extractHeadersTtlMs
  }

  private async extract(): Promise<void> {
    // shared by concurrent requests: bounded by its own deadline, not by one request's signal
    this.inflight ??= (async () => {
      try {
        const res = await this.fetchNode(this.init.extractHeadersPath, { method: 'POST', signal: AbortSignal.timeout(EXTRACT_TIMEOUT_MS) })
        await res.body?.cancel()
        const next = new Map<string, string[]>()
        for (const n of [EXPOSE, ...this.init.extractHeadersExtra]) {
          const v = res.headers.get(n)
          if (v !== null) next.set(n.toLowerCase(), [v])
        }
        for (const [k, v] of next) this.cached.set(k, v)
        this.extractedAt = this.now()
      } catch (err) {
        log.error(`extracting headers from ${this.init.extractHeadersPath}: ${errorMessage(err)}`)
      } finally {
        this.inflight = undefined
      }
    })()
    return this.inflight
  }

  private async cors(req: Request, into: Headers): Promise<void> {
    const origin = req.headers.get('Origin')
    if (origin === null || origin === '') return
    const url = new URL(req.url)
    try {
      const res = await this.fetchNode(`${url.pathname}${url.search}`, {
        method: 'OPTIONS',
        headers: { Origin: origin, 'Access-Control-Request-Method': req.method },
        signal: req.signal
      })
      await res.body?.cancel()
      for (const n of CORS_HEADERS) {
        const v = res.headers.get(n)
        if (v !== null) into.set(n, v)
      }
    } catch (err) {
      log.error(`asking the IPFS daemon for CORS headers: ${errorMessage(err)}`)
    }
  }

  /** The headers for a hijacked answer to `req` (no `Content-Type`). */
  async headersFor(req: Request): Promise<Headers> {
    const h = new Headers()
    if (!this.fresh()) await this.extract()
    for (const [k, vs] of this.cached) for (const v of vs) h.append(k, v)
    await this.cors(req, h)
    h.set('Server', SERVER_HEADER)
    return h
  }
}
