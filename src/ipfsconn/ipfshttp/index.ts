/**
 * The kubo connector (upstream `ipfsconn/ipfshttp`), configured by the
 * `ipfs_connector.ipfshttp` section of service.json.
 *
 * ```ts
 * const ipfs = createIpfsHttpConnector({ ...defaultIpfsHttpInit(), nodeMultiaddress: '/ip4/127.0.0.1/tcp/5001' }, {
 *   clusterPeers: (o) => cluster.peers(o),                  // for connectSwarms
 *   sendInformersMetrics: (o) => cluster.sendInformersMetrics(o)
 * })
 * await ipfs.start()
 * await ipfs.pin(pin, { signal, onProgress: (blocks) => … })
 * ```
 */
import { type IpfsHttpComponents, IpfsHttpConnector } from './connector.ts'
import type { IpfsHttpInit } from './config.ts'

export {
  DEFAULT_CONNECT_SWARMS_DELAY_MS,
  DEFAULT_INFORMER_TRIGGER_INTERVAL,
  DEFAULT_IPFS_REQUEST_TIMEOUT_MS,
  DEFAULT_NODE_MULTIADDRESS,
  DEFAULT_PIN_TIMEOUT_MS,
  DEFAULT_REPOGC_TIMEOUT_MS,
  DEFAULT_UNPIN_TIMEOUT_MS,
  defaultIpfsHttpInit,
  type IpfsHttpInit,
  nodeUrl,
  validateIpfsHttpInit
} from './config.ts'
export { type IpfsHttpComponents, IpfsHttpConnector, isPinned } from './connector.ts'

/**
 * Builds the connector (not started).
 * @throws InvalidArgumentError on invalid settings.
 */
export function createIpfsHttpConnector(init: IpfsHttpInit, components: IpfsHttpComponents = {}): IpfsHttpConnector {
  return new IpfsHttpConnector(init, components)
}
