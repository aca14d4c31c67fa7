/** `ctl status [cid...]` (upstream `cmd/ipfs-cluster-ctl/main.go`, command "status"). */
import { CID } from 'multiformats/cid'
import { TRACKER_STATUSES } from '../../types/index.ts'
import { trackerStatusAllString } from '../format.ts'
import { command } from '../cmd.ts'
import { call, checkErr, ctl, print, printStream } from './context.ts'
import { localFlag } from './flags.ts'

/** Statuses and filter aliases upstream accepts in `--filter`. */
export const FILTER_NAMES: readonly string[] = [...TRACKER_STATUSES, 'error', 'queued']

/** Parses a CID argument, exiting like upstream's `checkErr("parsing cid", err)`. */
export function parseCidArg(s: string, doing = 'parsing cid'): CID {
  try {
    return CID.parse(s)
  } catch (err) {
    checkErr(doing, err)
  }
}

export default command({
  name: 'status',
  usage: 'Show how pinned items are doing on each peer',
  argsUsage: '[CID1] [CID2]...',
  description: `
For each pin in the cluster, prints what every peer reports about it
(pinned, pinning, queued, error with the reason, ...). Given CIDs, only
those items are shown.

By default every peer is asked; with --local only the contacted one.

--filter (used when no CID is given) shows only the peer reports in one
of the listed states, comma-separated, among:

${trackerStatusAllString(FILTER_NAMES)}`,
  flags: [localFlag, { name: 'filter', kind: 'string', usage: 'only reports in these states (comma-separated, see above)' }],
  run: async ({ flags, positionals }) => {
    const cids = positionals.map((s) => parseCidArg(s))
    const local = flags.bool('local')
    const { client } = ctl()
    if (cids.length === 1) {
      const gpi = await call(() => client.status(cids[0]!, local))
      print({ kind: 'gpinfo', value: gpi })
      return
    }
    if (cids.length > 1) {
      await printStream(client.statusAll('', local, cids), (value) => ({ kind: 'gpinfo', value }))
      return
    }
    const filterFlag = flags.string('filter')
    const known = filterFlag
      .split(',')
      .map((f) => f.trim())
      .filter((f) => f !== 'undefined' && FILTER_NAMES.includes(f))
    if (filterFlag !== '' && known.length === 0) checkErr('parsing filter flag', new Error('invalid filter name'))
    await printStream(client.statusAll(known.join(','), local), (value) => ({ kind: 'gpinfo', value }))
  }
})
