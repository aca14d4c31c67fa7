/**
 * `service state export|import|cleanup` on a stopped peer
 * (upstream cmd/ipfs-cluster-service/state.go). They take `cluster.lock`,
 * so they refuse to run while the daemon is running. The consensus,
 * datastore and state modules load only when a command runs.
 */
import { createReadStream, createWriteStream } from 'node:fs'
import { join } from 'node:path'
import { loadIdentity, loadServiceConfig, processEnv, resolveConfigFolder } from '../../config/index.ts'
import type { BatchingState, ReadOnlyState } from '../../interfaces.ts'
import { acquireLock } from '../../runtime/lock.ts'
import { UsageError } from '../errors.ts'
import { globals, type ServiceCommand } from './context.ts'

/** What the state commands need of either consensus, offline. */
interface OfflineConsensus {
  state(): Promise<ReadOnlyState>
  clean(): Promise<void>
  /** Replaces the pinset with what `fill` writes (raft: as a new snapshot). */
  replace(fill: (state: BatchingState) => Promise<number>): Promise<number>
}

async function withConsensus<T>(fn: (c: OfflineConsensus) => Promise<T>): Promise<T> {
  const { createOfflineConsensus, RaftConsensus } = await import('../../consensus/index.ts')
  const { openDatastore } = await import('../../datastore/index.ts')
  const env = processEnv()
  const folder = resolveConfigFolder(globals.config, env)
  const config = await loadServiceConfig(folder, { env })
  const identity = await loadIdentity(folder, env)
  const release = acquireLock(join(folder, 'cluster.lock'))
  const ds = await openDatastore({ backend: config.datastore.backend, folder: config.datastore.folder })
  try {
    const raft = config.consensus.raft
    if (raft !== null) {
      // raft: the pinset under datastore_namespace, the log and snapshot beside it; nothing runs
      const r = new RaftConsensus(
        { ...raft, peerId: identity.id, namespace: raft.datastoreNamespace },
        { datastore: ds.datastore, transport: { start: async () => {}, stop: async () => {}, send: () => {} } }
      )
      const state = async (): Promise<ReadOnlyState> => {
        if (!(await r.isEmpty())) return await r.state()
        // migration in: an upstream peer's raft/ folder (its latest snapshot), when we hold no raft state
        const { latestUpstreamSnapshot, readUpstreamSnapshot } = await import('../../consensus/raft/upstream.ts')
        const meta = await latestUpstreamSnapshot(join(folder, 'raft'))
        if (meta === undefined) return await r.state()
        process.stderr.write(`reading upstream raft snapshot ${meta.id} (index ${meta.index}, term ${meta.term}) from ${join(folder, 'raft')}\n`)
        const pins = await readUpstreamSnapshot(meta)
        const { MemoryDatastore } = await import('../../datastore/memory.ts')
        const { DsState } = await import('../../state/dsstate.ts')
        const mem = new DsState({}, { datastore: new MemoryDatastore() })
        for (const p of pins) await mem.add(p)
        return mem
      }
      return await fn({ state, clean: () => r.clean(), replace: (fill) => r.replaceWithSnapshot(fill) })
    }
    const crdt = config.consensus.crdt
    // state commands commit immediately, whatever the daemon's batching
    const consensus = createOfflineConsensus(
      {
        peerId: identity.id,
        clusterName: crdt.clusterName,
        namespace: crdt.datastoreNamespace,
        trustedPeers: crdt.trustAll ? ['*'] : crdt.trustedPeers
      },
      { datastore: ds.datastore }
    )
    await consensus.start()
    try {
      await consensus.ready()
      return await fn({
        state: () => consensus.state(),
        clean: () => consensus.clean(),
        replace: async (fill) => {
          await consensus.clean()
          await consensus.ready()
          // upstream: an offline batching state; deltas of up to 1 MB, committed at the end
          const offline = await consensus.offlineState()
          const n = await fill(offline)
          await offline.commit()
          return n
        }
      })
    } finally {
      await consensus.stop()
    }
  } finally {
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

const exportCmd: ServiceCommand = {
  name: 'export',
  usage: 'Export the pinset to a file (newline-delimited JSON of pins)',
  flags: [{ name: 'file', aliases: ['f'], kind: 'string', usage: 'file to write to (default: stdout)' }],
  async run({ flags }) {
    const { exportState } = await import('../../state/index.ts')
    const file = flags.string('file')
    await withConsensus(async (c) => {
      const out = file !== '' ? createWriteStream(file) : undefined
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
}

const importCmd: ServiceCommand = {
  name: 'import',
  usage: 'Import a pinset from a file (or stdin), replacing the current one',
  description: `
The file holds JSON pins, one per line as written by "state export".
The current pinset is removed first.`,
  argsUsage: '[file]',
  maxArgs: 1,
  flags: [
    { name: 'force', aliases: ['f'], kind: 'bool', usage: 'do not ask for confirmation' },
    { name: 'rmin', kind: 'int', usage: 'replication factor min to set on every imported pin (0 = keep)' },
    { name: 'rmax', kind: 'int', usage: 'replication factor max to set on every imported pin (0 = keep)' },
    { name: 'allocs', kind: 'string', usage: 'comma-separated allocations to set on every imported pin' }
  ],
  async run({ flags, positionals }) {
    if (flags.bool('force')) globals.force = true
    if (!(await confirm('The current pinset will be replaced. Continue?'))) throw new UsageError('aborted: use -f to import without confirmation')
    const { importState } = await import('../../state/index.ts')
    const rmin = flags.int('rmin')
    const rmax = flags.int('rmax')
    const allocsFlag = flags.string('allocs')
    const allocs = allocsFlag !== '' ? allocsFlag.split(',').map((s) => s.trim()) : undefined
    const file = positionals[0] ?? ''
    const input = file !== '' ? createReadStream(file) : process.stdin
    const n = await withConsensus((c) =>
      c.replace((offline) =>
        importState(offline, input as AsyncIterable<Uint8Array>, {
          replicationFactorMin: rmin,
          replicationFactorMax: rmax,
          userAllocations: allocs
        })
      )
    )
    process.stderr.write(`imported ${n} pins\n`)
  }
}

const cleanupCmd: ServiceCommand = {
  name: 'cleanup',
  usage: 'Remove the persisted state and consensus data of this peer (the pinset is lost locally)',
  flags: [{ name: 'force', aliases: ['f'], kind: 'bool', usage: 'do not ask for confirmation' }],
  async run({ flags }) {
    if (flags.bool('force')) globals.force = true
    if (!(await confirm('The local pinset and consensus data will be removed. Continue?'))) {
      throw new UsageError('aborted: use -f to clean up without confirmation')
    }
    await withConsensus((c) => c.clean())
    process.stderr.write('state cleaned up\n')
  }
}

const state: ServiceCommand = {
  name: 'state',
  usage: 'Export, import or wipe the pinset stored by this peer',
  subcommands: [exportCmd, importCmd, cleanupCmd]
}

export default state
