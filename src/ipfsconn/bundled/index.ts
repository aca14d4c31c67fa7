/**
 * The bundled IPFS connector (ours): an embedded Helia node in place of
 * kubo, configured by the `ipfs_connector.bundled` section of service.json.
 *
 * ```ts
 * const ipfs = createBundledConnector({ folder: '/data/peer/ipfs', listenMultiaddress: ['/ip4/0.0.0.0/tcp/4001'], … })
 * await ipfs.start()
 * await ipfs.pin(pin, { signal, onProgress: (blocks) => … })
 * ```
 */
import { type BundledComponents, BundledConnector } from './connector.ts'
import type { BundledInit } from './config.ts'

export { FsBlockstore, StorageFullError } from './blockstore.ts'
export { type BundledInit, gatewayAddress, validateBundledInit } from './config.ts'
export { type BundledComponents, BundledConnector, type BundledPinRecord } from './connector.ts'

/**
 * Builds the connector (not started).
 * @throws InvalidArgumentError on invalid settings.
 */
export function createBundledConnector(init: BundledInit, components: BundledComponents = {}): BundledConnector {
  return new BundledConnector(init, components)
}
