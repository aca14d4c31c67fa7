/**
 * Serves the web dashboard under `/ui/` on the REST API listener (no
 * upstream counterpart: upstream has no web UI, issues #1727 and #1902).
 *
 * The assets are embedded at build time (`ui-assets.gen.ts`, written by
 * scripts/build-ui.ts), so nothing is read from disk. They are public, like
 * a login page: the dashboard itself only calls the REST API, whose every
 * data route keeps requiring the configured credentials.
 *
 * - `GET /ui` → 307 to `/ui/`
 * - `GET /ui/` (and any `/ui/<unknown>`) → index.html
 * - `GET /ui/app.js`, `/ui/app.css`
 * Responses carry a strong `ETag` (304 on `If-None-Match`),
 * `Cache-Control: no-cache`, a strict Content-Security-Policy (same-origin
 * scripts, styles and fetches only), and are sent gzipped when the client
 * accepts gzip (gunzipped once and kept otherwise).
 */
import { Buffer } from 'node:buffer'
import { gunzipSync } from 'node:zlib'
import type { MiddlewareHandler } from 'hono'
import { UI_ASSETS } from './ui-assets.gen.ts'

/** The dashboard's path prefix. */
export const UI_PATH = '/ui'

/** Same-origin scripts, styles and fetches only; no inline script. */
const CSP = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; form-action 'none'; frame-ancestors 'none'; base-uri 'none'"

interface Served {
  type: string
  etag: string
  gzip: Uint8Array
  plain: Uint8Array | undefined
}

const served = new Map<string, Served>()
for (const [name, a] of Object.entries(UI_ASSETS)) {
  served.set(name, { type: a.type, etag: a.etag, gzip: new Uint8Array(Buffer.from(a.gzip, 'base64')), plain: undefined })
}

/** Total sizes of the embedded assets, bytes (for `--version`-like reports and the tests). */
export function uiAssetSizes(): { size: number; gzipSize: number } {
  let size = 0
  let gzipSize = 0
  for (const a of Object.values(UI_ASSETS)) {
    size += a.size
    gzipSize += a.gzipSize
  }
  return { size, gzipSize }
}

function acceptsGzip(header: string | undefined): boolean {
  if (header === undefined) return false
  return header.split(',').some((part) => {
    const [coding, ...params] = part.trim().split(';')
    if (coding?.trim().toLowerCase() !== 'gzip' && coding?.trim() !== '*') return false
    const q = params.map((p) => p.trim()).find((p) => p.startsWith('q='))
    return q === undefined || Number(q.slice(2)) > 0
  })
}

/**
 * The middleware serving `/ui` and `/ui/*` (GET and HEAD); every other path
 * goes on to the next handler. Mount it before the auth middleware.
 */
export function uiMiddleware(): MiddlewareHandler {
  return async (c, next) => {
    const path = c.req.path
    if (path !== UI_PATH && !path.startsWith(`${UI_PATH}/`)) return next()
    if (c.req.method !== 'GET' && c.req.method !== 'HEAD') return next()
    if (path === UI_PATH) return new Response(null, { status: 307, headers: { Location: `${UI_PATH}/` } })
    const name = path.slice(UI_PATH.length + 1)
    const asset = served.get(name) ?? served.get('index.html')!
    const headers = new Headers({
      'Content-Type': asset.type,
      ETag: asset.etag,
      'Cache-Control': 'no-cache',
      Vary: 'Accept-Encoding',
      'Content-Security-Policy': CSP,
      'X-Content-Type-Options': 'nosniff',
      'Referrer-Policy': 'no-referrer'
    })
    const inm = c.req.header('If-None-Match')
    if (inm?.split(',').some((t) => t.trim() === asset.etag || t.trim() === `W/${asset.etag}`)) {
      return new Response(null, { status: 304, headers })
    }
    let body: Uint8Array
    if (acceptsGzip(c.req.header('Accept-Encoding'))) {
      headers.set('Content-Encoding', 'gzip')
      body = asset.gzip
    } else {
      asset.plain ??= new Uint8Array(gunzipSync(asset.gzip))
      body = asset.plain
    }
    headers.set('Content-Length', String(body.length))
    return new Response(c.req.method === 'HEAD' ? null : (body as Uint8Array<ArrayBuffer>), { status: 200, headers })
  }
}
