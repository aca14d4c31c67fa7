/**
 * RPC access policy, as upstream `rpc_policy.go` (`DefaultRPCPolicy`):
 * every `Service.Method` is
 * - `open`: any peer may call it;
 * - `trusted`: only trusted peers (crdt `trusted_peers`) may call it;
 * - `closed`: only this peer itself (local calls never cross the policy).
 * A method missing from the table is closed.
 */

export type RpcEndpointType = 'open' | 'trusted' | 'closed'

/** `Service.Method` -> endpoint type. */
export type RpcPolicy = Readonly<Record<string, RpcEndpointType>>

/**
 * Upstream's table for the services this implementation registers (see
 * `services.ts`), plus upstream's entries for the calls not (yet) served,
 * kept so that a future handler gets upstream's access level.
 */
export const DEFAULT_RPC_POLICY: RpcPolicy = {
  'Cluster.Alerts': 'closed',
  'Cluster.BandwidthByProtocol': 'closed',
  'Cluster.BlockAllocate': 'closed',
  'Cluster.ConnectGraph': 'closed',
  // ours only (a removal made on another trusted peer; no re-allocation here)
  'Cluster.ForgetPeer': 'trusted',
  'Cluster.ID': 'open',
  'Cluster.IDStream': 'open',
  'Cluster.IPFSID': 'closed',
  'Cluster.Join': 'closed',
  'Cluster.PeerAdd': 'open',
  'Cluster.PeerRemove': 'trusted',
  'Cluster.Peers': 'trusted',
  'Cluster.PeersWithFilter': 'closed',
  'Cluster.Pin': 'closed',
  'Cluster.PinGet': 'closed',
  'Cluster.PinPath': 'closed',
  'Cluster.Pins': 'closed',
  'Cluster.Recover': 'closed',
  'Cluster.RecoverAll': 'closed',
  'Cluster.RecoverAllLocal': 'trusted',
  'Cluster.RecoverLocal': 'trusted',
  'Cluster.RepoGC': 'closed',
  'Cluster.RepoGCLocal': 'trusted',
  'Cluster.SendInformerMetrics': 'closed',
  'Cluster.SendInformersMetrics': 'closed',
  'Cluster.Status': 'closed',
  'Cluster.StatusAll': 'closed',
  'Cluster.StatusAllLocal': 'closed',
  'Cluster.StatusLocal': 'closed',
  'Cluster.Unpin': 'closed',
  'Cluster.UnpinPath': 'closed',
  'Cluster.Version': 'open',

  'PinTracker.PinQueueSize': 'closed',
  'PinTracker.Recover': 'trusted',
  'PinTracker.RecoverAll': 'closed',
  'PinTracker.Status': 'trusted',
  'PinTracker.StatusAll': 'trusted',
  'PinTracker.Track': 'closed',
  'PinTracker.Untrack': 'closed',

  'IPFSConnector.BlockGet': 'closed',
  'IPFSConnector.BlockStream': 'trusted',
  'IPFSConnector.ConfigKey': 'closed',
  'IPFSConnector.Pin': 'closed',
  'IPFSConnector.PinLs': 'closed',
  'IPFSConnector.PinLsCid': 'closed',
  'IPFSConnector.RepoStat': 'trusted',
  'IPFSConnector.Resolve': 'closed',
  'IPFSConnector.SwarmPeers': 'trusted',
  'IPFSConnector.Unpin': 'closed',

  'Consensus.AddPeer': 'trusted',
  'Consensus.LogPin': 'trusted',
  'Consensus.LogUnpin': 'trusted',
  'Consensus.Peers': 'closed',
  'Consensus.RmPeer': 'trusted',

  'PeerMonitor.LatestMetrics': 'closed',
  'PeerMonitor.MetricNames': 'closed'
}

/** The endpoint type of `Service.Method` under `policy` (closed when absent). */
export function endpointType(policy: RpcPolicy, service: string, method: string): RpcEndpointType {
  return policy[`${service}.${method}`] ?? 'closed'
}
