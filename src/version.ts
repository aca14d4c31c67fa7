/**
 * Version of this build. `scripts/build.ts` injects `IPFS_CLUSTER_VERSION`
 * and `IPFS_CLUSTER_COMMIT` with `--define`; from source the package
 * version is used.
 */
declare const IPFS_CLUSTER_VERSION: string | undefined
declare const IPFS_CLUSTER_COMMIT: string | undefined

export const VERSION: string = typeof IPFS_CLUSTER_VERSION === 'string' ? IPFS_CLUSTER_VERSION : '0.1.0'
export const COMMIT: string = typeof IPFS_CLUSTER_COMMIT === 'string' ? IPFS_CLUSTER_COMMIT : ''
/** upstream `version.RPCProtocol` */
export const RPC_PROTOCOL = '/ipfscluster/1.0/rpc'
