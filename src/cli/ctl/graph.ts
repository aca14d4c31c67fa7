/**
 * `ctl health graph`: the cluster's connectivity as a graphviz dot file,
 * mirroring upstream `cmd/ipfs-cluster-ctl/graph.go` and the output of
 * `github.com/ipfs-cluster/go-dot` byte for byte (no trailing newline after
 * the closing brace, as upstream).
 */
import type { ConnectGraph } from '../../types/index.ts'

type NodeType = 'self' | 'cluster' | 'trusted' | 'ipfs' | 'ipfs-missing'

interface Vertex {
  id: string
  label: string
  group: string
  color: string
  style: string
  colorscheme: string
  fontcolor: string
  fontname: string
  shape: string
  peripheries: number
}

function shorten(id: string): string {
  return `${id.slice(0, 2)}*${id.slice(-6)}`
}

function label(peername: string, id: string): string {
  return `< <B> ${peername} </B> <BR/> <B> ${id} </B> >`
}

/** go-dot `VertexDescription.Write`: attributes in struct order, empty ones skipped. */
function vertexLine(v: Vertex): string {
  let s = `${v.id} [`
  const strAttrs: [string, string][] = [
    ['label', v.label],
    ['group', v.group],
    ['color', v.color],
    ['style', v.style],
    ['colorscheme', v.colorscheme],
    ['fontcolor', v.fontcolor],
    ['fontname', v.fontname],
    ['shape', v.shape]
  ]
  for (const [name, value] of strAttrs) {
    if (value === '') continue
    s += value.startsWith('<') ? `${name}=${value} ` : `${name}="${value}" `
  }
  if (v.peripheries !== 0) s += `peripheries="${v.peripheries}" `
  return `${s}]`
}

function edgeLine(from: Vertex, to: Vertex, style = ''): string {
  return `${from.id} -> ${to.id}${style !== '' ? ` [ style="${style}" ]` : ''}`
}

function sortedKeys(m: Record<string, unknown>): string[] {
  return Object.keys(m).sort()
}

/**
 * Renders the connect graph as upstream `makeDot`. With `allIpfs`, IPFS
 * swarm peers outside the cluster become nodes too.
 */
export function makeDot(cg: ConnectGraph, allIpfs = false): string {
  const ipfsEdges: Record<string, string[]> = {}
  for (const [k, v] of Object.entries(cg.ipfsLinks)) {
    // (re)created for k: a placeholder added earlier gets k's real links
    const edges: string[] = []
    ipfsEdges[k] = edges
    for (const id of v) {
      if (id in cg.ipfsLinks || allIpfs) edges.push(id)
      if (allIpfs && !(id in ipfsEdges)) ipfsEdges[id] = []
    }
  }

  const clusterNodes = new Map<string, Vertex>()
  const ipfsNodes = new Map<string, Vertex>()
  const lines: string[] = []

  const addNode = (out: string[], id: string, t: NodeType): void => {
    const v: Vertex = {
      id: '',
      label: '',
      group: id,
      color: '',
      style: 'filled',
      colorscheme: 'x11',
      fontcolor: 'black',
      fontname: 'Arial',
      shape: '',
      peripheries: 0
    }
    switch (t) {
      case 'self':
        v.id = `C${clusterNodes.size}`
        v.shape = 'box3d'
        v.label = label(cg.idToPeername[id] ?? '', shorten(id))
        v.color = 'orange'
        v.peripheries = 2
        clusterNodes.set(id, v)
        break
      case 'trusted':
        v.id = `T${clusterNodes.size}`
        v.shape = 'box3d'
        v.label = label(cg.idToPeername[id] ?? '', shorten(id))
        v.color = 'orange'
        clusterNodes.set(id, v)
        break
      case 'cluster':
        v.shape = 'box3d'
        v.label = label(cg.idToPeername[id] ?? '', shorten(id))
        v.id = `C${clusterNodes.size}`
        v.color = 'darkorange3'
        clusterNodes.set(id, v)
        break
      case 'ipfs':
        v.id = `I${ipfsNodes.size}`
        v.shape = 'cylinder'
        v.label = label('IPFS', shorten(id))
        v.color = 'turquoise3'
        ipfsNodes.set(id, v)
        break
      case 'ipfs-missing':
        v.id = `I${ipfsNodes.size}`
        v.shape = 'cylinder'
        v.label = label('IPFS', 'Errored')
        v.color = 'firebrick1'
        ipfsNodes.set(id, v)
        break
    }
    out.push(vertexLine(v))
  }

  lines.push('/* The nodes of the connectivity graph */')
  lines.push('/* The cluster-service peers */')
  const clusterSub: string[] = []
  const sortedCluster = sortedKeys(cg.clusterLinks)
  for (const k of sortedCluster) {
    if (k === cg.clusterId) addNode(clusterSub, k, 'self')
    else if (cg.clusterTrustLinks[k] === true) addNode(clusterSub, k, 'trusted')
    else addNode(clusterSub, k, 'cluster')
  }
  lines.push(`subgraph  {\nrank="min"\n${clusterSub.map((l) => `${l}\n`).join('')}}`)
  lines.push('')

  lines.push('/* The ipfs peers */')
  const ipfsSub: string[] = []
  for (const k of sortedKeys(ipfsEdges)) addNode(ipfsSub, k, 'ipfs')
  for (const k of sortedCluster) {
    if (!(k in cg.clusterToIpfs)) addNode(ipfsSub, k, 'ipfs-missing')
  }
  lines.push(`subgraph  {\nrank="max"\n${ipfsSub.map((l) => `${l}\n`).join('')}}`)
  lines.push('')

  lines.push('/* Edges representing active connections in the cluster */')
  lines.push('/* The connections among cluster-service peers */')
  for (const k of sortedCluster) {
    const to = clusterNodes.get(k)
    for (const id of cg.clusterLinks[k] ?? []) {
      const from = clusterNodes.get(id)
      if (to === undefined || from === undefined) continue
      lines.push(edgeLine(to, from))
    }
  }
  lines.push('')

  lines.push('/* The connections between cluster peers and their ipfs daemons */')
  for (const k of sortedCluster) {
    const to = clusterNodes.get(k)
    if (to === undefined) continue
    const ipfsId = cg.clusterToIpfs[k]
    if (ipfsId === undefined) {
      const from = ipfsNodes.get(k)
      if (from !== undefined) lines.push(edgeLine(to, from, 'dotted'))
      continue
    }
    const from = ipfsNodes.get(ipfsId)
    if (from !== undefined) lines.push(edgeLine(to, from))
  }
  lines.push('')

  lines.push('/* The swarm peer connections among ipfs daemons in the cluster */')
  for (const k of sortedKeys(ipfsEdges)) {
    const to = ipfsNodes.get(k)
    if (to === undefined) continue
    for (const id of ipfsEdges[k] ?? []) {
      const from = ipfsNodes.get(id)
      if (from !== undefined) lines.push(edgeLine(to, from))
    }
  }
  return `digraph cluster {\n${lines.map((l) => `${l}\n`).join('')}}`
}
