/**
 * The IPFS Proxy API (upstream `api/ipfsproxy`): kubo's RPC API with the
 * pin-related commands answered by the cluster.
 */
export {
  addParamsFromKuboQuery,
  createIpfsProxyApp,
  hijackedCommand,
  type IpfsProxyComponents,
  type IpfsProxyInit,
  kuboError,
  MissingArgumentError
} from './app.ts'
export { HeaderExtractor, SERVER_HEADER } from './headers.ts'
export { forward, type NodeFetch, nodeFetch, type NodeTarget, nodeTarget } from './node.ts'
export { createIpfsProxyServer, type IpfsProxyServer, type IpfsProxyServerInit } from './server.ts'
