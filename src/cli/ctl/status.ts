/** `ctl status [cid...]` (upstream `cmd/ipfs-cluster-ctl/main.go`, command "status"). */
import { CID } from 'multiformats/cid'
import { TRACKER_STATUSES } from '../../types/index.ts'
import { trackerStatusAllString } from '../format.ts'
import { command } from './cmd.ts'
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
  usage: 'Retrieve the status of tracked items',
  argsUsage: '[CID1] [CID2]...',
  description: `
This command retrieves the status of the CIDs tracked by IPFS
Cluster, including which member is pinning them and any errors.
If one of several CIDs are provided, the status will be only fetched 
for a single item.  Metadata CIDs are included in the status response.

When the --local flag is passed, it will only fetch the status from the
contacted cluster peer. By default, status will be fetched from all peers.

When the --filter flag is passed, it will only fetch the peer information
where status of the pin matches at least one of the filter values (a comma
separated list). The following are valid status values:

${trackerStatusAllString(FILTER_NAMES)}`,
  flags: [localFlag, { name: 'filter', kind: 'string', usage: 'comma-separated list of filters' }],
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
