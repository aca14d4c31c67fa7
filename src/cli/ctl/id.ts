/** `ctl id` (upstream `cmd/ipfs-cluster-ctl/main.go`, command "id"). */
import { command } from '../cmd.ts'
import { call, ctl, print } from './context.ts'

export default command({
  name: 'id',
  usage: 'Show the identity of the contacted peer',
  description: `
Prints the ID record of the peer this command talks to (by default the one
on this machine): peer ID, addresses, versions and its IPFS daemon.
`,
  run: async () => {
    const id = await call(() => ctl().client.id())
    print({ kind: 'id', value: id })
  }
})
