/**
 * Upstream defaults of `consensus.crdt` (durations in ms), from its
 * declaration (`CRDT` in `src/config/sections.ts`), for a consensus run
 * without a `service.json` (tests, `ipfs-cluster-follow`'s offline state).
 */
import { CRDT } from '../../config/sections.ts'
import { fieldDefaults } from '../../config/typed.ts'

const DECLARED = fieldDefaults(CRDT)

export const CRDT_DEFAULTS = {
  clusterName: DECLARED.clusterName,
  trustedPeers: DECLARED.trustedPeers,
  batching: DECLARED.batching,
  rebroadcastIntervalMs: DECLARED.rebroadcastIntervalMs,
  repairIntervalMs: DECLARED.repairIntervalMs,
  /** `datastore_namespace` */
  namespace: DECLARED.datastoreNamespace
}
