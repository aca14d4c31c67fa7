/** `ctl peers ls|rm` (upstream `cmd/ipfs-cluster-ctl/main.go`, command "peers"). */
import { peerIdFromString } from '@libp2p/peer-id'
import { command } from '../cmd.ts'
import { call, checkErr, ctl, printStream } from './context.ts'

const ls = command({
  name: 'ls',
  usage: 'show the peers that make up the cluster',
  argsUsage: ' ',
  description: `
Prints the ID record (addresses, versions, IPFS daemon, errors) of every
cluster peer that the contacted peer knows of.
`,
  run: async () => {
    await printStream(ctl().client.peers(), (value) => ({ kind: 'id', value }))
  }
})

const rm = command({
  name: 'rm',
  usage: 'take a peer out of the cluster',
  argsUsage: '<peer ID>',
  description: `
Drops the given peer from the peerset: it gets no new allocations, and the
pins it was holding are given to other peers (unless repinning is disabled).
The other trusted peers are told to do the same, so they should be online.

The removed peer keeps running. The removal is held in memory only: it ends
when the peer is added back or the contacted peer restarts. A peer cannot
remove itself.
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
  { name: 'peers', usage: 'See and remove cluster peers', description: 'See and remove cluster peers' },
  { ls: async () => ls, rm: async () => rm }
)
