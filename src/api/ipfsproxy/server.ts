/**
 * The IPFS proxy server (upstream `api/ipfsproxy.Server`): the app of
 * `app.ts` on every `listen_multiaddress` (TCP or `/unix/`), with the
 * section's timeouts and `max_header_bytes`, and an access log in Common
 * Log Format to `log_file` (appended) or the `ipfsproxylog` logger.
 *
 * Every key of `api.ipfsproxy` is honoured; see `IpfsProxyServerInit`.
 */
import { createWriteStream, type WriteStream } from 'node:fs'
import type { Hono } from 'hono'
import type { IpfsProxyConfig } from '../../config/types.ts'
import { errorMessage } from '../../errors.ts'
import type { Startable } from '../../interfaces.ts'
import { getLogger } from '../../observability/logging.ts'
import { type HttpListener, listenHttp, type RequestRecord } from '../../runtime/http.ts'
import type { BasicAuthCredentials } from '../rest/auth.ts'
import { commonLogLine, listenAddressFromMultiaddr } from '../rest/server.ts'
import { createIpfsProxyApp, type IpfsProxyComponents } from './app.ts'
import { nodeFetch, nodeTarget } from './node.ts'

const log = getLogger('ipfsproxy')
const accessLog = getLogger('ipfsproxylog')

/** The `api.ipfsproxy` section plus the REST API's credentials. */
export interface IpfsProxyServerInit extends IpfsProxyConfig {
  /** `api.restapi.basic_auth_credentials` (null: no auth). */
  basicAuthCredentials: BasicAuthCredentials
  /** ms to wait for in-flight requests on stop (default 5000). */
  shutdownGraceMs?: number
}

export interface IpfsProxyServer extends Startable {
  /** The multiaddrs listened on (port 0 resolved); [] when stopped. */
  addresses(): string[]
  readonly app: Hono
}

function boundMultiaddr(listen: string, l: HttpListener): string {
  const a = l.address
  if (a.kind === 'unix') return `/unix${a.path}`
  return `/${listen.split('/')[1] ?? 'ip4'}/${a.host}/tcp/${a.port}`
}

class IpfsProxyServerImpl implements IpfsProxyServer {
  readonly app: Hono
  private readonly init: IpfsProxyServerInit
  private listeners: { ma: string; l: HttpListener }[] = []
  private logFile: WriteStream | undefined
  private starting: Promise<void> | undefined
  private stopping: Promise<void> | undefined

  constructor(init: IpfsProxyServerInit, components: Omit<IpfsProxyComponents, 'fetchNode'> & Partial<Pick<IpfsProxyComponents, 'fetchNode'>>) {
    this.init = init
    for (const ma of init.listenMultiaddress) listenAddressFromMultiaddr(ma)
    const fetchNode = components.fetchNode ?? nodeFetch(nodeTarget(init.nodeMultiaddress, init.nodeHttps))
    this.app = createIpfsProxyApp(init, { ...components, fetchNode })
  }

  addresses(): string[] {
    return this.listeners.map((x) => x.ma)
  }

  start(): Promise<void> {
    if (this.starting !== undefined) return this.starting
    this.stopping = undefined
    this.starting = this.doStart().catch(async (err: unknown) => {
      await this.closeAll()
      this.starting = undefined
      throw err
    })
    return this.starting
  }

  private async doStart(): Promise<void> {
    if (this.init.logFile !== '') {
      const f = createWriteStream(this.init.logFile, { flags: 'a', mode: 0o644 })
      await new Promise<void>((resolve, reject) => {
        f.once('open', () => resolve())
        f.once('error', reject)
      })
      f.on('error', (err) => log.error(`log_file: ${err.message}`))
      this.logFile = f
    }
    const onRequestDone = (r: RequestRecord): void => {
      const line = commonLogLine(r)
      if (this.logFile !== undefined && !this.logFile.writableEnded) this.logFile.write(`${line}\n`)
      else accessLog.info(line)
    }
    const auth = this.init.basicAuthCredentials !== null ? ' - authenticated' : ''
    for (const ma of this.init.listenMultiaddress) {
      const l = await listenHttp({
        fetch: (req) => this.app.fetch(req),
        address: listenAddressFromMultiaddr(ma),
        idleTimeoutMs: this.init.idleTimeoutMs,
        readHeaderTimeoutMs: this.init.readHeaderTimeoutMs,
        readTimeoutMs: this.init.readTimeoutMs,
        writeTimeoutMs: this.init.writeTimeoutMs,
        // Go's http.Server reads MaxHeaderBytes plus 4096 bytes of slack
        maxHeaderBytes: this.init.maxHeaderBytes + 4096,
        onError: (err) => log.error(`http server: ${errorMessage(err)}`),
        onRequestDone
      })
      const bound = boundMultiaddr(ma, l)
      this.listeners.push({ ma: bound, l })
      log.info(`IPFS Proxy${auth}: ${bound} -> ${this.init.nodeMultiaddress}`)
    }
  }

  private async closeAll(): Promise<void> {
    const ls = this.listeners
    this.listeners = []
    await Promise.all(ls.map(({ l }) => l.close(this.init.shutdownGraceMs ?? 5000)))
    const f = this.logFile
    this.logFile = undefined
    if (f !== undefined) await new Promise<void>((resolve) => f.end(() => resolve()))
  }

  stop(): Promise<void> {
    if (this.stopping !== undefined) return this.stopping
    const starting = this.starting
    this.stopping = (async () => {
      if (starting === undefined) return
      log.info('stopping the IPFS Proxy')
      await starting.catch(() => {})
      await this.closeAll()
      this.starting = undefined
    })()
    return this.stopping
  }
}

/**
 * Creates the proxy server (not started).
 * @throws InvalidArgumentError for an unsupported listen or node multiaddr.
 */
export function createIpfsProxyServer(
  init: IpfsProxyServerInit,
  components: Omit<IpfsProxyComponents, 'fetchNode'> & Partial<Pick<IpfsProxyComponents, 'fetchNode'>>
): IpfsProxyServer {
  return new IpfsProxyServerImpl(init, components)
}
