/** `ctl peers ls|rm` (upstream `cmd/ipfs-cluster-ctl/main.go`, command "peers"). */
import { peerIdFromString } from '@libp2p/peer-id'
import { command } from './cmd.ts'
import { call, checkErr, ctl, printStream } from './context.ts'

const ls = command({
  name: 'ls',
  usage: 'list the nodes participating in the IPFS Cluster',
  argsUsage: ' ',
  description: `
This command provides a list of the ID information of all the peers in the Cluster.
`,
  run: async () => {
    await printStream(ctl().client.peers(), (value) => ({ kind: 'id', value }))
  }
})

const rm = command({
  name: 'rm',
  usage: 'remove a peer from the Cluster',
  argsUsage: '<peer ID>',
  description: `
This command removes a peer from the cluster. If the peer is online, it will
automatically shut down. All other cluster peers should be online for the
operation to succeed, otherwise some nodes may be left with an outdated list of
cluster peers.
`,
  run: async ({ positionals }) => {
    const pid = positionals[0] ?? ''
    try {
      peerIdFromString(pid)
    } catch (err) {
      checkErr('parsing peer ID', pid === '' ? new Error('empty peer ID') : err)
    }
    await call(() => ctl().client.peerRm(pid))
  }
})

export default command(
  { name: 'peers', usage: 'List and manage IPFS Cluster peers', description: 'List and manage IPFS Cluster peers' },
  { ls: async () => ls, rm: async () => rm }
)
