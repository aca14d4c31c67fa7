/** `ctl recover [cid]` (upstream `cmd/ipfs-cluster-ctl/main.go`, command "recover"). */
import { command } from './cmd.ts'
import { call, ctl, print, printStream } from './context.ts'
import { localFlag } from './flags.ts'
import { parseCidArg } from './status.ts'

export default command({
  name: 'recover',
  usage: 'Recover tracked items in error state',
  argsUsage: '[CID]',
  description: `
This command asks Cluster peers to re-track or re-forget CIDs in
error state, usually because the IPFS pin or unpin operation has failed.

The command will wait for any operations to succeed and will return the status
of the item upon completion. Note that, when running on the full sets of tracked
CIDs (without argument), it may take a considerably long time.

When the --local flag is passed, it will only trigger recover
operations on the contacted peer (as opposed to on every peer).
`,
  flags: [localFlag],
  run: async ({ flags, positionals }) => {
    const local = flags.bool('local')
    const { client } = ctl()
    const cidStr = positionals[0] ?? ''
    if (cidStr !== '') {
      const ci = parseCidArg(cidStr)
      const gpi = await call(() => client.recover(ci, local))
      print({ kind: 'gpinfo', value: gpi })
      return
    }
    await printStream(client.recoverAll(local), (value) => ({ kind: 'gpinfo', value }))
  }
})
