/**
 * Peer-to-peer RPC (upstream go-libp2p-gorpc + `rpc_api.go` +
 * `rpc_policy.go`): `createRpc` builds the endpoint, `registerClusterRpc`
 * serves the cluster's components on it, `clusterRpcClient` calls them
 * on other peers with typed values.
 */
export * from './errors.ts'
export * from './peers.ts'
export * from './policy.ts'
export * from './rpc.ts'
export * from './services.ts'
