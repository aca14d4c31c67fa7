/**
 * The IPFS proxy server (upstream `api/ipfsproxy.Server`): the app of
 * `app.ts` on every `listen_multiaddress` (TCP or `/unix/`), with the
 * section's timeouts and `max_header_bytes`, and an access log in Common
 * Log Format to `log_file` (appended) or the `ipfsproxylog` logger.
 *
 * Every key of `api.ipfsproxy` is honoured; see `IpfsProxyServerInit`.
 */
import type { Hono } from 'hono'
import type { IpfsProxyConfig } from '../../config/types.ts'
import type { Startable } from '../../interfaces.ts'
import type { BasicAuthCredentials } from '../rest/auth.ts'
import { createHttpApiServer } from '../rest/server.ts'
import { createIpfsProxyApp, type IpfsProxyComponents } from './app.ts'
import { nodeFetch, nodeTarget } from './node.ts'

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

/**
 * Creates the proxy server (not started).
 * @throws InvalidArgumentError for an unsupported listen or node multiaddr.
 */
export function createIpfsProxyServer(
  init: IpfsProxyServerInit,
  components: Omit<IpfsProxyComponents, 'fetchNode'> & Partial<Pick<IpfsProxyComponents, 'fetchNode'>>
): IpfsProxyServer {
  const fetchNode = components.fetchNode ?? nodeFetch(nodeTarget(init.nodeMultiaddress, init.nodeHttps))
  const app = createIpfsProxyApp(init, { ...components, fetchNode })
  // the REST API's server: listeners, timeouts, header limit, access log
  return createHttpApiServer(
    {
      httpListenMultiaddress: init.listenMultiaddress,
      basicAuthCredentials: init.basicAuthCredentials,
      idleTimeoutMs: init.idleTimeoutMs,
      readHeaderTimeoutMs: init.readHeaderTimeoutMs,
      readTimeoutMs: init.readTimeoutMs,
      writeTimeoutMs: init.writeTimeoutMs,
      maxHeaderBytes: init.maxHeaderBytes,
      httpLogFile: init.logFile,
      shutdownGraceMs: init.shutdownGraceMs
    },
    app,
    {
      label: 'IPFS Proxy',
      logger: 'ipfsproxy',
      accessLogger: 'ipfsproxylog',
      logFileKey: 'log_file',
      target: init.nodeMultiaddress,
      stopMessage: 'stopping the IPFS Proxy'
    }
  )
}
