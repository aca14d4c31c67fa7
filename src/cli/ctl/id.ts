/** `ctl id` (upstream `cmd/ipfs-cluster-ctl/main.go`, command "id"). */
import { command } from './cmd.ts'
import { call, ctl, print } from './context.ts'

export default command({
  name: 'id',
  usage: 'Retrieve peer information',
  description: `
This command displays information about the peer that the tool is contacting
(usually running in localhost).
`,
  run: async () => {
    const id = await call(() => ctl().client.id())
    print({ kind: 'id', value: id })
  }
})
