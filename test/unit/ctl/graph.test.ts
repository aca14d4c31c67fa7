import { expect, test } from 'bun:test'
import { makeDot } from '../../../src/cli/ctl/graph.ts'
import type { ConnectGraph } from '../../../src/types/index.ts'

// Peer IDs and expected outputs from upstream cmd/ipfs-cluster-ctl/graph_test.go
const pid1 = 'QmUBuxVHoNNjfmNpTad36UeaFQv3gXAtCv9r6KhmeqhEhD'
const pid2 = 'QmV35LjbEGPfN7KfMAJp43VV2enwXqqQf5esx4vUcgHDQJ'
const pid3 = 'QmZ2ckU7G35MYyJgMTwMUnicsGqSy3YUxGBX7qny6MQmJu'
const pid4 = 'QmXbiVZd93SLiu9TAm21F2y9JwGiFLydbEVkPBaMR3DZDV'
const pid5 = 'QmPFKAGZbUjdzt8BBx8VTWCe9UeUQVcoqHFehSPzN5LSsq'
const pid6 = 'QmbU7273zH6jxwDe2nqRmEm2rp5PpqP2xeQr2xCmwbBsuL'
const pid7 = 'QmQsdAdCHs4PRLi5tcoLfasYppryqQENxgAy4b2aS8xccb'
const pid8 = 'QmVV2enwXqqQf5esx4v36UeaFQvFehSPzNfi8aaaaaanM8'
const pid9 = 'QmfCHNQ2vbUmAuJZhE2hEpgiJq4sL1XScWEKnUrVtWZdeD'

const clusterNodes = `C0 [label=< <B>  </B> <BR/> <B> Qm*eqhEhD </B> > group="QmUBuxVHoNNjfmNpTad36UeaFQv3gXAtCv9r6KhmeqhEhD" color="orange" style="filled" colorscheme="x11" fontcolor="black" fontname="Arial" shape="box3d" peripheries="2" ]
C1 [label=< <B>  </B> <BR/> <B> Qm*cgHDQJ </B> > group="QmV35LjbEGPfN7KfMAJp43VV2enwXqqQf5esx4vUcgHDQJ" color="darkorange3" style="filled" colorscheme="x11" fontcolor="black" fontname="Arial" shape="box3d" ]
C2 [label=< <B>  </B> <BR/> <B> Qm*6MQmJu </B> > group="QmZ2ckU7G35MYyJgMTwMUnicsGqSy3YUxGBX7qny6MQmJu" color="darkorange3" style="filled" colorscheme="x11" fontcolor="black" fontname="Arial" shape="box3d" ]`

const simpleIpfs = `digraph cluster {
/* The nodes of the connectivity graph */
/* The cluster-service peers */
subgraph  {
rank="min"
${clusterNodes}
}

/* The ipfs peers */
subgraph  {
rank="max"
I0 [label=< <B> IPFS </B> <BR/> <B> Qm*N5LSsq </B> > group="QmPFKAGZbUjdzt8BBx8VTWCe9UeUQVcoqHFehSPzN5LSsq" color="turquoise3" style="filled" colorscheme="x11" fontcolor="black" fontname="Arial" shape="cylinder" ]
I1 [label=< <B> IPFS </B> <BR/> <B> Qm*R3DZDV </B> > group="QmXbiVZd93SLiu9TAm21F2y9JwGiFLydbEVkPBaMR3DZDV" color="turquoise3" style="filled" colorscheme="x11" fontcolor="black" fontname="Arial" shape="cylinder" ]
I2 [label=< <B> IPFS </B> <BR/> <B> Qm*wbBsuL </B> > group="QmbU7273zH6jxwDe2nqRmEm2rp5PpqP2xeQr2xCmwbBsuL" color="turquoise3" style="filled" colorscheme="x11" fontcolor="black" fontname="Arial" shape="cylinder" ]
}

/* Edges representing active connections in the cluster */
/* The connections among cluster-service peers */
C0 -> C1
C0 -> C2
C1 -> C0
C1 -> C2
C2 -> C0
C2 -> C1

/* The connections between cluster peers and their ipfs daemons */
C0 -> I1
C1 -> I0
C2 -> I2

/* The swarm peer connections among ipfs daemons in the cluster */
I0 -> I1
I0 -> I2
I1 -> I0
I1 -> I2
I2 -> I1
I2 -> I0
}`

const allIpfs = `digraph cluster {
/* The nodes of the connectivity graph */
/* The cluster-service peers */
subgraph  {
rank="min"
${clusterNodes}
}

/* The ipfs peers */
subgraph  {
rank="max"
I0 [label=< <B> IPFS </B> <BR/> <B> Qm*N5LSsq </B> > group="QmPFKAGZbUjdzt8BBx8VTWCe9UeUQVcoqHFehSPzN5LSsq" color="turquoise3" style="filled" colorscheme="x11" fontcolor="black" fontname="Arial" shape="cylinder" ]
I1 [label=< <B> IPFS </B> <BR/> <B> Qm*S8xccb </B> > group="QmQsdAdCHs4PRLi5tcoLfasYppryqQENxgAy4b2aS8xccb" color="turquoise3" style="filled" colorscheme="x11" fontcolor="black" fontname="Arial" shape="cylinder" ]
I2 [label=< <B> IPFS </B> <BR/> <B> Qm*aaanM8 </B> > group="QmVV2enwXqqQf5esx4v36UeaFQvFehSPzNfi8aaaaaanM8" color="turquoise3" style="filled" colorscheme="x11" fontcolor="black" fontname="Arial" shape="cylinder" ]
I3 [label=< <B> IPFS </B> <BR/> <B> Qm*R3DZDV </B> > group="QmXbiVZd93SLiu9TAm21F2y9JwGiFLydbEVkPBaMR3DZDV" color="turquoise3" style="filled" colorscheme="x11" fontcolor="black" fontname="Arial" shape="cylinder" ]
I4 [label=< <B> IPFS </B> <BR/> <B> Qm*wbBsuL </B> > group="QmbU7273zH6jxwDe2nqRmEm2rp5PpqP2xeQr2xCmwbBsuL" color="turquoise3" style="filled" colorscheme="x11" fontcolor="black" fontname="Arial" shape="cylinder" ]
I5 [label=< <B> IPFS </B> <BR/> <B> Qm*tWZdeD </B> > group="QmfCHNQ2vbUmAuJZhE2hEpgiJq4sL1XScWEKnUrVtWZdeD" color="turquoise3" style="filled" colorscheme="x11" fontcolor="black" fontname="Arial" shape="cylinder" ]
}

/* Edges representing active connections in the cluster */
/* The connections among cluster-service peers */
C0 -> C1
C0 -> C2
C1 -> C0
C1 -> C2
C2 -> C0
C2 -> C1

/* The connections between cluster peers and their ipfs daemons */
C0 -> I3
C1 -> I0
C2 -> I4

/* The swarm peer connections among ipfs daemons in the cluster */
I0 -> I3
I0 -> I4
I0 -> I1
I0 -> I2
I0 -> I5
I3 -> I0
I3 -> I4
I3 -> I1
I3 -> I2
I3 -> I5
I4 -> I3
I4 -> I0
I4 -> I1
I4 -> I2
I4 -> I5
}`

const base = {
  clusterId: pid1,
  idToPeername: {},
  clusterTrustLinks: {},
  clusterLinks: { [pid1]: [pid2, pid3], [pid2]: [pid1, pid3], [pid3]: [pid1, pid2] },
  clusterToIpfs: { [pid1]: pid4, [pid2]: pid5, [pid3]: pid6 }
}

test('simple ipfs graph matches upstream', () => {
  const cg: ConnectGraph = {
    ...base,
    ipfsLinks: { [pid4]: [pid5, pid6], [pid5]: [pid4, pid6], [pid6]: [pid4, pid5] }
  }
  expect(makeDot(cg, false)).toBe(simpleIpfs)
})

test('all-ipfs-peers graph matches upstream', () => {
  const cg: ConnectGraph = {
    ...base,
    ipfsLinks: {
      [pid4]: [pid5, pid6, pid7, pid8, pid9],
      [pid5]: [pid4, pid6, pid7, pid8, pid9],
      [pid6]: [pid4, pid5, pid7, pid8, pid9]
    }
  }
  expect(makeDot(cg, true)).toBe(allIpfs)
})

test('trusted peers and peers without ipfs', () => {
  const cg: ConnectGraph = {
    clusterId: pid1,
    idToPeername: { [pid1]: 'one' },
    clusterTrustLinks: { [pid2]: true },
    clusterLinks: { [pid1]: [pid2], [pid2]: [pid1] },
    clusterToIpfs: { [pid1]: pid4 },
    ipfsLinks: { [pid4]: [] }
  }
  const dot = makeDot(cg)
  expect(dot).toContain('C0 [label=< <B> one </B> <BR/> <B> Qm*eqhEhD </B> >')
  expect(dot).toContain('T1 [label=< <B>  </B> <BR/> <B> Qm*cgHDQJ </B> >')
  expect(dot).toContain('I1 [label=< <B> IPFS </B> <BR/> <B> Errored </B> > group="' + pid2 + '" color="firebrick1"')
  expect(dot).toContain('T1 -> I1 [ style="dotted" ]')
  expect(dot).toContain('C0 -> I0\n')
})
