/** `ctl health graph|metrics|alerts|bandwidth` (upstream `cmd/ipfs-cluster-ctl/main.go`, command "health"). */
import { writeFile } from 'node:fs/promises'
import { command } from '../cmd.ts'
import { call, checkErr, ctl, print, printList } from './context.ts'
import { makeDot } from './graph.ts'

const graph = command({
  name: 'graph',
  usage: 'draw who is connected to whom among the cluster peers',
  description: `
Asks every cluster peer whom it is connected to, both in the cluster and
through its IPFS daemon, and prints the result as a Graphviz dot graph
(render it with "dot").
`,
  flags: [
    { name: 'file', aliases: ['f'], kind: 'string', usage: 'write the dot graph to this file instead of stdout' },
    {
      name: 'all-ipfs-peers',
      kind: 'bool',
      usage: 'also draw IPFS peers that do not belong to the cluster'
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
  usage: 'Show the newest metrics the contacted peer holds',
  argsUsage: '<metric name>',
  description: `
Prints, for each cluster peer, the newest valid metric of the given name
known to the contacted peer. Without a name, prints the metric names in use.

Which metrics exist depends on the configured informers, e.g. ping,
freespace or reposize, pinqueue, and tag:<name> for tags.
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
  usage: 'Show recent alerts about expired metrics',
  description: `
Lists the alerts the contacted peer has raised lately. An alert is raised
when a peer's metric expires without a newer one arriving. A ping alert
means a peer looks down, and may make the cluster re-allocate its pins
(unless repinning is disabled).
`,
  run: async () => {
    const as = await call(() => ctl().client.alerts())
    printList(as.map((value) => ({ kind: 'alert', value })))
  }
})

const bandwidth = command({
  name: 'bandwidth',
  usage: 'Show traffic per libp2p protocol',
  description: `
Prints, for each libp2p protocol the contacted peer speaks, the bytes sent
and received so far and the current rates.
`,
  run: async () => {
    const bw = await call(() => ctl().client.bandwidth())
    print({ kind: 'bandwidth', value: bw })
  }
})

export default command(
  { name: 'health', usage: 'Look at connectivity, metrics and alerts', description: 'Look at connectivity, metrics and alerts' },
  { graph: async () => graph, metrics: async () => metrics, alerts: async () => alerts, bandwidth: async () => bandwidth }
)
