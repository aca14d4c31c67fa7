/**
 * Peer-to-peer RPC (upstream go-libp2p-gorpc + `rpc_api.go` +
 * `rpc_policy.go`): `createRpc` builds the endpoint, `registerClusterRpc`
 * serves the cluster's components on it, `clusterRpcClient` calls them
 * on other peers with typed values.
 *
 * Wiring in the daemon (after the host, before `cluster.start()`):
 * ```ts
 * const rpc = createRpc({ peerId }, { libp2p: host.libp2p, isTrusted: (p) => consensus.isTrustedPeer(p) })
 * const cluster = new Cluster(
 *   { ...init, addresses: () => host.addresses(), peerAddresses: peerStoreAddresses(host.libp2p) },
 *   { ...components, rpc }
 * )
 * registerClusterRpc(rpc, { cluster, tracker, ipfs, monitor, consensus })
 * await rpc.start() // stop it before the host
 * // with --bootstrap: await cluster.join(bootstrapPeerId) once cluster.start() resolved
 * ```
 */
export * from './errors.ts'
export * from './peers.ts'
export * from './policy.ts'
export * from './rpc.ts'
export * from './services.ts'
