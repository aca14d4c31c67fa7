/**
 * ipfs-cluster-follow commands that need no running peer: paths, argument
 * parsing, listing configured clusters, init (DNSLink rule, refusal to
 * re-init), offline list of a never-run follower, info when nothing runs.
 */
import { afterAll, describe, expect, test } from 'bun:test'
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { follow, type FollowIO, FollowExit, parseFollowArgs } from '../../../src/cli/follow/index.ts'
import { followerConfig, waitForIpfs } from '../../../src/cli/follow/commands.ts'
import { apiAddress, baseFolder, formatPinLine, socketMultiaddr, templateUrl } from '../../../src/cli/follow/paths.ts'
import { parseServiceConfig } from '../../../src/config/index.ts'
import { setLogLevels, setLogReporters } from '../../../src/observability/logging.ts'

const dir = mkdtempSync(join(tmpdir(), 'follow-unit-'))
afterAll(() => {
  rmSync(dir, { recursive: true, force: true })
  // info/list silence the logs of this process: restore them for other test files
  setLogReporters(undefined)
  setLogLevels('info')
})

function io(env: Record<string, string> = {}): FollowIO & { out: string; err: string } {
  const o = {
    out: '',
    err: '',
    env: { HOME: dir, ...env },
    stdout(s: string) {
      o.out += s
    },
    stderr(s: string) {
      o.err += s
    }
  }
  return o
}

async function exitCode(p: Promise<unknown>): Promise<number> {
  try {
    await p
    return 0
  } catch (err) {
    if (err instanceof FollowExit) return err.code
    throw err
  }
}

describe('paths', () => {
  test('base folder: flag, then IPFS_CLUSTER_PATH, then ~/.ipfs-cluster-follow', () => {
    expect(baseFolder('/x/y', { IPFS_CLUSTER_PATH: '/z', HOME: '/h' })).toBe('/x/y')
    expect(baseFolder(undefined, { IPFS_CLUSTER_PATH: '/z', HOME: '/h' })).toBe('/z')
    expect(baseFolder(undefined, { HOME: '/h' })).toBe('/h/.ipfs-cluster-follow')
  })

  test('template URLs: http(s) as is, anything else is DNSLink through the gateway', () => {
    expect(templateUrl('https://example.org/t.json')).toBe('https://example.org/t.json')
    expect(templateUrl('http://127.0.0.1:8080/ipfs/bafy')).toBe('http://127.0.0.1:8080/ipfs/bafy')
    expect(templateUrl('my.domain.com')).toBe('http://127.0.0.1:8080/ipns/my.domain.com')
    expect(templateUrl('my.domain.com', '10.0.0.1:9090')).toBe('http://10.0.0.1:9090/ipns/my.domain.com')
    expect(templateUrl('my.domain.com', 'https://gw.example/')).toBe('https://gw.example/ipns/my.domain.com')
  })

  test('API address: the socket unless CLUSTER_RESTAPI_HTTPLISTENMULTIADDRESS', () => {
    expect(socketMultiaddr('/a/b')).toBe('/unix/a/b/api-socket')
    expect(apiAddress('/a/b', {})).toBe('/unix/a/b/api-socket')
    expect(apiAddress('/a/b', { CLUSTER_RESTAPI_HTTPLISTENMULTIADDRESS: '/ip4/127.0.0.1/tcp/1234' })).toBe('/ip4/127.0.0.1/tcp/1234')
  })

  test('list lines are %-20s %s %s as upstream', () => {
    expect(formatPinLine('pinned', 'bafyx', 'name')).toBe(`pinned${' '.repeat(14)} bafyx name\n`)
    expect(formatPinLine('pin_error', 'bafyx', 'n', 'boom')).toBe(`pin_error${' '.repeat(11)} bafyx n (boom)\n`)
  })

  test('argument parsing: global and subcommand flags, both forms', () => {
    expect(parseFollowArgs(['-c', '/f', 'c1', 'run', '--init=http://x'])).toMatchObject({ config: '/f', positionals: ['c1', 'run'], init: 'http://x' })
    expect(parseFollowArgs(['c1', 'run', '--init', 'http://x'])).toMatchObject({ positionals: ['c1', 'run'], init: 'http://x' })
    expect(() => parseFollowArgs(['--bogus'])).toThrow('flag provided but not defined')
  })
})

describe('commands', () => {
  test('no clusters yet: the first-start text', async () => {
    const o = io()
    await follow([], o)
    expect(o.out).toContain('No clusters configured yet!')
  })

  test('init writes identity.json and {"source": url}; a second init fails; the cluster is listed', async () => {
    const o = io({ IPFS_GATEWAY: '127.0.0.1:18080' })
    await follow(['c1', 'init', 'collab.example.org'], o)
    expect(o.out).toContain('will be assumed to be an DNSLink-powered address: /ipns/collab.example.org')
    expect(o.out).toContain('Cluster "c1" follower peer initialized.')
    const folder = join(dir, '.ipfs-cluster-follow', 'c1')
    expect(JSON.parse(readFileSync(join(folder, 'service.json'), 'utf8'))).toEqual({ source: 'http://127.0.0.1:18080/ipns/collab.example.org' })
    const id = JSON.parse(readFileSync(join(folder, 'identity.json'), 'utf8')) as { id: string; private_key: string }
    expect(id.id).toMatch(/^12D3KooW/)

    const again = io()
    expect(await exitCode(follow(['c1', 'init', 'http://127.0.0.1:1/t.json'], again))).toBe(1)
    expect(again.err).toContain('Configuration for this cluster already exists.')
    expect(again.err).toContain(`Please delete ${folder} if you wish to re-initialize.`)

    const ls = io()
    await follow([], ls)
    expect(ls.out).toContain('Configurations found for 1 follower peers.')
    expect(ls.out).toContain('ipfs-cluster-follow "c1"')
  })

  test('init without a URL and commands on unknown clusters fail as upstream', async () => {
    const o = io()
    const e = follow(['c2', 'init'], o)
    await expect(e).rejects.toThrow('configuration URL not provided')
    const l = io()
    expect(await exitCode(follow(['nope', 'list'], l))).toBe(1)
    expect(l.out).toContain('This cluster peer has not been initialized.')
    expect(l.out).toContain('Try running "ipfs-cluster-follow nope init <config-url>" first.')
  })

  test('list of a follower that never ran prints nothing; info says what is offline', async () => {
    const env = { CLUSTER_IPFSHTTP_NODEMULTIADDRESS: '/ip4/127.0.0.1/tcp/1' }
    const l = io(env)
    await follow(['c1', 'list'], l)
    expect(l.out).toBe('')
    const i = io(env)
    await follow(['c1', 'info'], i)
    expect(i.out).toContain('Information about follower peer for Cluster "c1":')
    expect(i.out).toContain(`Config folder: ${join(dir, '.ipfs-cluster-follow', 'c1')}`)
    expect(i.out).toContain('Config source URL: failed retrieving configuration source (http://127.0.0.1:18080/ipns/collab.example.org)')
    expect(i.out).toContain('Cluster Peer online: false')
    expect(i.out).toContain('IPFS peer online: false')
    expect(existsSync(join(dir, '.ipfs-cluster-follow', 'c1', 'sqlite'))).toBe(false)
  })

  test('followerConfig: follower mode, REST API only on the socket, no proxy/pinsvc, no metrics', () => {
    const cfg = parseServiceConfig(
      {
        cluster: { secret: '0'.repeat(64), follower_mode: false },
        api: { restapi: { http_listen_multiaddress: '/ip4/0.0.0.0/tcp/9094' }, ipfsproxy: {}, pinsvcapi: {} },
        observations: { metrics: { enable_stats: true } }
      },
      { folder: join(dir, 'fc') }
    )
    followerConfig(cfg, {})
    expect(cfg.cluster.followerMode).toBe(true)
    expect(cfg.api.restapi?.httpListenMultiaddress).toEqual([`/unix${join(dir, 'fc')}/api-socket`])
    expect(cfg.api.ipfsproxy).toBeNull()
    expect(cfg.api.pinsvcapi).toBeNull()
    expect(cfg.observations.metrics.enableStats).toBe(false)
    const tcp = followerConfig(parseServiceConfig({ cluster: { secret: '0'.repeat(64) } }, { folder: join(dir, 'fc') }), {
      CLUSTER_RESTAPI_HTTPLISTENMULTIADDRESS: '/ip4/127.0.0.1/tcp/4321'
    })
    expect(tcp.api.restapi?.httpListenMultiaddress).toEqual(['/ip4/127.0.0.1/tcp/4321'])
  })

  test('help texts', async () => {
    const o = io()
    await follow(['--help'], o)
    expect(o.out).toContain('ipfs-cluster-follow runs follower peers of collaborative IPFS clusters.')
    const r = io()
    await follow(['c1', 'run', '--help'], r)
    expect(r.out).toContain('--init value  set up the follower from this URL first, if not done yet')
  })
})

describe('waiting for IPFS', () => {
  test('gives up at the deadline with upstream\'s message, printing where it waits', async () => {
    const o = io({ CLUSTER_IPFSHTTP_NODEMULTIADDRESS: '/ip4/127.0.0.1/tcp/1' })
    const err = await waitForIpfs(o, join(dir, 'w1'), 300).catch((e: unknown) => e)
    expect(err).toBeInstanceOf(FollowExit)
    expect((err as FollowExit).message).toBe('timed out waiting for IPFS to be available')
    expect(o.out).toContain('waiting for IPFS to become available on /ip4/127.0.0.1/tcp/1...')
  })

  test('returns once IPFS answers id (after failed tries)', async () => {
    let calls = 0
    const srv = Bun.serve({
      hostname: '127.0.0.1',
      port: 0,
      fetch(req) {
        if (!new URL(req.url).pathname.endsWith('/api/v0/id')) return new Response('no', { status: 404 })
        calls++
        if (calls < 2) return new Response(JSON.stringify({ Message: 'not yet', Code: 0 }), { status: 500 })
        return Response.json({ ID: '12D3KooWGRUVh8sEjdhT8ScmFWHXiBoJGB4UeBB5sbMkNkDkFDVq', Addresses: [] })
      }
    })
    try {
      const o = io({ CLUSTER_IPFSHTTP_NODEMULTIADDRESS: `/ip4/127.0.0.1/tcp/${srv.port}` })
      await waitForIpfs(o, join(dir, 'w2'), 20_000)
      expect(calls).toBe(2)
    } finally {
      await srv.stop(true)
    }
  })
})
