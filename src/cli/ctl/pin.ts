/**
 * `ctl pin add|rm|update|ls` (upstream `cmd/ipfs-cluster-ctl/main.go`,
 * command "pin", and `handlePinResponseFormatFlags`).
 */
import { peerIdFromString } from '@libp2p/peer-id'
import type { GlobalPinInfo, Pin, PinMode, PinOptions, TrackerStatus } from '../../types/index.ts'
import { type FlagValues, command, parseGoDuration } from './cmd.ts'
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
  usage: 'Pin an item in the cluster',
  argsUsage: '<CID|Path>',
  description: `
This command tells IPFS Cluster to start managing a CID. Depending on
the pinning strategy, this will trigger IPFS pin requests. The CID will
become part of the Cluster's state and will tracked from this point.

When the request has succeeded, the command returns the status of the CID
in the cluster and should be part of the list offered by "pin ls".

An optional replication factor can be provided: -1 means "pin everywhere"
and 0 means use cluster's default setting (i.e., replication factor set in
config). Positive values indicate how many peers should pin this content.

An optional allocations argument can be provided, allocations should be a
comma-separated list of peer IDs on which we want to pin. Peers in allocations
are prioritized over automatically-determined ones, but replication factors
would still be respected.
`,
  flags: [
    {
      name: 'replication',
      aliases: ['r'],
      kind: 'int',
      default: 0,
      usage: 'Sets a custom replication factor (overrides -rmax and -rmin)'
    },
    {
      name: 'replication-min',
      aliases: ['rmin'],
      kind: 'int',
      default: 0,
      usage: 'Sets the minimum replication factor for this pin'
    },
    {
      name: 'replication-max',
      aliases: ['rmax'],
      kind: 'int',
      default: 0,
      usage: 'Sets the maximum replication factor for this pin'
    },
    { name: 'allocations', aliases: ['allocs'], kind: 'string', usage: 'Optional comma-separated list of peer IDs' },
    { name: 'name', aliases: ['n'], kind: 'string', usage: 'Sets a name for this pin' },
    { name: 'mode', kind: 'string', default: 'recursive', usage: 'Select a way to pin: recursive or direct' },
    { name: 'expire-in', kind: 'string', usage: 'Duration after which pin should be unpinned automatically' },
    { name: 'metadata', kind: 'slice', usage: 'Pin metadata: key=value. Can be added multiple times' },
    {
      name: 'origins',
      kind: 'string',
      usage: 'Optional comma-separated list of multiaddresses (with /p2p/) to connect to before pinning'
    },
    {
      name: 'no-status',
      aliases: ['ns'],
      kind: 'bool',
      usage: 'Prevents fetching pin status after pinning (faster, quieter)'
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
  usage: 'Unpin an item from the cluster',
  argsUsage: '<CID|Path>',
  description: `
This command tells IPFS Cluster to no longer manage a CID. This will
trigger unpinning operations in all the IPFS nodes holding the content.

When the request has succeeded, the command returns the status of the CID
in the cluster. The CID should disappear from the list offered by "pin ls",
although unpinning operations in the cluster may take longer or fail.
`,
  flags: [
    {
      name: 'no-status',
      aliases: ['ns'],
      kind: 'bool',
      usage: 'Prevents fetching pin status after unpinning (faster, quieter)'
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
  usage: 'Pin a new item based on an existing one',
  argsUsage: '<existing-CID> <new-CID|Path>',
  description: `
This command will add a new pin to the cluster taking all the options from an
existing one, including name. This means that the new pin will bypass the
allocation process and will be allocated to the same peers as the existing
one.

The cluster peers will try to Pin the new item on IPFS using the "pin update"
command. This is especially efficient when the content of two pins (their DAGs)
are similar.

Unlike the "pin update" command in the ipfs daemon, this will not unpin the
existing item from the cluster. Please run "pin rm" for that.
`,
  flags: [
    { name: 'name', aliases: ['n'], kind: 'string', usage: 'Sets a name for this updated pin' },
    {
      name: 'expire-in',
      kind: 'string',
      usage: 'Duration after which the pin should be unpinned automatically after updating'
    },
    {
      name: 'no-status',
      aliases: ['ns'],
      kind: 'bool',
      usage: 'Prevents fetching pin status after updating (faster, quieter)'
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
  usage: 'List items in the cluster pinset',
  argsUsage: '[CID]',
  description: `
This command will list the CIDs which are tracked by IPFS Cluster and to
which peers they are currently allocated. This list does not include
any monitoring information about the IPFS status of the CIDs, it
merely represents the list of pins which are part of the shared state of
the cluster. For IPFS-status information about the pins, use "status".

The filter only takes effect when listing all pins. The possible values are:
  - all (default)
  - pin (normal pins, recursive or direct)
  - meta-pin (sharded pins)
  - clusterdag-pin (sharding-dag root pins)
  - shard-pin (individual shard pins)
`,
  flags: [{ name: 'filter', kind: 'string', default: 'all', usage: 'Comma separated list of pin types. See help above.' }],
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
    usage: 'Pin and unpin and list items in IPFS Cluster',
    description: 'Pin and unpin and list items in IPFS Cluster'
  },
  { add: async () => add, rm: async () => rm, update: async () => update, ls: async () => ls }
)
