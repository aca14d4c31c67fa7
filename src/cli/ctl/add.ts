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
import { type FlagValues, command, parseGoDuration } from '../cmd.ts'
import { checkErr, ctl, fail, print, printList } from './context.ts'
import { waitTimeoutFlagDesc } from './flags.ts'

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
  usage: 'Upload files or folders to IPFS and pin the result in the cluster',
  argsUsage: '<path>',
  description: `
Reads local files and folders, or URLs (fetched with GET), turns them into
an IPFS DAG the way "ipfs add" would, and pins the root in the cluster.
Giving more than one argument implies --wrap-with-directory.

The DAG options (layout, chunker, CID version, hash, raw leaves) work as in
"ipfs add". With --format car the argument is a CAR file with exactly one
root, imported as it is; the DAG options do not apply then.

Blocks are streamed to the peers chosen to hold the pin, which need not
include the local IPFS daemon, and the pin is made once they all have them.
This is slower than a plain "ipfs add" but the content is replicated when
the command returns. With --local the blocks go to the contacted peer's
IPFS daemon only; that peer takes one of the pin's slots (unless
--allocations is given) and the other holders fetch the blocks from IPFS
once the pin is made.

Replication factors: -1 pins on every peer, 0 takes the cluster's configured
default, and a positive number is a peer count.

Not available here: sharding, --nocopy (filestore) and the rabin chunker.
`,
  flags: [
    { name: 'recursive', aliases: ['r'], kind: 'bool', usage: 'descend into folders given as arguments' },
    { name: 'quiet', aliases: ['q'], kind: 'bool', usage: 'print only the CIDs, one per line' },
    { name: 'quieter', aliases: ['Q'], kind: 'bool', usage: 'print only the root CID' },
    { name: 'no-stream', kind: 'bool', usage: 'print everything at the end; with --enc=json, as a single array' },
    { name: 'local', kind: 'bool', usage: 'write the blocks through the contacted peer only, then pin as usual' },
    { name: 'name', aliases: ['n'], kind: 'string', default: '', usage: 'name given to the pin' },
    {
      name: 'replication-min',
      aliases: ['rmin'],
      kind: 'int',
      default: 0,
      usage: 'fewest peers that must pin the content (0: cluster default, -1: all)'
    },
    {
      name: 'replication-max',
      aliases: ['rmax'],
      kind: 'int',
      default: 0,
      usage: 'most peers that should pin the content (0: cluster default, -1: all)'
    },
    { name: 'expire-in', kind: 'string', usage: 'unpin automatically once this duration has passed (e.g. 24h)' },
    { name: 'metadata', kind: 'slice', usage: 'key=value attached to the pin; repeat the flag for more' },
    { name: 'allocations', aliases: ['allocs'], kind: 'string', usage: 'comma-separated peer IDs to prefer as holders' },
    { name: 'no-pin', kind: 'bool', usage: 'only add the blocks, do not pin the result' },
    { name: 'wait', kind: 'bool', usage: 'before returning, wait until the root is pinned on replication-min peers' },
    { name: 'wait-timeout', aliases: ['wt'], kind: 'duration', usage: waitTimeoutFlagDesc },
    { name: 'wrap-with-directory', aliases: ['w'], kind: 'bool', usage: 'put the added items inside a new folder' },
    { name: 'format', kind: 'string', default: 'unixfs', usage: "input kind: 'unixfs' (build a DAG) or 'car' (import a CAR file)" },
    { name: 'layout', kind: 'string', default: '', usage: 'DAG shape: balanced or trickle' },
    { name: 'hidden', aliases: ['H'], kind: 'bool', usage: 'with -r, also add files whose names start with a dot' },
    { name: 'chunker', aliases: ['s'], kind: 'string', default: defaults.chunker, usage: "how files are cut into blocks: 'size-<bytes>' (rabin is refused)" },
    { name: 'raw-leaves', kind: 'bool', usage: 'keep file data in raw leaf blocks' },
    { name: 'cid-version', kind: 'int', default: 0, usage: 'CID version of the result; 1 also turns on raw-leaves' },
    { name: 'hash', kind: 'string', default: defaults.hashFun, usage: 'multihash function; anything but the default forces cid-version 1' },
    { name: 'nocopy', kind: 'bool', usage: 'filestore add of a URL; refused by this implementation' }
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
