/** `ctl health graph|metrics|alerts|bandwidth` (upstream `cmd/ipfs-cluster-ctl/main.go`, command "health"). */
import { writeFile } from 'node:fs/promises'
import { command } from './cmd.ts'
import { call, checkErr, ctl, print, printList } from './context.ts'
import { makeDot } from './graph.ts'

const graph = command({
  name: 'graph',
  usage: 'create a graph displaying connectivity of cluster peers',
  description: `
This command queries all connected cluster peers and their ipfs peers to generate a
graph of the connections.  Output is a dot file encoding the cluster's connection state.
`,
  flags: [
    { name: 'file', aliases: ['f'], kind: 'string', usage: 'sets an output dot-file for the connectivity graph' },
    {
      name: 'all-ipfs-peers',
      kind: 'bool',
      usage: 'causes the graph to mark nodes for ipfs peers not directly in the cluster'
    }
  ],
  run: async ({ flags }) => {
    const cg = await call(() => ctl().client.graph())
    const dot = makeDot(cg, flags.bool('all-ipfs-peers'))
    const file = flags.string('file')
    if (file === '') {
      ctl().io.stdout(dot)
      return
    }
    try {
      await writeFile(file, dot)
    } catch (err) {
      checkErr('creating output file', err)
    }
  }
})

const metrics = command({
  name: 'metrics',
  usage: 'List latest metrics logged by this peer',
  argsUsage: '<metric name>',
  description: `
This commands displays the latest valid metrics of the given type logged
by this peer for all current cluster peers.

If no argument is provided, the command retrieves all currently existing metric types.

Currently supported metrics depend on the informer component used,
but usually are:

- freespace
- ping
`,
  run: async ({ positionals }) => {
    const name = positionals[0] ?? ''
    const { client } = ctl()
    if (name === '') {
      const names = await call(() => client.metricNames())
      printList(names.map((value) => ({ kind: 'string', value })))
      return
    }
    const ms = await call(() => client.metrics(name))
    printList(ms.map((value) => ({ kind: 'metric', value })))
  }
})

const alerts = command({
  name: 'alerts',
  usage: 'List the latest expired metric alerts',
  description: `
This command provides a list of "alerts" that the cluster has seen.

An alert is triggered when one of the metrics seen for a peer expires, and no
new metrics have been received.

Different alerts may be handled in different ways. i.e. ping alerts may
trigger automatic repinnings if configured.
`,
  run: async () => {
    const as = await call(() => ctl().client.alerts())
    printList(as.map((value) => ({ kind: 'alert', value })))
  }
})

const bandwidth = command({
  name: 'bandwidth',
  usage: 'Lists bandwidth stats for libp2p protocols',
  description: `
This command lists information about bytes sent, received and current bandwidth
rates for each libp2p protocol that the peer uses.
`,
  run: async () => {
    const bw = await call(() => ctl().client.bandwidth())
    print({ kind: 'bandwidth', value: bw })
  }
})

export default command(
  { name: 'health', usage: 'Cluster monitoring information', description: 'Cluster monitoring information' },
  { graph: async () => graph, metrics: async () => metrics, alerts: async () => alerts, bandwidth: async () => bandwidth }
)
