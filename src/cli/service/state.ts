/**
 * `service state export|import|cleanup|crdt` on a stopped peer
 * (upstream cmd/ipfs-cluster-service/state.go). They take `cluster.lock`,
 * so they refuse to run while the daemon is running. The consensus,
 * datastore and state modules load only when a command runs.
 */
import { createReadStream, createWriteStream, existsSync } from 'node:fs'
import { rm } from 'node:fs/promises'
import { join } from 'node:path'
import { loadIdentity, loadServiceConfig, processEnv, resolveConfigFolder } from '../../config/index.ts'
import type { CrdtConsensus } from '../../consensus/crdt/index.ts'
import type { BatchingState, ReadOnlyState } from '../../interfaces.ts'
import { acquireLock } from '../../runtime/lock.ts'
import { UsageError } from '../errors.ts'
import { globals, type ServiceCommand } from './context.ts'

/**
 * `<config>/state-import.pending`: written by earlier versions before
 * `state import` wiped the pinset, removed once the new one was committed.
 * `state import` is now all-or-nothing (`atomicWrites`, src/datastore/atomic.ts)
 * and writes none; one left by an interrupted import of an earlier version
 * still keeps the daemon from starting (that pinset may be partial) until
 * `state import` again or `state cleanup` clears it.
 */
export const IMPORT_PENDING_FILE = 'state-import.pending'

/** @throws UsageError when an interrupted `state import` left `folder` with a partial pinset. */
export function refuseInterruptedImport(folder: string): void {
  if (existsSync(join(folder, IMPORT_PENDING_FILE))) {
    throw new UsageError(
      `a "state import" was interrupted (${join(folder, IMPORT_PENDING_FILE)} exists): the pinset is partial; ` +
        'run "state import" again, or "state cleanup", before starting the daemon'
    )
  }
}

/** What the state commands need of either consensus, offline. */
interface OfflineConsensus {
  state(): Promise<ReadOnlyState>
  clean(): Promise<void>
  /**
   * Replaces the pinset with what `fill` writes (raft: as a new snapshot), all
   * or nothing: after a crash at any point the store holds the old pinset or the whole new one.
   */
  replace(fill: (state: BatchingState) => Promise<number>): Promise<number>
  /** the crdt consensus itself (undefined under raft), for `state crdt …` */
  crdt?: CrdtConsensus
}

async function withConsensus<T>(fn: (c: OfflineConsensus) => Promise<T>): Promise<T> {
  const { createOfflineConsensus, RaftConsensus } = await import('../../consensus/index.ts')
  const { openDatastore } = await import('../../datastore/index.ts')
  const { atomicWrites } = await import('../../datastore/atomic.ts')
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
      const raftOn = (datastore: typeof ds.datastore): InstanceType<typeof RaftConsensus> =>
        new RaftConsensus(
          { ...raft, peerId: identity.id, namespace: raft.datastoreNamespace },
          { datastore, transport: { start: async () => {}, stop: async () => {}, send: () => {} } }
        )
      const r = raftOn(ds.datastore)
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
      return await fn({
        state,
        clean: () => r.clean(),
        // the log, the snapshot and the pinset replaced in one all-or-nothing write
        replace: (fill) => atomicWrites(ds.datastore, (scope) => raftOn(scope.datastore).replaceWithSnapshot(fill))
      })
    }
    const crdt = config.consensus.crdt
    // state commands commit immediately, whatever the daemon's batching
    const crdtOn = (datastore: typeof ds.datastore): CrdtConsensus =>
      createOfflineConsensus(
        {
          peerId: identity.id,
          clusterName: crdt.clusterName,
          namespace: crdt.datastoreNamespace,
          trustedPeers: crdt.trustAll ? ['*'] : crdt.trustedPeers
        },
        { datastore }
      )
    const consensus = crdtOn(ds.datastore)
    await consensus.start()
    try {
      await consensus.ready()
      return await fn({
        state: () => consensus.state(),
        clean: () => consensus.clean(),
        replace: async (fill) => {
          // all or nothing: the old pinset deleted and the new one written in one
          // atomic write (one SQLite transaction; one batch otherwise), by a
          // consensus of its own over it (this one stays idle, stopped)
          await consensus.stop()
          return await atomicWrites(ds.datastore, async (scope) => {
            await scope.deletePrefix(`${consensus.datastoreNamespace}/`)
            // the namespace is empty: its rows are inserted in key order at the end (sqlite)
            scope.bulkLoad(`${consensus.datastoreNamespace}/`)
            const importing = crdtOn(scope.datastore)
            await importing.start()
            try {
              await importing.ready()
              // upstream: an offline batching state; deltas of up to 1 MB, committed at the end
              const offline = await importing.offlineState()
              const n = await fill(offline)
              await offline.commit()
              return n
            } finally {
              await importing.stop()
            }
          })
        },
        crdt: consensus
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

/** Writes lines to `file` (honouring back-pressure), or to stdout when `file` is ''. */
function lineWriter(file: string): { write: (line: string) => Promise<void> | void; end: () => Promise<void> } {
  const out = file !== '' ? createWriteStream(file) : undefined
  return {
    write: (line) => {
      if (out === undefined) {
        process.stdout.write(line)
        return
      }
      if (!out.write(line)) return new Promise((r) => out.once('drain', () => r()))
    },
    end: async () => {
      if (out !== undefined) await new Promise<void>((r, j) => out.end((err?: Error | null) => (err ? j(err) : r())))
    }
  }
}

const exportCmd: ServiceCommand = {
  name: 'export',
  usage: 'Export the pinset to a file (newline-delimited JSON of pins)',
  flags: [{ name: 'file', aliases: ['f'], kind: 'string', usage: 'file to write to (default: stdout)' }],
  async run({ flags }) {
    const { exportState } = await import('../../state/index.ts')
    const file = flags.string('file')
    await withConsensus(async (c) => {
      const out = lineWriter(file)
      await exportState(await c.state(), out.write)
      await out.end()
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
    const folder = resolveConfigFolder(globals.config, processEnv())
    const pending = join(folder, IMPORT_PENDING_FILE)
    const n = await withConsensus(async (c) => {
      const count = await c.replace((offline) =>
        importState(offline, input as AsyncIterable<Uint8Array>, {
          replicationFactorMin: rmin,
          replicationFactorMax: rmax,
          userAllocations: allocs
        })
      )
      // a marker an earlier version left: the pinset it guarded is now replaced whole
      await rm(pending, { force: true })
      return count
    })
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
    await rm(join(resolveConfigFolder(globals.config, processEnv()), IMPORT_PENDING_FILE), { force: true })
    process.stderr.write('state cleaned up\n')
  }
}

/** `withConsensus` for `state crdt …`: refused when the peer runs raft. */
async function withCrdt<T>(fn: (c: CrdtConsensus) => Promise<T>): Promise<T> {
  return await withConsensus(async (c) => {
    if (c.crdt === undefined) throw new UsageError('"state crdt" commands need the crdt consensus; this peer runs raft')
    return await fn(c.crdt)
  })
}

/** Go's `%s` of a `[]cid.Cid`: `[c1 c2]`. */
function goCidList(cids: Array<{ toString(): string }>): string {
  return `[${cids.map((c) => c.toString()).join(' ')}]`
}

const crdtInfo: ServiceCommand = {
  name: 'info',
  usage: 'Print information about the CRDT store',
  description: `
Prints the current heads, the max height and whether the store is marked dirty.`,
  async run() {
    const line = await withCrdt(async (c) => {
      const { heads, height } = c.heads()
      const dirty = await c.isDirty()
      // upstream's exact text (fmt.Printf, no final newline)
      return `Number of heads: ${heads.length}. Current max-height: ${height}. Dirty: ${dirty}\nHeads: ${goCidList(heads)}`
    })
    process.stdout.write(line)
  }
}

const crdtDot: ServiceCommand = {
  name: 'dot',
  usage: 'Write the CRDT-DAG as DOT file',
  description: `
Writes a DOT (Graphviz) file of this peer's CRDT-DAG, to inspect its branching.
Large DAGs give large files.`,
  flags: [{ name: 'file', aliases: ['f'], kind: 'string', usage: 'writes to file instead of stdout' }],
  async run({ flags }) {
    const { writeDotDag } = await import('../../consensus/crdt/dot.ts')
    const file = flags.string('file')
    await withCrdt(async (c) => {
      const out = lineWriter(file)
      process.stderr.write('initiating CRDT-DAG DOT file export. Export might take a long time on large graphs\n')
      await writeDotDag(c.heads().heads, (cid, o) => c.blockstore.get(cid, o), out.write)
      await out.end()
    })
  }
}

const crdtMarkDirty: ServiceCommand = {
  name: 'mark-dirty',
  usage: 'Marks the CRDT-store as dirty',
  description: `
A store marked dirty is repaired (the DAG re-walked from the heads, unprocessed
branches applied) the next time the peer starts.`,
  async run() {
    await withCrdt((c) => c.markDirty())
    process.stdout.write("Datastore marked 'dirty'\n")
  }
}

const crdtMarkClean: ServiceCommand = {
  name: 'mark-clean',
  usage: 'Marks the CRDT-store as clean',
  description: `
Removes the dirty mark: no DAG repair runs at the next start.`,
  async run() {
    await withCrdt((c) => c.markClean())
    process.stdout.write("Datastore marked 'clean'\n")
  }
}

const crdtCmd: ServiceCommand = {
  name: 'crdt',
  usage: 'CRDT-state commands',
  subcommands: [crdtInfo, crdtDot, crdtMarkDirty, crdtMarkClean]
}

const state: ServiceCommand = {
  name: 'state',
  usage: 'Export, import or wipe the pinset stored by this peer',
  subcommands: [exportCmd, importCmd, cleanupCmd, crdtCmd]
}

export default state
