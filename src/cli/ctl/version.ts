/** `ctl version`: the version of the contacted peer (GET /version). */
import { command } from '../cmd.ts'
import { call, ctl, print } from './context.ts'

export default command({
  name: 'version',
  usage: 'Show the version of the contacted peer',
  argsUsage: ' ',
  description: `
Asks the contacted peer for its IPFS Cluster version, e.g. to compare it
with the version of this tool (see -v).
`,
  run: async () => {
    const v = await call(() => ctl().client.version())
    print({ kind: 'version', value: v })
  }
})
