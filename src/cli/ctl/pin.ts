/**
 * `ctl pin add|rm|update|ls` (upstream `cmd/ipfs-cluster-ctl/main.go`,
 * command "pin", and `handlePinResponseFormatFlags`).
 */
import { peerIdFromString } from '@libp2p/peer-id'
import type { GlobalPinInfo, Pin, PinMode, PinOptions, TrackerStatus } from '../../types/index.ts'
import { type FlagValues, command, parseGoDuration } from '../cmd.ts'
import { call, checkErr, ctl, fail, print, printStream } from './context.ts'
import { waitFlags } from './flags.ts'
import { parseCidArg } from './status.ts'

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

function parseExpireIn(flags: FlagValues): Date | null {
  const expireIn = flags.string('expire-in')
  if (expireIn === '') return null
  try {
    return new Date(Date.now() + parseGoDuration(expireIn))
  } catch (err) {
    checkErr('parsing expire-in', err)
  }
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms))

/** upstream `handlePinResponseFormatFlags`: wait, then print the pin or its status. */
async function handlePinResponse(flags: FlagValues, pin: Pin, target: TrackerStatus): Promise<void> {
  const c = ctl()
  let status: GlobalPinInfo | undefined
  if (flags.bool('wait')) {
    const limit = flags.isSet('wait-limit')
      ? flags.int('wait-limit')
      : target === 'pinned'
        ? pin.replicationFactorMin
        : 0
    try {
      status = await c.client.waitFor(pin.cid, {
        target,
        limit,
        timeoutMs: flags.isSet('wait-timeout') ? parseGoDuration(flags.string('wait-timeout')) : 0,
        checkFreqMs: c.io.waitCheckFreqMs
      })
    } catch (err) {
      checkErr('waiting for pin status', err)
    }
  }
  if (flags.bool('no-status')) {
    print({ kind: 'pin', value: pin })
    return
  }
  if (status === undefined) {
    await sleep(c.io.statusDelayMs ?? 1000)
    status = await call(() => c.client.status(pin.cid, false))
  }
  print({ kind: 'gpinfo', value: status })
}

const add = command({
  name: 'add',
  usage: 'Add a CID or IPFS path to the cluster pinset',
  argsUsage: '<CID|Path>',
  description: `
Adds the item to the shared pinset. The cluster picks the peers that should
hold it and those peers ask their IPFS daemons to pin it. From then on the
item is listed by "pin ls" and tracked by "status". A path
(/ipfs/..., /ipns/...) is resolved to a CID first.

Once accepted, the item's status is printed (the pin itself with
--no-status).

Replication factors: -1 pins on every peer, 0 takes the cluster's configured
default, and a positive number is a peer count.

--allocations lists peer IDs (comma-separated) to use before any the cluster
would choose; the replication factors still decide how many peers hold it.
`,
  flags: [
    {
      name: 'replication',
      aliases: ['r'],
      kind: 'int',
      default: 0,
      usage: 'sets both --rmin and --rmax to this value'
    },
    {
      name: 'replication-min',
      aliases: ['rmin'],
      kind: 'int',
      default: 0,
      usage: 'fewest peers that must pin the item (0: cluster default, -1: all)'
    },
    {
      name: 'replication-max',
      aliases: ['rmax'],
      kind: 'int',
      default: 0,
      usage: 'most peers that should pin the item (0: cluster default, -1: all)'
    },
    { name: 'allocations', aliases: ['allocs'], kind: 'string', usage: 'comma-separated peer IDs to prefer as holders' },
    { name: 'name', aliases: ['n'], kind: 'string', usage: 'name given to the pin' },
    { name: 'mode', kind: 'string', default: 'recursive', usage: 'recursive (the whole DAG) or direct (the root block only)' },
    { name: 'expire-in', kind: 'string', usage: 'unpin automatically once this duration has passed (e.g. 24h)' },
    { name: 'metadata', kind: 'slice', usage: 'key=value attached to the pin; repeat the flag for more' },
    {
      name: 'origins',
      kind: 'string',
      usage: 'comma-separated multiaddresses (ending in /p2p/<id>) IPFS should connect to before pinning'
    },
    {
      name: 'no-status',
      aliases: ['ns'],
      kind: 'bool',
      usage: 'print the pin instead of asking for its status afterwards'
    },
    ...waitFlags
  ],
  run: async ({ flags, positionals }) => {
    const arg = positionals[0] ?? ''
    const rpl = flags.int('replication')
    let rplMin = flags.int('replication-min')
    let rplMax = flags.int('replication-max')
    if (rpl !== 0) {
      rplMin = rpl
      rplMax = rpl
    }
    let userAllocations: string[] = []
    if (flags.string('allocations') !== '') {
      userAllocations = flags
        .string('allocations')
        .split(',')
        .map((s) => s.trim())
      for (const a of userAllocations) {
        try {
          peerIdFromString(a)
        } catch {
          checkErr('decoding allocations', new Error('some peer IDs could not be decoded'))
        }
      }
    }
    const origins = flags.string('origins')
    const opts: Partial<PinOptions> = {
      replicationFactorMin: rplMin,
      replicationFactorMax: rplMax,
      name: flags.string('name'),
      mode: (flags.string('mode') === 'direct' ? 'direct' : 'recursive') as PinMode,
      userAllocations,
      expireAt: parseExpireIn(flags),
      metadata: parseMetadata(flags.slice('metadata')),
      origins: origins === '' ? [] : origins.split(',').map((s) => s.trim())
    }
    const pin = await call(() => ctl().client.pin(arg, opts))
    await handlePinResponse(flags, pin, 'pinned')
  }
})

const rm = command({
  name: 'rm',
  usage: 'Remove a CID or IPFS path from the cluster pinset',
  argsUsage: '<CID|Path>',
  description: `
Takes the item out of the shared pinset, so the peers holding it unpin it
from their IPFS daemons. It leaves "pin ls" at once, while the unpinning
on each peer happens afterwards and may fail (see "status").

Once accepted, the item's status is printed (the pin itself with
--no-status).
`,
  flags: [
    {
      name: 'no-status',
      aliases: ['ns'],
      kind: 'bool',
      usage: 'print the removed pin instead of asking for its status afterwards'
    },
    ...waitFlags
  ],
  run: async ({ flags, positionals }) => {
    const arg = positionals[0] ?? ''
    const pin = await call(() => ctl().client.unpin(arg))
    await handlePinResponse(flags, pin, 'unpinned')
  }
})

const update = command({
  name: 'update',
  usage: 'Pin a new item with the settings of a pinned one',
  argsUsage: '<existing-CID> <new-CID|Path>',
  description: `
Pins the new item with a copy of the existing pin's options (name included,
unless --name is given) and on the same peers, skipping allocation. Those
peers use IPFS "pin update", which is cheap when the two DAGs share most
of their blocks.

The existing pin stays in the cluster; remove it with "pin rm" if it is no
longer wanted.
`,
  flags: [
    { name: 'name', aliases: ['n'], kind: 'string', usage: 'name for the new pin (default: the existing one\'s)' },
    {
      name: 'expire-in',
      kind: 'string',
      usage: 'unpin the new item automatically once this duration has passed'
    },
    {
      name: 'no-status',
      aliases: ['ns'],
      kind: 'bool',
      usage: 'print the new pin instead of asking for its status afterwards'
    },
    ...waitFlags
  ],
  run: async ({ flags, positionals }) => {
    const fromCid = parseCidArg(positionals[0] ?? '', 'parsing from Cid')
    const to = positionals[1] ?? ''
    const opts: Partial<PinOptions> = { name: flags.string('name'), expireAt: parseExpireIn(flags) }
    const pin = await call(() => ctl().client.pinUpdate(fromCid, to, opts))
    await handlePinResponse(flags, pin, 'pinned')
  }
})

const PIN_TYPES = ['pin', 'meta-pin', 'clusterdag-pin', 'shard-pin'] as const

/** upstream: OR the `--filter` types, "all" when every type is in. */
export function allocationsFilter(filter: string): string {
  const items = filter.split(',').map((s) => s.trim())
  if (items.includes('all')) return 'all'
  const set = PIN_TYPES.filter((t) => items.includes(t))
  return set.length === PIN_TYPES.length ? 'all' : set.join(',')
}

const ls = command({
  name: 'ls',
  usage: 'Show the cluster pinset',
  argsUsage: '[CID]',
  description: `
Prints the pins in the shared pinset with their options and the peers each
is allocated to, or just the given one. This is what the cluster wants
pinned; whether IPFS actually holds it is shown by "status".

--filter (used when no CID is given) takes pin types, comma-separated:
  - all (default)
  - pin (plain pins, in either mode)
  - meta-pin, clusterdag-pin, shard-pin (kinds made by sharded adds;
    this implementation does not create them)
`,
  flags: [{ name: 'filter', kind: 'string', default: 'all', usage: 'pin types to show (comma-separated, see above)' }],
  run: async ({ flags, positionals }) => {
    const { client } = ctl()
    const cidStr = positionals[0] ?? ''
    if (cidStr !== '') {
      const ci = parseCidArg(cidStr)
      const pin = await call(() => client.allocation(ci))
      print({ kind: 'pin', value: pin })
      return
    }
    const f = allocationsFilter(flags.string('filter'))
    if (f === '') fail(new Error('invalid filter'), 'parsing filter flag')
    await printStream(client.allocations(f), (value) => ({ kind: 'pin', value }))
  }
})

export default command(
  {
    name: 'pin',
    usage: 'Add, remove, update and list cluster pins',
    description: 'Add, remove, update and list cluster pins'
  },
  { add: async () => add, rm: async () => rm, update: async () => update, ls: async () => ls }
)
