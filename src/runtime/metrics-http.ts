/**
 * A minimal HTTP listener for the Prometheus endpoint. Under Bun it is
 * `Bun.serve`; elsewhere (Deno running from source) it falls back to
 * `node:http`. Only GET handlers without streaming are needed.
 */
import http from 'node:http'
import type { AddressInfo } from 'node:net'

export interface MetricsHttpListener {
  /** the bound port (port 0 resolved). */
  readonly port: number
  readonly hostname: string
  /** Stops listening and closes open connections. Idempotent. */
  close(): Promise<void>
}

type Handler = (req: Request) => Response | Promise<Response>

interface BunLike {
  serve(o: { hostname: string; port: number; fetch: Handler }): { port: number; stop(force?: boolean): Promise<void> | void }
}

/** Serves `fetch` on `hostname:port` (port 0 = any free port). @throws when the address is in use */
export async function serveMetricsHttp(hostname: string, port: number, fetch: Handler): Promise<MetricsHttpListener> {
  const bun = (globalThis as { Bun?: BunLike }).Bun
  if (bun !== undefined) {
    const server = bun.serve({ hostname, port, fetch })
    let closed = false
    return {
      port: server.port,
      hostname,
      async close() {
        if (closed) return
        closed = true
        await server.stop(true)
      }
    }
  }
  const server = http.createServer((req, res) => {
    const url = `http://${req.headers.host ?? 'localhost'}${req.url ?? '/'}`
    Promise.resolve(fetch(new Request(url, { method: req.method ?? 'GET' })))
      .then(async (resp) => {
        res.writeHead(resp.status, Object.fromEntries(resp.headers))
        res.end(Buffer.from(await resp.arrayBuffer()))
      })
      .catch(() => {
        res.writeHead(500)
        res.end()
      })
  })
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject)
    server.listen(port, hostname, () => resolve())
  })
  let closed = false
  return {
    port: (server.address() as AddressInfo).port,
    hostname,
    async close() {
      if (closed) return
      closed = true
      server.closeAllConnections()
      await new Promise<void>((resolve) => server.close(() => resolve()))
    }
  }
}
