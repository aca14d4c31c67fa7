import { describe, expect, test } from 'bun:test'
import { DEFAULT_RPC_POLICY, endpointType } from '../../../src/rpc/policy.ts'
import { registerClusterRpc } from '../../../src/rpc/services.ts'
import type { ClusterRpcServices } from '../../../src/rpc/services.ts'

describe('rpc policy', () => {
  test('upstream levels for the calls other peers make', () => {
    expect(endpointType(DEFAULT_RPC_POLICY, 'Cluster', 'ID')).toBe('open')
    expect(endpointType(DEFAULT_RPC_POLICY, 'Cluster', 'PeerAdd')).toBe('open')
    expect(endpointType(DEFAULT_RPC_POLICY, 'Cluster', 'Peers')).toBe('trusted')
    expect(endpointType(DEFAULT_RPC_POLICY, 'Cluster', 'PeerRemove')).toBe('trusted')
    expect(endpointType(DEFAULT_RPC_POLICY, 'PinTracker', 'Status')).toBe('trusted')
    expect(endpointType(DEFAULT_RPC_POLICY, 'PinTracker', 'StatusAll')).toBe('trusted')
    expect(endpointType(DEFAULT_RPC_POLICY, 'Cluster', 'RecoverAllLocal')).toBe('trusted')
    expect(endpointType(DEFAULT_RPC_POLICY, 'Cluster', 'RepoGCLocal')).toBe('trusted')
    expect(endpointType(DEFAULT_RPC_POLICY, 'IPFSConnector', 'SwarmPeers')).toBe('trusted')
    expect(endpointType(DEFAULT_RPC_POLICY, 'Cluster', 'Pin')).toBe('closed')
    expect(endpointType(DEFAULT_RPC_POLICY, 'PeerMonitor', 'LatestMetrics')).toBe('closed')
    expect(endpointType(DEFAULT_RPC_POLICY, 'Nope', 'Nope')).toBe('closed')
  })

  test('every registered service method has an explicit policy entry', () => {
    const registered: string[] = []
    registerClusterRpc({ register: (s, m) => registered.push(`${s}.${m}`) }, {} as ClusterRpcServices)
    expect(registered.length).toBeGreaterThan(15)
    for (const k of registered) expect(Object.hasOwn(DEFAULT_RPC_POLICY, k)).toBe(true)
  })
})
