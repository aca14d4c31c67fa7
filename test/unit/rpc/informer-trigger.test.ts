/**
 * informer_trigger_interval: the kubo connector asks its own peer, through
 * the local `Cluster.SendInformersMetrics` RPC (closed to other peers), to
 * publish every informer's metrics.
 */
import { expect, test } from 'bun:test'
import { createRpc } from '../../../src/rpc/rpc.ts'
import { type ClusterRpcServices, clusterRpcClient, registerClusterRpc } from '../../../src/rpc/services.ts'
import { DEFAULT_RPC_POLICY, endpointType } from '../../../src/rpc/policy.ts'

test('Cluster.SendInformersMetrics runs the cluster method locally and is closed to other peers', async () => {
  let sent = 0
  const rpc = createRpc({ peerId: 'self' }, { isTrusted: () => true })
  const cluster = { sendInformersMetrics: async () => void sent++ }
  registerClusterRpc(rpc, { cluster } as unknown as ClusterRpcServices)
  await clusterRpcClient(rpc).sendInformersMetrics('self')
  await clusterRpcClient(rpc).sendInformersMetrics('self')
  expect(sent).toBe(2)
  expect(endpointType(DEFAULT_RPC_POLICY, 'Cluster', 'SendInformersMetrics')).toBe('closed')
})
