/**
 * The REST API server: serves the Hono app of `app.ts` on every
 * `http_listen_multiaddress`, mirroring upstream `api/common/api.go`
 * (`setupHTTP`, `runHTTPServer`, `Shutdown`).
 *
 * Addresses: `/ip4/<ip>/tcp/<port>`, `/ip6/<ip>/tcp/<port>`,
 * `/dns4|dns6|dns/<host>/tcp/<port>` and `/unix/<path>` (Go style,
 * `/unix/tmp/api.sock`, or js-multiaddr style, `/unix/%2Ftmp%2Fapi.sock`).
 * TLS when both `sslCertFile` and `sslKeyFile` are set. The runtime's
 * listener lives in `src/runtime/http.ts`.
 *
 * The config section (`RestApiConfig` of `src/config/types.ts`) can be
 * passed as is: it is a `RestApiServerInit`. Access logs (Common Log
 * Format) go to `http_log_file`, or to the `restapilog` logger at info as
 * upstream does. Not implemented: the libp2p-http endpoint.
 */
import { createWriteStream, readFileSync, type WriteStream } from 'node:fs'
import { createSecureContext } from 'node:tls'
import { multiaddr } from '@multiformats/multiaddr'
import type { Hono } from 'hono'
import { errorMessage, InvalidArgumentError } from '../../errors.ts'
import type { Startable } from '../../interfaces.ts'
import { getLogger } from '../../observability/logging.ts'
import { type HttpListener, type ListenAddress, listenHttp, type RequestRecord } from '../../runtime/http.ts'
import { createRestApp, type RestApiComponents, type RestApiInit } from './app.ts'
import type { BasicAuthCredentials } from './auth.ts'

/** How a server built on this one names itself: startup line label and logger facilities. */
export interface HttpApiNames {
  /** e.g. `RESTAPI`, `PINSVCAPI` (the startup line `RESTAPI (HTTP): /ip4/…`). */
  label: string
  /** component logger facility, e.g. `restapi`. */
  logger: string
  /** access log facility when `http_log_file` is empty, e.g. `restapilog`. */
  accessLogger: string
  /** the config key of the access log file, for its error messages (default `http_log_file`). */
  logFileKey?: string
  /** where requests go, appended to the startup line as ` -> <target>` (the IPFS proxy's kubo). */
  target?: string
  /** logged when stopping (default `stopping <label>`). */
  stopMessage?: string
}

const REST_NAMES: HttpApiNames = { label: 'RESTAPI', logger: 'restapi', accessLogger: 'restapilog', stopMessage: 'stopping Cluster API' }

const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec']

/**
 * One access log line in Common Log Format, as gorilla's `LoggingHandler`
 * writes it: `host - - [02/Jan/2006:15:04:05 +0000] "GET /id HTTP/1.1" 200 123`
 * (times in UTC).
 */
export function commonLogLine(r: RequestRecord): string {
  const d = r.start
  const p = (n: number): string => String(n).padStart(2, '0')
  const ts = `${p(d.getUTCDate())}/${MONTHS[d.getUTCMonth()]}/${d.getUTCFullYear()}:${p(d.getUTCHours())}:${p(d.getUTCMinutes())}:${p(d.getUTCSeconds())} +0000`
  const host = r.remoteAddress === '' ? '-' : r.remoteAddress
  return `${host} - - [${ts}] "${r.method} ${r.url} ${r.proto}" ${r.status} ${r.bytes}`
}

/** A file's contents, or an InvalidArgumentError naming the config key and the path. */
function readPem(path: string, key: string): Buffer {
  try {
    return readFileSync(path)
  } catch (err) {
    throw new InvalidArgumentError(`${key}: cannot read "${path}": ${errorMessage(err)}`)
  }
}

/**
 * Reads and checks the TLS certificate and key (`ssl_cert_file`, `ssl_key_file`).
 * @throws InvalidArgumentError naming the key when a file cannot be read or the
 *   pair is not a valid PEM certificate with its private key (the API refuses to start).
 */
export function loadTls(certFile: string, keyFile: string): { cert: Buffer; key: Buffer } {
  const cert = readPem(certFile, 'ssl_cert_file')
  const key = readPem(keyFile, 'ssl_key_file')
  try {
    createSecureContext({ cert, key })
  } catch (err) {
    throw new InvalidArgumentError(`ssl_cert_file/ssl_key_file: "${certFile}" and "${keyFile}" are not a valid certificate and private key: ${errorMessage(err)}`)
  }
  return { cert, key }
}

/** What the server of an HTTP API needs: listeners, TLS, timeouts, access log (upstream `api/common` `Config`). */
export interface HttpServerInit {
  /** null: no auth (only shown in the startup line: the app does the checking). */
  basicAuthCredentials: BasicAuthCredentials
  /** Go's `MaxHeaderBytes` (default 4096). */
  maxHeaderBytes?: number
  /** ms (`write_timeout`, 0 = none): time to write a whole response; past it the connection is closed. */
  writeTimeoutMs?: number
  /** `http_listen_multiaddress`: one or more multiaddrs. */
  httpListenMultiaddress: string[]
  /** PEM certificate file (`ssl_cert_file`); TLS when both files are set. */
  sslCertFile?: string
  /** PEM key file (`ssl_key_file`). */
  sslKeyFile?: string
  /** ms (`idle_timeout`, default 120s); keep-alive idle timeout. */
  idleTimeoutMs?: number
  /** ms (`read_header_timeout`, default 5s). */
  readHeaderTimeoutMs?: number
  /** ms (`read_timeout`, 0 = none): time to receive a whole request. */
  readTimeoutMs?: number
  /** ms to wait for in-flight requests on stop (default 5000). */
  shutdownGraceMs?: number
  /** `http_log_file`: append access logs there; "" or unset = `restapilog` logger at info. */
  httpLogFile?: string
}

/** Server settings (the rest of the `api.restapi` section). */
export interface RestApiServerInit extends RestApiInit, HttpServerInit {}

export interface RestApiServer extends Startable {
  /** The multiaddrs actually listened on (port 0 resolved); [] when stopped. */
  addresses(): string[]
  /** The Hono app (for in-process requests). */
  readonly app: Hono
}

/**
 * Turns a listen multiaddr into a socket address.
 * @throws InvalidArgumentError on an unsupported or malformed multiaddr.
 */
export function listenAddressFromMultiaddr(ma: string): ListenAddress {
  if (ma.startsWith('/unix/')) {
    let path = decodeURIComponent(ma.slice('/unix'.length))
    path = path.replace(/^\/+/, '/')
    if (path === '/' || path === '') throw new InvalidArgumentError(`invalid unix multiaddr: ${ma}`)
    return { kind: 'unix', path }
  }
  let comps: { name: string; value?: string }[]
  try {
    comps = multiaddr(ma).getComponents()
  } catch (err) {
    throw new InvalidArgumentError(`invalid listen multiaddress ${ma}: ${errorMessage(err)}`)
  }
  const [host, tcp] = comps
  if (comps.length !== 2 || host === undefined || tcp === undefined || tcp.name !== 'tcp') {
    throw new InvalidArgumentError(`unsupported listen multiaddress ${ma}: use /ip4|ip6|dns4|dns6|dns/<host>/tcp/<port> or /unix/<path>`)
  }
  if (!['ip4', 'ip6', 'dns4', 'dns6', 'dns'].includes(host.name) || host.value === undefined) {
    throw new InvalidArgumentError(`unsupported listen multiaddress ${ma}`)
  }
  const port = Number(tcp.value)
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new InvalidArgumentError(`invalid port in ${ma}`)
  return { kind: 'tcp', host: host.value, port }
}

function multiaddrOf(listen: string, bound: ListenAddress): string {
  if (bound.kind === 'unix') return `/unix${bound.path}`
  const proto = listen.split('/')[1] ?? 'ip4'
  return `/${proto}/${bound.host}/tcp/${bound.port}`
}

class HttpApiServerImpl implements RestApiServer {
  readonly app: Hono
  private readonly init: HttpServerInit
  private readonly names: HttpApiNames
  private readonly log: ReturnType<typeof getLogger>
  private listeners: { ma: string; l: HttpListener }[] = []
  private logFile: WriteStream | undefined
  private starting: Promise<void> | undefined
  private stopping: Promise<void> | undefined

  constructor(init: HttpServerInit, app: Hono, names: HttpApiNames) {
    this.init = init
    this.app = app
    this.names = names
    this.log = getLogger(names.logger)
    // validate early: a bad address is a config error
    for (const ma of init.httpListenMultiaddress) listenAddressFromMultiaddr(ma)
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
    const log = this.log
    const { sslCertFile, sslKeyFile } = this.init
    const tls =
      sslCertFile !== undefined && sslCertFile !== '' && sslKeyFile !== undefined && sslKeyFile !== ''
        ? loadTls(sslCertFile, sslKeyFile)
        : undefined
    const authInfo = this.init.basicAuthCredentials !== null ? ' - authenticated' : ''
    const logPath = this.init.httpLogFile ?? ''
    if (logPath !== '') {
      const f = createWriteStream(logPath, { flags: 'a', mode: 0o644 })
      await new Promise<void>((resolve, reject) => {
        f.once('open', () => resolve())
        f.once('error', reject)
      })
      f.on('error', (err) => log.error(`${this.names.logFileKey ?? 'http_log_file'}: ${err.message}`))
      this.logFile = f
    }
    const accessLog = getLogger(this.names.accessLogger)
    const onRequestDone = (r: RequestRecord): void => {
      const line = commonLogLine(r)
      if (this.logFile !== undefined && !this.logFile.writableEnded) this.logFile.write(`${line}\n`)
      else accessLog.info(line)
    }
    for (const ma of this.init.httpListenMultiaddress) {
      const l = await listenHttp({
        fetch: (req) => this.app.fetch(req),
        address: listenAddressFromMultiaddr(ma),
        ...(tls !== undefined ? { tls } : {}),
        idleTimeoutMs: this.init.idleTimeoutMs ?? 120_000,
        readHeaderTimeoutMs: this.init.readHeaderTimeoutMs ?? 5000,
        readTimeoutMs: this.init.readTimeoutMs ?? 0,
        writeTimeoutMs: this.init.writeTimeoutMs ?? 0,
        // Go's http.Server reads MaxHeaderBytes plus 4096 bytes of slack
        maxHeaderBytes: (this.init.maxHeaderBytes ?? 4096) + 4096,
        onError: (err) => log.error(`http server: ${errorMessage(err)}`),
        onRequestDone
      })
      const bound = multiaddrOf(ma, l.address)
      this.listeners.push({ ma: bound, l })
      const target = this.names.target !== undefined ? ` -> ${this.names.target}` : ''
      log.info(`${this.names.label} (HTTP${tls !== undefined ? 'S' : ''}${authInfo}): ${bound}${target}`)
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
      this.log.info(this.names.stopMessage ?? `stopping ${this.names.label}`)
      await starting.catch(() => {})
      await this.closeAll()
      this.starting = undefined
    })()
    return this.stopping
  }
}

/**
 * Creates the REST API server (not started).
 * @throws InvalidArgumentError when a listen multiaddr is unsupported.
 */
export function createRestApiServer(init: RestApiServerInit, components: RestApiComponents): RestApiServer {
  return new HttpApiServerImpl(init, createRestApp(init, components), REST_NAMES)
}

/**
 * Serves another API's Hono app with the REST API's server (listeners,
 * TLS, timeouts, access logs), e.g. the Pinning Service API and the IPFS
 * proxy.
 * @throws InvalidArgumentError when a listen multiaddr is unsupported.
 */
export function createHttpApiServer(init: HttpServerInit, app: Hono, names: HttpApiNames): RestApiServer {
  return new HttpApiServerImpl(init, app, names)
}
