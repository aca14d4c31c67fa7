/** `ctl ipfs gc` (upstream `cmd/ipfs-cluster-ctl/main.go`, command "ipfs"). */
import { command } from '../cmd.ts'
import { call, ctl, print } from './context.ts'
import { localFlag } from './flags.ts'

const gc = command({
  name: 'gc',
  usage: 'free unpinned blocks in the IPFS daemons of the peers',
  description: `
Has each cluster peer run "repo gc" on its IPFS daemon and prints the
CIDs removed per peer. With --local only the contacted peer's daemon is
collected.
`,
  flags: [localFlag],
  run: async ({ flags }) => {
    const res = await call(() => ctl().client.repoGC(flags.bool('local')))
    print({ kind: 'repogc', value: res })
  }
})

export default command(
  { name: 'ipfs', usage: 'Act on the IPFS daemons of the peers', description: 'Act on the IPFS daemons of the peers' },
  { gc: async () => gc }
)
