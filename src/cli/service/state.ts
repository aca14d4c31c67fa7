/**
 * `service state export|import|cleanup` on a stopped peer
 * (upstream cmd/ipfs-cluster-service/state.go). They take `cluster.lock`,
 * so they refuse to run while the daemon is running.
 */
import { createReadStream, createWriteStream } from 'node:fs'
import { join } from 'node:path'
import { defineCommand } from 'citty'
import { loadIdentity, loadServiceConfig, processEnv, resolveConfigFolder } from '../../config/index.ts'
import { type CrdtConsensus, createCrdtConsensus } from '../../consensus/crdt/index.ts'
import { openDatastore } from '../../datastore/index.ts'
import type { Consensus } from '../../interfaces.ts'
import { acquireLock } from '../../runtime/lock.ts'
import { exportState, importState } from '../../state/index.ts'
import { UsageError } from '../errors.ts'
import { globals } from './index.ts'

async function withConsensus<T>(fn: (c: Consensus) => Promise<T>): Promise<T> {
  const env = processEnv()
  const folder = resolveConfigFolder(globals.config, env)
  const config = await loadServiceConfig(folder, { env })
  const identity = await loadIdentity(folder, env)
  const release = acquireLock(join(folder, 'cluster.lock'))
  const ds = await openDatastore({ backend: config.datastore.backend, folder: config.datastore.folder })
  const crdt = config.consensus.crdt
  const consensus = createCrdtConsensus(
    {
      peerId: identity.id,
      clusterName: crdt.clusterName,
      trustedPeers: crdt.trustAll ? ['*'] : crdt.trustedPeers,
      // state commands commit immediately, whatever the daemon's batching
      batching: { maxBatchSize: 0, maxBatchAgeMs: 0, maxQueueSize: crdt.batching.maxQueueSize },
      rebroadcastIntervalMs: 0,
      repairIntervalMs: 0,
      namespace: crdt.datastoreNamespace
    },
    { datastore: ds.datastore }
  )
  try {
    await consensus.start()
    await consensus.ready()
    return await fn(consensus)
  } finally {
    await consensus.stop()
    await ds.close()
    release()
  }
}

async function confirm(question: string): Promise<boolean> {
  if (globals.force) return true
  if (process.stdin.isTTY !== true) return false
  process.stderr.write(`${question} [y/n]: `)
  for await (const chunk of process.stdin) {
    return String(chunk).trim().toLowerCase().startsWith('y')
  }
  return false
}

const exportCmd = defineCommand({
  meta: { name: 'export', description: 'Export the pinset to a file (newline-delimited JSON of pins)' },
  args: { file: { type: 'string', alias: 'f', description: 'file to write to (default: stdout)' } },
  async run({ args }) {
    await withConsensus(async (c) => {
      const out = typeof args.file === 'string' && args.file !== '' ? createWriteStream(args.file) : undefined
      const write = (line: string): Promise<void> | void => {
        if (out === undefined) {
          process.stdout.write(line)
          return
        }
        if (!out.write(line)) return new Promise((r) => out.once('drain', () => r()))
      }
      await exportState(await c.state(), write)
      if (out !== undefined) await new Promise<void>((r, j) => out.end((err?: Error | null) => (err ? j(err) : r())))
    })
  }
})

const importCmd = defineCommand({
  meta: {
    name: 'import',
    description: `Import a pinset from a file (or stdin), replacing the current one

The file holds JSON pins, one per line as written by "state export".
The current pinset is removed first.`
  },
  args: {
    file: { type: 'positional', required: false, description: 'file to read (default stdin)' },
    force: { type: 'boolean', alias: 'f', description: 'do not ask for confirmation' },
    rmin: { type: 'string', description: 'replication factor min to set on every imported pin (0 = keep)' },
    rmax: { type: 'string', description: 'replication factor max to set on every imported pin (0 = keep)' },
    allocs: { type: 'string', description: 'comma-separated allocations to set on every imported pin' }
  },
  async run({ args }) {
    if (args.force === true) globals.force = true
    if (!(await confirm('The current pinset will be replaced. Continue?'))) throw new UsageError('aborted: use -f to import without confirmation')
    const rmin = args.rmin !== undefined ? Number.parseInt(args.rmin, 10) : 0
    const rmax = args.rmax !== undefined ? Number.parseInt(args.rmax, 10) : 0
    if (Number.isNaN(rmin) || Number.isNaN(rmax)) throw new UsageError('--rmin and --rmax must be integers')
    const allocs = typeof args.allocs === 'string' && args.allocs !== '' ? args.allocs.split(',').map((s) => s.trim()) : undefined
    const input = typeof args.file === 'string' && args.file !== '' ? createReadStream(args.file) : process.stdin
    const n = await withConsensus(async (c) => {
      await c.clean()
      await c.ready()
      // upstream: an offline batching state; deltas of up to 1 MB, committed at the end
      const offline = await (c as CrdtConsensus).offlineState()
      const count = await importState(offline, input as AsyncIterable<Uint8Array>, {
        replicationFactorMin: rmin,
        replicationFactorMax: rmax,
        userAllocations: allocs
      })
      await offline.commit()
      return count
    })
    process.stderr.write(`imported ${n} pins\n`)
  }
})

const cleanupCmd = defineCommand({
  meta: {
    name: 'cleanup',
    description: 'Remove the persisted state and consensus data of this peer (the pinset is lost locally)'
  },
  args: { force: { type: 'boolean', alias: 'f', description: 'do not ask for confirmation' } },
  async run({ args }) {
    if (args.force === true) globals.force = true
    if (!(await confirm('The local pinset and consensus data will be removed. Continue?'))) {
      throw new UsageError('aborted: use -f to clean up without confirmation')
    }
    await withConsensus((c) => c.clean())
    process.stderr.write('state cleaned up\n')
  }
})

export default defineCommand({
  meta: { name: 'state', description: 'Export, import or wipe the pinset stored by this peer' },
  subCommands: { export: exportCmd, import: importCmd, cleanup: cleanupCmd }
})
