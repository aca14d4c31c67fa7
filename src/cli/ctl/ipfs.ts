/** `ctl ipfs gc` (upstream `cmd/ipfs-cluster-ctl/main.go`, command "ipfs"). */
import { command } from './cmd.ts'
import { call, ctl, print } from './context.ts'
import { localFlag } from './flags.ts'

const gc = command({
  name: 'gc',
  usage: 'run garbage collection on IPFS repos of cluster peers',
  description: `
This command will instruct current Cluster peers to run "repo gc" on their
respective IPFS daemons.

When --local flag is passed, it will garbage collect only on the local IPFS
daemon, otherwise on all IPFS daemons.
`,
  flags: [localFlag],
  run: async ({ flags }) => {
    const res = await call(() => ctl().client.repoGC(flags.bool('local')))
    print({ kind: 'repogc', value: res })
  }
})

export default command(
  { name: 'ipfs', usage: 'Manage IPFS daemon', description: 'Manage IPFS daemon' },
  { gc: async () => gc }
)
