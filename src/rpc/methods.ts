/**
 * Which RPC methods stream, as upstream's `rpc_api.go` signatures say: a
 * method taking `<-chan T` and giving `chan<- R` is a stream (go-libp2p-gorpc
 * `server.go` registers it as one); every other method is unary (one
 * argument value, one reply value).
 */

/** `Service.Method` of every streaming method upstream v1.1.6 registers. */
export const STREAMING_METHODS: ReadonlySet<string> = new Set([
  'Cluster.IDStream',
  'Cluster.Pins',
  'Cluster.Peers',
  'Cluster.PeersWithFilter',
  'Cluster.StatusAll',
  'Cluster.StatusAllLocal',
  'Cluster.RecoverAll',
  'Cluster.RecoverAllLocal',
  'PinTracker.StatusAll',
  'PinTracker.RecoverAll',
  'IPFSConnector.PinLs',
  'IPFSConnector.BlockStream'
])

/** True when `service.method` is a streaming method. */
export function isStreamingMethod(service: string, method: string): boolean {
  return STREAMING_METHODS.has(`${service}.${method}`)
}
