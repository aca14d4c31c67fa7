/**
 * The dashboard under /ui/ on the REST API: embedded assets served without
 * auth (gzip or plain, ETag/304, CSP), every data route still behind auth,
 * and the committed generated module fresh against src/ui/.
 */
import { describe, expect, test } from 'bun:test'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { gunzipSync } from 'node:zlib'
import { createRestApp, DEFAULT_CORS, type RestApiInit } from '../../../src/api/rest/app.ts'
import { uiAssetSizes } from '../../../src/api/rest/ui.ts'
import { assetsModule, bundleUi, UI_ASSETS_MODULE } from '../../../scripts/build-ui.ts'
import { stubCluster } from './stub.ts'

const creds = { alice: 'secret' }

function app(credentials: Record<string, string> | null = creds) {
  const init: RestApiInit = { basicAuthCredentials: credentials, headers: {}, ...DEFAULT_CORS, corsAllowedOrigins: ['*'], corsAllowedMethods: ['GET'], corsAllowedHeaders: [], corsExposedHeaders: [] }
  return createRestApp(init, { cluster: stubCluster() })
}

describe('dashboard assets', () => {
  test('/ui redirects to /ui/, which is the HTML shell without credentials', async () => {
    const a = app()
    const r = await a.request('/ui')
    expect(r.status).toBe(307)
    expect(r.headers.get('Location')).toBe('/ui/')
    const shell = await a.request('/ui/')
    expect(shell.status).toBe(200)
    expect(shell.headers.get('Content-Type')).toBe('text/html; charset=utf-8')
    const html = await shell.text()
    expect(html).toContain('<script type="module" src="app.js"></script>')
    expect(shell.headers.get('Content-Security-Policy')).toContain("script-src 'self'")
  })

  test('app.js is gzipped when accepted, plain otherwise, and the two agree', async () => {
    const a = app()
    const gz = await a.request('/ui/app.js', { headers: { 'Accept-Encoding': 'gzip, br' } })
    expect(gz.status).toBe(200)
    expect(gz.headers.get('Content-Encoding')).toBe('gzip')
    expect(gz.headers.get('Content-Type')).toBe('text/javascript; charset=utf-8')
    const zipped = new Uint8Array(await gz.arrayBuffer())
    expect(Number(gz.headers.get('Content-Length'))).toBe(zipped.length)
    const plain = await a.request('/ui/app.js', { headers: { 'Accept-Encoding': 'identity' } })
    expect(plain.headers.get('Content-Encoding')).toBeNull()
    const text = await plain.text()
    expect(new TextDecoder().decode(gunzipSync(zipped))).toBe(text)
    expect(text).toContain('/allocations')
  })

  test('If-None-Match with the ETag gives 304', async () => {
    const a = app()
    const first = await a.request('/ui/app.css')
    const etag = first.headers.get('ETag')
    expect(etag).toMatch(/^"[0-9a-f]{32}"$/)
    expect(first.headers.get('Cache-Control')).toBe('no-cache')
    const again = await a.request('/ui/app.css', { headers: { 'If-None-Match': etag! } })
    expect(again.status).toBe(304)
    expect(await again.text()).toBe('')
  })

  test('unknown /ui/ paths get the shell; POST is not served', async () => {
    const a = app(null)
    const r = await a.request('/ui/pins/whatever')
    expect(await r.text()).toContain('<div id="app">')
    const post = await a.request('/ui/app.js', { method: 'POST' })
    expect(post.status).toBe(404)
  })

  test('data calls the dashboard makes are still refused without credentials', async () => {
    const a = app()
    for (const path of ['/id', '/peers', '/allocations', '/pins', '/health/alerts', '/monitor/metrics', '/version']) {
      const r = await a.request(path)
      expect(r.status).toBe(401)
    }
    const ok = await a.request('/id', { headers: { Authorization: `Basic ${btoa('alice:secret')}` } })
    expect(ok.status).toBe(200)
  })

  test('Deno serves the same assets from source (no file read at run time)', async () => {
    const root = join(import.meta.dir, '../../..')
    const code =
      "import { Hono } from 'hono'; import { uiMiddleware } from './src/api/rest/ui.ts'; const app = new Hono(); app.use('*', uiMiddleware());" +
      "const out = []; for (const p of ['/ui/', '/ui/app.js', '/ui/app.css']) { const r = await app.request(p, { headers: { 'Accept-Encoding': 'identity' } }); out.push([r.status, (await r.text()).length]) } console.log(JSON.stringify(out))"
    const proc = Bun.spawn([join(root, 'node_modules/deno/deno'), 'eval', '--ext=ts', code], { cwd: root, stdout: 'pipe', stderr: 'pipe' })
    const [stdout, stderr, exit] = await Promise.all([new Response(proc.stdout).text(), new Response(proc.stderr).text(), proc.exited])
    expect(stderr).toBe('')
    expect(exit).toBe(0)
    const a = app(null)
    const expected: [number, number][] = []
    for (const p of ['/ui/', '/ui/app.js', '/ui/app.css']) {
      const r = await a.request(p)
      expected.push([r.status, (await r.text()).length])
    }
    expect(JSON.parse(stdout)).toEqual(expected)
  })

  test('the committed ui-assets.gen.ts is fresh (bun scripts/build-ui.ts regenerates it)', async () => {
    const fresh = assetsModule(await bundleUi())
    expect(readFileSync(UI_ASSETS_MODULE, 'utf8')).toBe(fresh)
    expect(UI_ASSETS_MODULE).toBe(join(import.meta.dir, '../../../src/api/rest/ui-assets.gen.ts'))
    const sizes = uiAssetSizes()
    expect(sizes.gzipSize).toBeGreaterThan(0)
    expect(sizes.gzipSize).toBeLessThan(sizes.size)
  })
})
