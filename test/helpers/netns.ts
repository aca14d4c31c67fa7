/**
 * Test hosts in network namespaces (`ip netns`, iproute2; needs root), for
 * faults that loopback cannot show: a peer that goes silent (packets
 * dropped, no RST, no ICMP), as behind a pulled cable or a firewall.
 *
 * `createNetwork(n)` makes one hub namespace with two bridges and `n` host
 * namespaces. Host `i` (1-based) has:
 * - `eth0` on the cluster bridge, `10.<r>.1.<i>/24` (`clusterIp`): the cluster swarm;
 * - `eth1` on the IPFS bridge, `10.<r>.2.<i>/24` (`ipfsIp`): kubo's swarm;
 * - its own loopback (APIs listen there), unreachable from other hosts.
 * Every address lives inside these namespaces only, never in the test's own.
 * Neighbour (ARP) entries are static, so a cut link drops packets silently
 * instead of failing fast with "host unreachable".
 *
 * Faults:
 * - `cut(i, 'cluster' | 'ipfs' | 'both')` takes the hub side of host i's
 *   link(s) down: nothing goes in or out, and the others see silence;
 *   `heal` brings it back.
 * - `muteOutbound(i)` points host i's neighbour entries at a MAC nobody has:
 *   host i still receives everything on the cluster link, but nothing it
 *   sends arrives (a one-way blackhole); `unmuteOutbound` restores them.
 *
 * `exec(i, argv)` is the argv that runs a command inside host i.
 * `destroy()` deletes every namespace (their links go with them); kill the
 * processes started inside first.
 */
import { randomInt } from 'node:crypto'

export type Link = 'cluster' | 'ipfs' | 'both'

export interface NetnsHost {
  index: number
  ns: string
  clusterIp: string
  ipfsIp: string
}

export interface NetnsNetwork {
  hosts: NetnsHost[]
  /** argv prefix + command that runs inside host i's namespace */
  exec(i: number, argv: string[]): string[]
  cut(i: number, link?: Link): Promise<void>
  heal(i: number, link?: Link): Promise<void>
  muteOutbound(i: number): Promise<void>
  unmuteOutbound(i: number): Promise<void>
  destroy(): Promise<void>
}

/** Runs `ip …`; @throws Error with its stderr when it fails. */
export async function ip(args: string[]): Promise<string> {
  const proc = Bun.spawn(['ip', ...args], { stdout: 'pipe', stderr: 'pipe', stdin: 'ignore' })
  const [out, err, code] = await Promise.all([new Response(proc.stdout).text(), new Response(proc.stderr).text(), proc.exited])
  if (code !== 0) throw new Error(`ip ${args.join(' ')} failed (${code}): ${err.trim()}`)
  return out
}

/** Whether this process can create network namespaces (root with iproute2). */
export async function netnsAvailable(): Promise<string | undefined> {
  const probe = `ictprobe${process.pid}`
  try {
    await ip(['netns', 'add', probe])
    await ip(['netns', 'del', probe])
    return undefined
  } catch (err) {
    return (err as Error).message
  }
}

const mac = (r: number, net: number, i: number): string =>
  ['02', '00', r.toString(16).padStart(2, '0'), net.toString(16).padStart(2, '0'), '00', i.toString(16).padStart(2, '0')].join(':')

/** Creates the hub and `n` (≤ 200) hosts; @throws Error when `ip` fails (nothing is left behind). */
export async function createNetwork(n: number): Promise<NetnsNetwork> {
  if (n < 1 || n > 200) throw new RangeError(`hosts: 1..200, got ${n}`)
  const r = randomInt(16, 250)
  const tag = `ict${process.pid % 10000}${r}`
  const hub = `${tag}-hub`
  const hosts: NetnsHost[] = []
  const created: string[] = []
  const hubLink = (i: number, net: 1 | 2): string => `${net === 1 ? 'c' : 'k'}${tag.slice(3)}x${i}`.slice(0, 15)
  const destroy = async (): Promise<void> => {
    for (const ns of created.reverse()) await ip(['netns', 'del', ns]).catch(() => {})
    created.length = 0
  }
  try {
    await ip(['netns', 'add', hub])
    created.push(hub)
    for (const br of ['brc', 'brk']) {
      await ip(['-n', hub, 'link', 'add', br, 'type', 'bridge'])
      await ip(['-n', hub, 'link', 'set', br, 'up'])
    }
    for (let i = 1; i <= n; i++) {
      const ns = `${tag}-${i}`
      await ip(['netns', 'add', ns])
      created.push(ns)
      await ip(['-n', ns, 'link', 'set', 'lo', 'up'])
      for (const net of [1, 2] as const) {
        const dev = net === 1 ? 'eth0' : 'eth1'
        const hl = hubLink(i, net)
        await ip(['-n', hub, 'link', 'add', hl, 'type', 'veth', 'peer', 'name', dev, 'netns', ns])
        await ip(['-n', hub, 'link', 'set', hl, 'master', net === 1 ? 'brc' : 'brk'])
        await ip(['-n', hub, 'link', 'set', hl, 'up'])
        await ip(['-n', ns, 'link', 'set', dev, 'address', mac(r, net, i)])
        await ip(['-n', ns, 'addr', 'add', `10.${r}.${net}.${i}/24`, 'dev', dev])
        await ip(['-n', ns, 'link', 'set', dev, 'up'])
      }
      hosts.push({ index: i, ns, clusterIp: `10.${r}.1.${i}`, ipfsIp: `10.${r}.2.${i}` })
    }
    const neighbours = async (i: number, lladdr: (j: number, net: number) => string, nets: number[]): Promise<void> => {
      for (const net of nets) {
        for (let j = 1; j <= n; j++) {
          if (j === i) continue
          await ip(['-n', `${tag}-${i}`, 'neigh', 'replace', `10.${r}.${net}.${j}`, 'lladdr', lladdr(j, net), 'dev', net === 1 ? 'eth0' : 'eth1', 'nud', 'permanent'])
        }
      }
    }
    for (let i = 1; i <= n; i++) await neighbours(i, (j, net) => mac(r, net, j), [1, 2])
    const host = (i: number): NetnsHost => {
      const h = hosts[i - 1]
      if (h === undefined) throw new RangeError(`no host ${i}`)
      return h
    }
    const setLinks = async (i: number, link: Link, state: 'up' | 'down'): Promise<void> => {
      host(i)
      const nets: Array<1 | 2> = link === 'cluster' ? [1] : link === 'ipfs' ? [2] : [1, 2]
      for (const net of nets) await ip(['-n', hub, 'link', 'set', hubLink(i, net), state])
    }
    return {
      hosts,
      exec: (i, argv) => ['ip', 'netns', 'exec', host(i).ns, ...argv],
      cut: (i, link = 'both') => setLinks(i, link, 'down'),
      heal: (i, link = 'both') => setLinks(i, link, 'up'),
      muteOutbound: (i) => neighbours(host(i).index, () => '02:00:00:00:00:fe', [1]),
      unmuteOutbound: (i) => neighbours(host(i).index, (j, net) => mac(r, net, j), [1]),
      destroy
    }
  } catch (err) {
    await destroy()
    throw err
  }
}
