/** `ctl version`: the version of the contacted peer (GET /version). */
import { command } from './cmd.ts'
import { call, ctl, print } from './context.ts'

export default command({
  name: 'version',
  usage: 'Retrieve cluster version',
  argsUsage: ' ',
  description: `
This command retrieves the IPFS Cluster version and can be used
to check that it matches the CLI version (shown by -v).
`,
  run: async () => {
    const v = await call(() => ctl().client.version())
    print({ kind: 'version', value: v })
  }
})
