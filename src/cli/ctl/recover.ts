/** `ctl recover [cid]` (upstream `cmd/ipfs-cluster-ctl/main.go`, command "recover"). */
import { command } from '../cmd.ts'
import { call, ctl, print, printStream } from './context.ts'
import { localFlag } from './flags.ts'
import { parseCidArg } from './status.ts'

export default command({
  name: 'recover',
  usage: 'Retry items whose pin or unpin failed',
  argsUsage: '[CID]',
  description: `
Items end in an error state when IPFS fails to pin or unpin them. This
command has the peers try again, waits for the attempts to finish and
prints the resulting status. Without a CID every failed item is retried,
which can take long on big pinsets.

By default every peer retries; with --local only the contacted one.
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
