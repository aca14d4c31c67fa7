/**
 * The bundled IPFS node's read-only HTTP gateway (ours; the subset of
 * kubo's gateway needed to read back what the cluster stored):
 *
 * - `GET|HEAD /ipfs/<cid>[/path]`: a UnixFS file's bytes
 *   (`application/octet-stream`), a directory's entry names (one per line,
 *   `text/plain`).
 * - `?format=raw` (or `Accept: application/vnd.ipld.raw`): the block at
 *   that path, as is (trustless gateway).
 * - `?format=car` (or `Accept: application/vnd.ipld.car`): a CARv1 of the
 *   whole DAG under that path, rooted at it (trustless gateway).
 *
 * It serves only blocks this node has (never fetches from the network):
 * 404 when a block is missing or the path does not exist, 400 for an
 * invalid CID or format, 405 for other methods.
 */
import { unixfs } from '@helia/unixfs'
import { CarWriter } from '@ipld/car'
import type { Helia } from 'helia'
import { CID } from 'multiformats/cid'
import { getLogger } from '../../observability/logging.ts'
import { type HttpListener, listenHttp } from '../../runtime/http.ts'
import { blockKey, type FsBlockstore } from './blockstore.ts'
import { blockLinks } from './dag.ts'

const log = getLogger('bundled')

const RAW_TYPE = 'application/vnd.ipld.raw'
const CAR_TYPE = 'application/vnd.ipld.car'

function text(status: number, body: string): Response {
  return new Response(`${body}\n`, { status, headers: { 'Content-Type': 'text/plain; charset=utf-8' } })
}

function isMissing(err: unknown): boolean {
  const name = (err as { name?: string }).name ?? ''
  return ['BlockNotFoundWhileOfflineError', 'NotFoundError', 'DoesNotExistError', 'NoContentError'].includes(name)
}

/** The gateway's request handler (exported for tests). */
export function gatewayHandler(helia: Helia, blockstore: FsBlockstore): (req: Request) => Promise<Response> {
  const fs = unixfs(helia)
  return async (req) => {
    if (req.method !== 'GET' && req.method !== 'HEAD') return text(405, 'method not allowed: the gateway is read-only')
    const url = new URL(req.url)
    const segs = url.pathname.split('/').filter((s) => s !== '').map(decodeURIComponent)
    if (segs[0] !== 'ipfs' || segs.length < 2) return text(404, 'not found: use /ipfs/<cid>[/path]')
    let root: CID
    try {
      root = CID.parse(segs[1]!)
    } catch (err) {
      return text(400, `invalid CID "${segs[1]}": ${(err as Error).message}`)
    }
    const accept = req.headers.get('accept') ?? ''
    let format = url.searchParams.get('format') ?? ''
    if (format === '' && accept.includes(RAW_TYPE)) format = 'raw'
    if (format === '' && accept.includes(CAR_TYPE)) format = 'car'
    if (format !== '' && format !== 'raw' && format !== 'car') return text(400, `unsupported format "${format}": use raw or car`)
    const path = segs.slice(2).join('/')
    const head = req.method === 'HEAD'
    try {
      const st = await fs.stat(root, { offline: true, ...(path !== '' ? { path } : {}), signal: req.signal })
      const cid = st.cid
      const etag = `"${cid}${format === '' ? '' : `.${format}`}"`
      if (format === 'raw') {
        const bytes = await blockstore.getBytes(cid)
        return new Response(head ? null : (bytes as Uint8Array<ArrayBuffer>), { headers: { 'Content-Type': RAW_TYPE, 'Content-Length': String(bytes.length), Etag: etag, 'X-Ipfs-Roots': cid.toString() } })
      }
      if (format === 'car') {
        if (head) return new Response(null, { headers: { 'Content-Type': `${CAR_TYPE}; version=1`, Etag: etag } })
        return new Response(carStream(cid, blockstore), { headers: { 'Content-Type': `${CAR_TYPE}; version=1`, Etag: etag } })
      }
      if (st.type === 'directory') {
        const names: string[] = []
        for await (const e of fs.ls(cid, { offline: true, signal: req.signal })) names.push(e.name)
        return new Response(head ? null : `${names.join('\n')}\n`, { headers: { 'Content-Type': 'text/plain; charset=utf-8', Etag: etag } })
      }
      const headers = { 'Content-Type': 'application/octet-stream', 'Content-Length': String(st.size), Etag: etag }
      if (head) return new Response(null, { headers })
      const chunks = fs.cat(cid, { offline: true, signal: req.signal })[Symbol.asyncIterator]()
      const body = new ReadableStream<Uint8Array>({
        async pull(ctl) {
          try {
            const n = await chunks.next()
            if (n.done === true) ctl.close()
            else ctl.enqueue(n.value)
          } catch (err) {
            ctl.error(err)
          }
        },
        async cancel() {
          await chunks.return?.()
        }
      })
      return new Response(body, { headers })
    } catch (err) {
      if (isMissing(err)) return text(404, `not found on this node: ${url.pathname}: ${(err as Error).message}`)
      log.warn(`gateway ${url.pathname}: ${(err as Error).message}`)
      return text(500, `gateway error: ${(err as Error).message}`)
    }
  }
}

/** A CARv1 of every block under `root` (local blocks only; a missing one ends the stream with an error). */
function carStream(root: CID, blockstore: FsBlockstore): ReadableStream<Uint8Array> {
  const { writer, out } = CarWriter.create([root])
  void (async () => {
    try {
      // depth-first, each block once, in the order a trustless client verifies them
      const seen = new Set<string>()
      const stack: CID[] = [root]
      while (stack.length > 0) {
        const cid = stack.pop()!
        const k = blockKey(cid)
        if (seen.has(k)) continue
        seen.add(k)
        const bytes = await blockstore.getBytes(cid)
        await writer.put({ cid, bytes })
        stack.push(...blockLinks(cid, bytes).reverse())
      }
    } catch (err) {
      log.warn(`gateway CAR ${root}: ${(err as Error).message}`)
    } finally {
      await writer.close().catch(() => {})
    }
  })()
  const it = out[Symbol.asyncIterator]()
  return new ReadableStream<Uint8Array>({
    async pull(ctl) {
      const n = await it.next()
      if (n.done === true) ctl.close()
      else ctl.enqueue(n.value)
    }
  })
}

/** Starts the gateway on `host:port` (port 0 = any free one). */
export async function startGateway(helia: Helia, blockstore: FsBlockstore, host: string, port: number): Promise<HttpListener> {
  const listener = await listenHttp({ fetch: gatewayHandler(helia, blockstore), address: { kind: 'tcp', host, port } })
  log.info(`bundled IPFS gateway listening on http://${host.includes(':') ? `[${host}]` : host}:${listener.address.kind === 'tcp' ? listener.address.port : ''}`)
  return listener
}
