/**
 * e2e, followers: the compiled binary's `follow` program against real kubo
 * daemons. A trusted peer runs `service daemon`; its configuration, turned
 * into a follower template, is served by a local HTTP server and through
 * kubo's gateway. The follower joins with `follow <name> run --init <url>`,
 * its REST API is only the unix socket, writes through it fail with the
 * follower-mode message, and `follow <name> list` works online and offline.
 */
import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import { randomBytes } from 'node:crypto'
import { existsSync } from 'node:fs'
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { Server, Subprocess } from 'bun'
import { clusterBinary, type ClusterPeer, initPeer, type Kubo, runBinary, startKubo, stopAllKubos, waitFor } from '../../scripts/launcher/index.ts'
import { type NotifyReceiver, notifyReceiver } from '../unit/follow/notify-receiver.ts'

let kuboT: Kubo
let kuboF: Kubo
let trusted: ClusterPeer
let home: string
let server: Server<undefined>
let templateUrl: string
let templateText = ''
let templateFetches = 0
let rx: NotifyReceiver
const followers: Follower[] = []

class Follower {
  readonly name: string
  proc: Subprocess<'ignore', 'pipe', 'pipe'> | undefined
  logs = ''
  constructor(name: string) {
    this.name = name
  }

  get folder(): string {
    return join(home, '.ipfs-cluster-follow', this.name)
  }

  /** `follow <name> run [args]`, waiting for READY. */
  async run(args: string[] = [], env: Record<string, string> = {}): Promise<void> {
    this.logs = ''
    const proc = Bun.spawn([clusterBinary(), 'follow', this.name, 'run', ...args], {
      env: { ...process.env, ...followEnv(), ...env },
      stdin: 'ignore',
      stdout: 'pipe',
      stderr: 'pipe'
    })
    this.proc = proc
    const collect = async (s: ReadableStream<Uint8Array>): Promise<void> => {
      const dec = new TextDecoder()
      for await (const chunk of s) this.logs += dec.decode(chunk, { stream: true })
    }
    void collect(proc.stdout)
    void collect(proc.stderr)
    await waitFor(
      async () => {
        if (proc.exitCode !== null) throw new Error(`follow run exited with ${proc.exitCode}`)
        return this.logs.includes('IPFS Cluster is READY')
      },
      `follower ${this.name} to be READY`,
      60_000,
      100
    ).catch((err: unknown) => {
      throw new Error(`${(err as Error).message}\n--- follower logs ---\n${this.logs}`)
    })
  }

  async stop(): Promise<number | null> {
    const p = this.proc
    if (p === undefined || p.exitCode !== null) return p?.exitCode ?? null
    p.kill('SIGTERM')
    const t = setTimeout(() => p.kill('SIGKILL'), 20_000)
    await p.exited
    clearTimeout(t)
    return p.exitCode
  }
}

function followEnv(): Record<string, string> {
  return {
    HOME: home,
    IPFS_CLUSTER_PATH: '',
    CLUSTER_IPFSHTTP_NODEMULTIADDRESS: kuboF.apiMultiaddr,
    CLUSTER_RESTAPI_HTTPLISTENMULTIADDRESS: '',
    NOTIFY_SOCKET: rx.path
  }
}

function followCmd(args: string[], env: Record<string, string> = {}): ReturnType<typeof runBinary> {
  return runBinary(['follow', ...args], { env: { ...followEnv(), ...env } })
}

async function idOf(p: ClusterPeer): Promise<{ id: string; addresses: string[] }> {
  const r = await p.ctl(['--enc', 'json', 'id'])
  if (r.code !== 0) throw new Error(`id failed: ${r.stderr}`)
  return JSON.parse(r.stdout) as { id: string; addresses: string[] }
}

/** The trusted peer's service.json turned into a follower template (upstream's collaborative-cluster advice). */
async function makeTemplate(): Promise<string> {
  const cfg = (await trusted.readConfig()) as Record<string, Record<string, unknown>>
  const id = await idOf(trusted)
  const cluster = cfg.cluster as Record<string, unknown>
  cluster.peername = ''
  cluster.listen_multiaddress = ['/ip4/127.0.0.1/tcp/0']
  cluster.follower_mode = true
  cluster.peer_addresses = id.addresses.filter((a) => a.startsWith('/ip4/127.0.0.1/tcp/')).map((a) => (a.includes('/p2p/') ? a : `${a}/p2p/${id.id}`))
  ;(cfg.consensus as { crdt: Record<string, unknown> }).crdt.trusted_peers = [id.id]
  delete cfg.api
  ;(cfg.ipfs_connector as { ipfshttp: Record<string, unknown> }).ipfshttp.node_multiaddress = '/ip4/127.0.0.1/tcp/5001'
  return JSON.stringify(cfg, null, 2)
}

beforeAll(async () => {
  ;[kuboT, kuboF] = await Promise.all([startKubo(), startKubo()])
  trusted = await initPeer({ ipfsApi: kuboT.apiMultiaddr })
  await trusted.start()
  home = await mkdtemp(join(tmpdir(), 'follow-e2e-'))
  rx = notifyReceiver(`@ipfs-cluster-follow-e2e-${process.pid}`)
  templateText = await makeTemplate()
  server = Bun.serve({
    hostname: '127.0.0.1',
    port: 0,
    fetch(req) {
      if (new URL(req.url).pathname !== '/follower-template.json') return new Response('not found', { status: 404 })
      templateFetches++
      return new Response(templateText, { headers: { 'content-type': 'application/json' } })
    }
  })
  templateUrl = `http://127.0.0.1:${server.port}/follower-template.json`
}, 180_000)

afterAll(async () => {
  for (const f of followers) {
    await f.stop()
  }
  await server?.stop(true)
  rx?.close()
  await trusted?.destroy()
  await stopAllKubos()
  if (home !== undefined) await rm(home, { recursive: true, force: true })
})

describe('follow', () => {
  const f1 = new Follower('collab')
  followers.push(f1)
  let cid = ''

  test('no clusters configured yet', async () => {
    const r = await followCmd([])
    expect(r.code).toBe(0)
    expect(r.stdout).toContain('No clusters configured yet!')
  })

  test('one command joins: run --init <url> initializes, fetches the template, waits for IPFS and reports READY to systemd', async () => {
    await f1.run(['--init', templateUrl])
    expect(f1.logs).toContain('Identity written to')
    expect(f1.logs).toContain(`Starting the IPFS Cluster follower peer for "collab".`)
    expect(f1.logs).toContain('Checking if IPFS is online (will wait for 2 minutes)...')
    expect(templateFetches).toBeGreaterThanOrEqual(1)
    expect(JSON.parse(await readFile(join(f1.folder, 'service.json'), 'utf8'))).toEqual({ source: templateUrl })
    expect(existsSync(join(f1.folder, 'identity.json'))).toBe(true)
    expect(existsSync(join(f1.folder, 'api-socket'))).toBe(true)
    await rx.waitFor((s) => s.includes('READY=1'))
  })

  test('follow lists the cluster; info shows folder, source and that both peer and IPFS are online', async () => {
    const ls = await followCmd([])
    expect(ls.stdout).toContain('Configurations found for 1 follower peers.')
    expect(ls.stdout).toContain('ipfs-cluster-follow "collab"')
    const info = await followCmd(['collab', 'info'])
    expect(info.code).toBe(0)
    expect(info.stdout).toContain(`Config folder: ${f1.folder}`)
    expect(info.stdout).toContain(`Config source URL: Available (${templateUrl})`)
    expect(info.stdout).toContain('Cluster Peer online: true')
    expect(info.stdout).toContain('IPFS peer online: true')
  })

  test('the REST API is only the unix socket, and writes through it fail with the follower-mode message', async () => {
    const host = `/unix${join(f1.folder, 'api-socket')}`
    const id = await runBinary(['ctl', '--host', host, '--enc', 'json', 'id'])
    expect(id.code).toBe(0)
    const me = JSON.parse(id.stdout) as { id: string }
    expect(me.id).toBe(JSON.parse(await readFile(join(f1.folder, 'identity.json'), 'utf8')).id)
    // the follower does not answer on the default TCP API address
    const tcp = await runBinary(['ctl', '--host', '/ip4/127.0.0.1/tcp/9094', '--enc', 'json', 'id'], { timeoutMs: 10_000 })
    expect(tcp.code === 0 ? tcp.stdout : '').not.toContain(me.id)

    cid = await kuboF.ipfsOk(['add', '-Q', '--pin=false'], { input: `follow e2e ${Date.now()}` })
    await kuboT.ipfsOk(['add', '-Q', '--pin=false'], { input: await kuboF.ipfsOk(['cat', cid]) })
    const pin = await runBinary(['ctl', '--host', host, 'pin', 'add', cid])
    expect(pin.code).not.toBe(0)
    expect(`${pin.stdout}${pin.stderr}`).toContain('follower mode. Write operations are disabled')
    const unpin = await runBinary(['ctl', '--host', host, 'pin', 'rm', cid])
    expect(unpin.code).not.toBe(0)
    expect(`${unpin.stdout}${unpin.stderr}`).toContain('follower mode')
    // the follower did not pin it anywhere
    const trustedPins = await trusted.ctl(['pin', 'ls'])
    expect(trustedPins.stdout).not.toContain(cid)
  })

  test('Deno runs the CLI from source against the follower (follow info, ctl id over the socket)', async () => {
    const deno = join(import.meta.dir, '../../node_modules/deno/deno')
    expect(existsSync(deno)).toBe(true)
    const run = async (args: string[]): Promise<{ code: number; out: string }> => {
      const p = Bun.spawn([deno, 'run', '-A', 'src/main.ts', ...args], {
        cwd: join(import.meta.dir, '../..'),
        env: { ...process.env, ...followEnv(), NO_COLOR: '1', NOTIFY_SOCKET: '' },
        stdout: 'pipe',
        stderr: 'pipe'
      })
      const t = setTimeout(() => p.kill('SIGKILL'), 90_000)
      const [o, e, code] = await Promise.all([new Response(p.stdout).text(), new Response(p.stderr).text(), p.exited])
      clearTimeout(t)
      return { code, out: `${o}${e}` }
    }
    const info = await run(['follow', 'collab', 'info'])
    expect(info.out).toContain('Cluster Peer online: true')
    expect(info.code).toBe(0)
    const id = await run(['ctl', '--host', `/unix${join(f1.folder, 'api-socket')}`, 'id'])
    expect(id.code).toBe(0)
    expect(id.out).toContain(JSON.parse(await readFile(join(f1.folder, 'identity.json'), 'utf8')).id)
    const list = await run(['follow', 'collab', 'list'])
    expect(list.code).toBe(0)
  }, 120_000)

  test('list: offline from the datastore, online with statuses after a restart (run --init again skips init)', async () => {
    // the trusted peer pins; its Pin JSON is what "state export/import" carries
    const add = await trusted.ctl(['pin', 'add', '--name', 'hello-follower', cid])
    expect(add.code).toBe(0)
    const pinJson = await trusted.ctl(['--enc', 'json', 'pin', 'ls', cid])
    expect(pinJson.code).toBe(0)
    expect(await f1.stop()).toBe(0)
    expect(existsSync(join(f1.folder, 'api-socket'))).toBe(false)

    // seed the stopped follower's pinset (stands in for replication until the swarm lands)
    const file = join(home, 'pins.ndjson')
    await writeFile(file, `${pinJson.stdout.trim()}\n`)
    const imp = await runBinary(['service', '-c', f1.folder, 'state', 'import', '-f', file], { env: followEnv() })
    expect(imp.code).toBe(0)

    const offline = await followCmd(['collab', 'list'])
    expect(offline.code).toBe(0)
    expect(offline.stdout).toBe(`${'offline'.padEnd(20)} ${cid} hello-follower\n`)

    await f1.run(['--init', templateUrl])
    expect(f1.logs).toContain('Configuration for this cluster already exists. Skipping initialization.')
    const line = await waitFor(
      async () => {
        const r = await followCmd(['collab', 'list'])
        return r.stdout.startsWith('pinned') ? r.stdout : undefined
      },
      'the follower to pin the pinset',
      60_000
    )
    expect(line).toBe(`${'pinned'.padEnd(20)} ${cid} hello-follower\n`)
    const pins = await kuboF.ipfsOk(['pin', 'ls', '--type=recursive', '--quiet'])
    expect(pins).toContain(cid)
  })

  test('a template added with ctl add is read through the gateway (http://<gateway>/ipfs/<cid>)', async () => {
    await f1.stop()
    // as upstream's docs suggest: `ipfs-cluster-ctl add follower_service.json --name follower-config`
    const file = join(home, 'follower_service.json')
    await writeFile(file, templateText)
    const added = await trusted.ctl(['add', '-Q', '--name', 'follower-config', file])
    expect(added.code).toBe(0)
    const tcid = added.stdout.trim()
    expect(await kuboT.ipfsOk(['cat', tcid])).toBe(templateText)
    const f2 = new Follower('via-gateway')
    followers.push(f2)
    const url = `${kuboT.gatewayUrl}/ipfs/${tcid}`
    await f2.run(['--init', url])
    expect(JSON.parse(await readFile(join(f2.folder, 'service.json'), 'utf8'))).toEqual({ source: url })
    const info = await followCmd(['via-gateway', 'info'])
    expect(info.stdout).toContain(`Config source URL: Available (${url})`)
    expect(info.stdout).toContain('Cluster Peer online: true')
    expect(await f2.stop()).toBe(0)
  })

  test('multi-peer: the follower replicates the trusted peers\' pinset, keeps its own changes, catches up after a restart', multiPeerScenario, 300_000)
})

/**
 * Two trusted peers (`trusted_peers` = both), a template naming them in
 * `peer_addresses`; the follower joins with `run --init`, pins everything
 * pinned with replication -1 in its own kubo, its own (imported) pin never
 * reaches the trusted peers, and after a stop it catches up on new pins.
 */
async function multiPeerScenario(): Promise<void> {
  const secret = randomBytes(32).toString('hex')
  const fast = {
    CLUSTER_SECRET: secret,
    CLUSTER_MONITORPINGINTERVAL: '1s',
    CLUSTER_PEERWATCHINTERVAL: '1s',
    CLUSTER_PUBSUBMON_CHECKINTERVAL: '1s',
    CLUSTER_IPFSHTTP_CONNECTSWARMSDELAY: '1s',
    CLUSTER_CRDT_REBROADCASTINTERVAL: '2s',
    CLUSTER_MDNSINTERVAL: '0s'
  }
  const kuboT2 = await startKubo()
  const t1 = await initPeer({ ipfsApi: kuboT.apiMultiaddr, env: { ...fast, CLUSTER_PEERNAME: 't1' } })
  const t2 = await initPeer({ ipfsApi: kuboT2.apiMultiaddr, env: { ...fast, CLUSTER_PEERNAME: 't2' } })
  const idFile = async (p: ClusterPeer): Promise<string> => (JSON.parse(await readFile(join(p.folder, 'identity.json'), 'utf8')) as { id: string }).id
  const trustedIds = [await idFile(t1), await idFile(t2)]
  for (const p of [t1, t2]) p.env.CLUSTER_CRDT_TRUSTEDPEERS = trustedIds.join(',')
  const loopback = async (p: ClusterPeer): Promise<string> => {
    const id = await idOf(p)
    const a = id.addresses.find((x) => x.startsWith('/ip4/127.0.0.1/tcp/'))
    if (a === undefined) throw new Error(`no loopback address for ${id.id}`)
    return a.includes('/p2p/') ? a : `${a}/p2p/${id.id}`
  }
  const mp = new Follower('multi')
  let tpl: Server<undefined> | undefined
  try {
    await t1.start()
    await t2.start(['--bootstrap', await loopback(t1)])
    const cfg = (await t1.readConfig()) as Record<string, Record<string, unknown>>
    delete cfg.api
    Object.assign(cfg.cluster as Record<string, unknown>, {
      peername: '',
      secret,
      listen_multiaddress: ['/ip4/127.0.0.1/tcp/0'],
      follower_mode: true,
      peer_addresses: [await loopback(t1), await loopback(t2)]
    })
    ;(cfg.consensus as { crdt: Record<string, unknown> }).crdt.trusted_peers = trustedIds
    const text = JSON.stringify(cfg, null, 2)
    tpl = Bun.serve({ hostname: '127.0.0.1', port: 0, fetch: () => new Response(text) })
    const url = `http://127.0.0.1:${tpl.port}/template.json`
    const fenv = { CLUSTER_MONITORPINGINTERVAL: '1s', CLUSTER_CRDT_REBROADCASTINTERVAL: '2s', CLUSTER_IPFSHTTP_CONNECTSWARMSDELAY: '1s' }
    await mp.run(['--init', url], fenv)
    const swarm = kuboT.swarmAddrs[0]
    if (swarm !== undefined) await kuboF.ipfsOk(['swarm', 'connect', swarm])
    const kuboFHas = async (c: string): Promise<boolean> => (await kuboF.ipfs(['pin', 'ls', '--type=recursive', c])).stdout.includes(c)

    // replication -1 from a trusted peer reaches the follower's kubo
    const c1 = await kuboT.ipfsOk(['add', '-Q', '--pin=false'], { input: `mp one ${Date.now()}` })
    expect((await t1.ctl(['pin', 'add', '--replication', '-1', '--name', 'one', c1])).code).toBe(0)
    await waitFor(async () => kuboFHas(c1), 'the follower to pin c1', 90_000, 500)
    await waitFor(async () => (await followCmd(['multi', 'list'])).stdout.includes(`${'pinned'.padEnd(20)} ${c1} one`), 'list to show c1', 30_000)

    // a stopped follower catches up; its own change stays its own
    expect(await mp.stop()).toBe(0)
    const c2 = await kuboT.ipfsOk(['add', '-Q', '--pin=false'], { input: `mp two ${Date.now()}` })
    expect((await t2.ctl(['pin', 'add', '--replication', '-1', '--name', 'two', c2])).code).toBe(0)
    const own = await kuboF.ipfsOk(['add', '-Q', '--pin=false'], { input: `mp own ${Date.now()}` })
    const pinJson = (await t1.ctl(['--enc', 'json', 'pin', 'ls', c1])).stdout.trim().replaceAll(c1, own).replace('"one"', '"own"')
    const file = join(home, 'own.ndjson')
    await writeFile(file, `${pinJson}\n`)
    const imp = await runBinary(['service', '-c', mp.folder, 'state', 'import', '-f', file], { env: followEnv() })
    expect(imp.code).toBe(0)
    await mp.run([], fenv)
    const readyNs = Date.now() * 1e6
    await waitFor(async () => kuboFHas(c2), 'the restarted follower to catch up with c2', 90_000, 500)
    // Markers that must arrive, through the same paths, after what must not (`own`):
    // 1. a ping the follower sent after its first rebroadcast of its heads (which
    //    cover `own`; every 2 s ± 30 %, from its start), received by both trusted
    //    peers: the follower's gossipsub messages after that broadcast reached them;
    const followerId = (JSON.parse(await readFile(join(mp.folder, 'identity.json'), 'utf8')) as { id: string }).id
    const afterRebroadcastNs = readyNs + 2_600 * 1e6
    for (const t of [t1, t2]) {
      await waitFor(
        async () => {
          const r = await fetch(`${t.apiUrl}/monitor/metrics/ping`)
          const pings = (await r.json()) as Array<{ peer: string; received_at: number }>
          return pings.some((m) => m.peer === followerId && m.received_at > afterRebroadcastNs)
        },
        `a ping from the follower, sent after its rebroadcast, at ${t.folder}`,
        30_000,
        250
      )
    }
    // 2. then a pin by a trusted peer reaches the other trusted peer and the follower (a whole crdt round).
    const c3 = await kuboT.ipfsOk(['add', '-Q', '--pin=false'], { input: `mp three ${Date.now()}` })
    expect((await t1.ctl(['pin', 'add', '--replication', '-1', '--name', 'three', c3])).code).toBe(0)
    await waitFor(async () => (await t2.ctl(['pin', 'ls', c3])).stdout.includes(c3), 'the marker pin c3 at t2', 30_000, 250)
    await waitFor(async () => kuboFHas(c3), 'the follower to pin the marker c3', 90_000, 500)
    for (const t of [t1, t2]) expect((await t.ctl(['pin', 'ls'])).stdout).not.toContain(own)
  } finally {
    await mp.stop()
    await tpl?.stop(true)
    await t1.destroy()
    await t2.destroy()
    await kuboT2.destroy()
  }
}
