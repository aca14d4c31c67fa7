/**
 * `ctl add <paths|URLs...>` (upstream `cmd/ipfs-cluster-ctl/main.go`,
 * command "add"): streams files, folders and URLs to `POST /add`, prints
 * `added <cid> <name>` per line (`-q`: the CIDs, `-Q`: only the root's),
 * then optionally waits for the pin. On a terminal, a progress bar of the
 * bytes uploaded is drawn on stderr (cli-progress).
 */
import { peerIdFromString } from '@libp2p/peer-id'
import { SingleBar } from 'cli-progress'
import { uploadSize } from '../../adder/files.ts'
import { type AddParams, defaultAddParams } from '../../adder/params.ts'
import type { AddedOutput } from '../../types/index.ts'
import { type FlagValues, command, parseGoDuration } from './cmd.ts'
import { checkErr, ctl, fail, print, printList } from './context.ts'
import { waitFlagDesc, waitTimeoutFlagDesc } from './flags.ts'

const defaults = defaultAddParams()

/** upstream `parseMetadata`. */
function parseMetadata(list: string[]): Record<string, string> {
  const out: Record<string, string> = {}
  for (const s of list) {
    const i = s.indexOf('=')
    if (i < 0) checkErr('parsing metadata', new Error('metadata were not in the format key=value'))
    out[s.slice(0, i)] = s.slice(i + 1)
  }
  return out
}

/** Builds the add params from the flags (upstream's Action, in order). */
export function addParamsFromFlags(flags: FlagValues, paths: string[]): AddParams {
  const p = defaultAddParams()
  p.replicationFactorMin = flags.int('replication-min')
  p.replicationFactorMax = flags.int('replication-max')
  const expireIn = flags.string('expire-in')
  if (expireIn !== '') {
    try {
      p.expireAt = new Date(Date.now() + parseGoDuration(expireIn))
    } catch (err) {
      checkErr('parsing expire-in', err)
    }
  }
  p.metadata = parseMetadata(flags.slice('metadata'))
  p.name = flags.string('name')
  const allocs = flags.string('allocations')
  if (allocs !== '') {
    p.userAllocations = allocs.split(',').map((s) => s.trim())
    for (const a of p.userAllocations) {
      try {
        peerIdFromString(a)
      } catch {
        checkErr('decoding allocations', new Error('some peer IDs could not be decoded'))
      }
    }
  }
  p.noPin = flags.bool('no-pin')
  const format = flags.string('format')
  if (format !== 'unixfs' && format !== 'car') checkErr('', new Error(`format must be unixfs or car, not "${format}"`))
  p.format = format
  p.shard = false
  p.recursive = flags.bool('recursive')
  p.local = flags.bool('local')
  const layout = flags.string('layout')
  if (layout !== '' && layout !== 'balanced' && layout !== 'trickle') checkErr('', new Error(`layout must be balanced or trickle, not "${layout}"`))
  p.layout = layout
  p.chunker = flags.string('chunker')
  p.rawLeaves = flags.bool('raw-leaves')
  p.hidden = flags.bool('hidden')
  p.wrap = flags.bool('wrap-with-directory') || paths.length > 1
  p.cidVersion = flags.int('cid-version')
  p.hashFun = flags.string('hash')
  if (p.hashFun !== defaults.hashFun) p.cidVersion = 1
  if (p.cidVersion > 0) p.rawLeaves = true
  p.noCopy = flags.bool('nocopy')
  if (p.noCopy) p.rawLeaves = true
  return p
}

export default command({
  name: 'add',
  usage: 'Add a file or directory to ipfs and pin it in the cluster',
  argsUsage: '<path>',
  description: `
Add allows to add and replicate content to several ipfs daemons, performing
a Cluster Pin operation on success. It takes elements from local paths as
well as from web URLs (accessed with a GET request). Providing several
arguments will automatically set --wrap-in-directory.

Cluster "add" works, by default, just like "ipfs add" and has similar options
in terms of DAG layout, chunker, hash function etc. It also supports adding
CAR files directly (--format car), as long as they have a single root. When
adding CAR files, all the options related to dag-building are ignored.

Added content will be allocated and sent block by block to the peers that
should pin it (among which may not necessarily be the local ipfs daemon).
Once all the blocks have arrived, they will be "cluster-pinned". This makes 
cluster add slower than a local ipfs add, but the result is a fully replicated
on completion. If you prefer faster adding, use the --local flag to add 
directly to the local IPFS node and pin in the destinations after that. 
Note that the local IPFS node may not be among the destinations, which will
leave the unpinned content in it.

Optional replication-min and replication-max factors can be provided: -1 means
"pin everywhere" and 0 means use cluster's default setting (i.e., replication
factor set in config). Positive values indicate how many peers should pin this
content.
`,
  flags: [
    { name: 'recursive', aliases: ['r'], kind: 'bool', usage: 'Add directory paths recursively' },
    { name: 'quiet', aliases: ['q'], kind: 'bool', usage: 'Write only hashes to output (one per line)' },
    { name: 'quieter', aliases: ['Q'], kind: 'bool', usage: 'Write only final hash to output' },
    { name: 'no-stream', kind: 'bool', usage: 'Buffer output locally. Produces a valid JSON array with --enc=json.' },
    { name: 'local', kind: 'bool', usage: 'Add to local peer but pin normally' },
    { name: 'name', aliases: ['n'], kind: 'string', default: '', usage: 'Sets a name for this pin' },
    {
      name: 'replication-min',
      aliases: ['rmin'],
      kind: 'int',
      default: 0,
      usage: 'Sets the minimum replication factor for pinning this file'
    },
    {
      name: 'replication-max',
      aliases: ['rmax'],
      kind: 'int',
      default: 0,
      usage: 'Sets the maximum replication factor for pinning this file'
    },
    { name: 'expire-in', kind: 'string', usage: 'Duration after which the pin should be unpinned automatically' },
    { name: 'metadata', kind: 'slice', usage: 'Pin metadata: key=value. Can be added multiple times' },
    { name: 'allocations', aliases: ['allocs'], kind: 'string', usage: 'Optional comma-separated list of peer IDs' },
    { name: 'no-pin', kind: 'bool', usage: 'Do not pin after adding' },
    { name: 'wait', kind: 'bool', usage: waitFlagDesc },
    { name: 'wait-timeout', aliases: ['wt'], kind: 'duration', usage: waitTimeoutFlagDesc },
    { name: 'wrap-with-directory', aliases: ['w'], kind: 'bool', usage: 'Wrap a with a directory object' },
    { name: 'format', kind: 'string', default: 'unixfs', usage: "'unixfs' (add as unixfs DAG), 'car' (import CAR file)" },
    { name: 'layout', kind: 'string', default: '', usage: 'Dag layout to use for dag generation: balanced or trickle' },
    { name: 'hidden', aliases: ['H'], kind: 'bool', usage: 'Include files that are hidden.  Only takes effect on recursive add' },
    { name: 'chunker', aliases: ['s'], kind: 'string', default: defaults.chunker, usage: "'size-<size>' or 'rabin-<min>-<avg>-<max>'" },
    { name: 'raw-leaves', kind: 'bool', usage: 'Use raw blocks for leaves (experimental)' },
    { name: 'cid-version', kind: 'int', default: 0, usage: 'CID version. Non default implies raw-leaves' },
    { name: 'hash', kind: 'string', default: defaults.hashFun, usage: 'Hash function to use. Implies cid-version=1' },
    { name: 'nocopy', kind: 'bool', usage: 'Add the URL using filestore. Implies raw-leaves. (experimental)' }
  ],
  run: async ({ flags, positionals }) => {
    const c = ctl()
    const paths = positionals
    if (paths.length === 0) checkErr('', new Error('need at least one path'))
    const p = addParamsFromFlags(flags, paths)
    if (p.noCopy) checkErr('', new Error('nocopy option is only valid for URLs, and filestore is not supported by this cluster'))
    if (p.wrap && p.format === 'car') {
      checkErr('', new Error('only a single CAR file can be added and wrap-with-directory is not supported'))
    }

    const qq = flags.bool('quieter')
    const q = flags.bool('quiet') || qq
    const buffer = flags.bool('no-stream')

    // a progress bar only on an interactive terminal, and only when the
    // lines it would garble are not being printed as they come
    let bar: SingleBar | undefined
    if (process.stderr.isTTY === true && c.io.env.IPFS_CLUSTER_NO_PROGRESS === undefined) {
      let total = 0
      try {
        total = await uploadSize(paths, p)
      } catch {
        total = 0
      }
      if (total > 0) {
        bar = new SingleBar({
          stream: process.stderr,
          format: ' {bar} {percentage}% | {value}/{total} bytes | {eta_formatted}',
          hideCursor: true,
          clearOnComplete: true
        })
        bar.start(total, 0)
      }
    }
    const stopBar = (): void => {
      if (bar !== undefined) {
        bar.stop()
        bar = undefined
      }
    }

    const buffered: AddedOutput[] = []
    let last: AddedOutput | undefined
    try {
      for await (const out of c.client.add(paths, p, { onRead: (n) => bar?.update(n) })) {
        last = out
        if (buffer) {
          buffered.push(out)
          continue
        }
        if (!qq) {
          stopBar()
          print({ kind: 'added', value: out, quiet: q })
        }
      }
    } catch (err) {
      stopBar()
      fail(err)
    }
    stopBar()
    if (last === undefined) return
    if (buffer) {
      if (qq) printList([{ kind: 'added', value: last, quiet: q }])
      else printList(buffered.map((value) => ({ kind: 'added' as const, value, quiet: q })))
    } else if (qq) {
      print({ kind: 'added', value: last, quiet: q })
    }

    if (flags.bool('wait')) {
      const root = last.cid
      let rplMin = p.replicationFactorMin
      try {
        const pin = await c.client.allocation(root)
        rplMin = pin.replicationFactorMin
      } catch {
        // use what we asked for
      }
      try {
        await c.client.waitFor(root, {
          target: 'pinned',
          limit: rplMin,
          timeoutMs: flags.isSet('wait-timeout') ? parseGoDuration(flags.string('wait-timeout')) : 0,
          checkFreqMs: c.io.waitCheckFreqMs
        })
      } catch (err) {
        checkErr('waiting for pin status', err)
      }
    }
  }
})
