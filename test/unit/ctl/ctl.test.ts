import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { main } from '../../../src/cli/ctl/index.ts'
import { setLogReporters } from '../../../src/observability/logging.ts'
import { CID1, CID2, FAILING, MISSING, PEER1, PEER2, type Stub, startStub } from './stub-server.ts'

let stub: Stub

beforeAll(async () => {
  setLogReporters([])
  stub = await startStub()
})
afterAll(async () => {
  setLogReporters(undefined)
  await stub.close()
})

interface Result {
  code: number
  stdout: string
  stderr: string
}

async function ctl(args: string[], env: Record<string, string> = {}): Promise<Result> {
  let stdout = ''
  let stderr = ''
  const code = await main(['--host', stub.url, ...args], {
    stdout: (s) => {
      stdout += s
    },
    stderr: (s) => {
      stderr += s
    },
    env,
    statusDelayMs: 0,
    waitCheckFreqMs: 5
  })
  return { code, stdout, stderr }
}

const PIN_LINE_1 = `${CID1} | one | PIN | Repl. Factor: 1--1 | Allocations: [${PEER1}] | Recursive | Metadata: no | Exp: ∞ | Added: 2024-03-04 05:06:07\n`

function gpiBlock(cid: string, status: string, error = ''): string {
  return `${cid} | n:\n    > peer1                : ${status}${error !== '' ? `: ${error}` : ''} | 2024-03-04T05:06:07Z | Attempts: 1 | Priority: false\n`
}

describe('ctl output (text)', () => {
  test('id', async () => {
    const r = await ctl(['id'])
    expect(r.code).toBe(0)
    expect(r.stdout).toBe(
      `${PEER1} | peer1 | Sees 1 other peers\n  > Addresses:\n    - /ip4/127.0.0.1/tcp/9096/p2p/${PEER1}\n  > IPFS: QmIpfs\n    - /ip4/127.0.0.1/tcp/4001\n`
    )
  })

  test('version asks the server; --version prints the client version', async () => {
    expect((await ctl(['version'])).stdout).toBe('1.1.6\n')
    const v = await ctl(['--version'])
    expect(v.stdout).toMatch(/^ipfs-cluster-ctl version \S+\n$/)
    expect(stub.seen.at(-1)).toBe('GET /version')
  })

  test('peers ls streams every peer', async () => {
    const r = await ctl(['peers', 'ls'])
    expect(r.code).toBe(0)
    expect(r.stdout.split('\n').filter((l) => l.includes('Sees'))).toEqual([
      `${PEER1} | peer1 | Sees 1 other peers`,
      `${PEER2} | peer2 | Sees 1 other peers`
    ])
  })

  test('peers rm validates the peer ID', async () => {
    expect((await ctl(['peers', 'rm', PEER2])).code).toBe(0)
    expect(stub.seen.at(-1)).toBe(`DELETE /peers/${PEER2}`)
    const bad = await ctl(['peers', 'rm', 'nope'])
    expect(bad.code).toBe(1)
    expect(bad.stderr).toStartWith('error parsing peer ID: ')
  })

  test('pin ls and pin ls <cid>', async () => {
    const r = await ctl(['pin', 'ls'])
    expect(r.stdout.startsWith(PIN_LINE_1)).toBe(true)
    expect(r.stdout.split('\n').length).toBe(3)
    const f = await ctl(['pin', 'ls', '--filter', 'meta-pin'])
    expect(f.code).toBe(0)
    expect(f.stdout).toBe('')
    expect(stub.seen.at(-1)).toBe('GET /allocations?filter=meta-pin')
    const one = await ctl(['pin', 'ls', CID1])
    expect(one.stdout).toBe(
      `${CID1} |  | PIN | Repl. Factor: 1--1 | Allocations: [${PEER1}] | Recursive | Metadata: no | Exp: ∞ | Added: 2024-03-04 05:06:07\n`
    )
  })

  test('API error prints the error and exits 2', async () => {
    const r = await ctl(['pin', 'ls', MISSING])
    expect(r.code).toBe(2)
    expect(r.stdout).toBe('An error occurred:\n  Code: 404\n  Message: pin is not part of the pinset\n')
    const s = await ctl(['status', MISSING])
    expect(s.code).toBe(2)
  })

  test('bad CID exits 1 with checkErr text', async () => {
    const r = await ctl(['status', 'notacid'])
    expect(r.code).toBe(1)
    expect(r.stderr).toStartWith('error parsing cid: ')
  })

  test('status: one, several, all (stream error after items), filter', async () => {
    stub.polls.set(CID1, 10)
    const one = await ctl(['status', CID1])
    expect(one.stdout).toBe(gpiBlock(CID1, 'PINNED'))
    const two = await ctl(['status', '--local', CID1, CID2])
    expect(two.stdout).toBe(gpiBlock(CID1, 'PINNED') + gpiBlock(CID2, 'PINNED'))
    expect(stub.seen.at(-1)).toBe(`GET /pins?local=true&filter=&cids=${CID1},${CID2}`)
    const all = await ctl(['status'])
    expect(all.code).toBe(2)
    expect(all.stdout).toBe(
      `${gpiBlock(CID1, 'PINNED')}An error occurred:\n  Code: 500\n  Message: peer2: connection lost\n`
    )
    const f = await ctl(['status', '--filter', 'pin_error'])
    expect(f.stdout).toBe(gpiBlock(FAILING, 'PIN_ERROR', 'boom'))
    const bad = await ctl(['status', '--filter', 'nope'])
    expect(bad.code).toBe(1)
    expect(bad.stderr).toBe('error parsing filter flag: invalid filter name\n')
  })

  test('pin add prints the status afterwards; --ns prints the pin', async () => {
    stub.polls.set(CID1, 10)
    const r = await ctl(['pin', 'add', CID1, '--name', 'x', '-r', '2', '--metadata', 'a=b', '--metadata', 'c=d'])
    expect(r.code).toBe(0)
    expect(r.stdout).toBe(gpiBlock(CID1, 'PINNED'))
    const post = stub.seen.find((s) => s.startsWith(`POST /pins/ipfs/${CID1}?`))!
    const q = new URLSearchParams(post.slice(post.indexOf('?') + 1))
    expect(q.get('name')).toBe('x')
    expect(q.get('replication-min')).toBe('2')
    expect(q.get('replication-max')).toBe('2')
    expect(q.get('meta-a')).toBe('b')
    expect(q.get('meta-c')).toBe('d')
    const ns = await ctl(['pin', 'add', '--ns', '--mode', 'direct', '-n', 'y', CID2])
    expect(ns.stdout).toBe(
      `${CID2} | y | PIN-DIRECT | Repl. Factor: 0--0 | Allocations: [${PEER1}] | Direct | Metadata: no | Exp: ∞ | Added: 2024-03-04 05:06:07\n`
    )
    const long = await ctl(['pin', 'add', '--no-status', '-rmin', '1', '-rmax=3', CID2])
    expect(long.stdout).toContain('Repl. Factor: 1--3')
  })

  test('pin add --expire-in and bad values', async () => {
    const r = await ctl(['pin', 'add', '--ns', '--expire-in', '1h', CID2])
    expect(r.stdout).toMatch(/\| Exp: \d{4}-\d\d-\d\d \d\d:\d\d:\d\d \|/)
    const bad = await ctl(['pin', 'add', '--expire-in', 'soon', CID2])
    expect(bad.code).toBe(1)
    expect(bad.stderr).toStartWith('error parsing expire-in: ')
    const md = await ctl(['pin', 'add', '--metadata', 'novalue', CID2])
    expect(md.code).toBe(1)
    expect(md.stderr).toBe('error parsing metadata: metadata were not in the format key=value\n')
    const alloc = await ctl(['pin', 'add', '--allocs', 'x,y', CID2])
    expect(alloc.stderr).toBe('error decoding allocations: some peer IDs could not be decoded\n')
    const api = await ctl(['pin', 'add', MISSING])
    expect(api.code).toBe(2)
    expect(api.stdout).toContain('Message: not enough peers to allocate CID')
    const usage = await ctl(['pin', 'add', '--bogus', CID2])
    expect(usage.code).toBe(1)
    expect(usage.stderr).toContain('flag provided but not defined: -bogus')
  })

  test('pin add --wait polls until pinned', async () => {
    stub.polls.set(CID1, 0)
    const r = await ctl(['pin', 'add', '-w', CID1])
    expect(r.code).toBe(0)
    expect(r.stdout).toBe(gpiBlock(CID1, 'PINNED'))
    expect(stub.polls.get(CID1)).toBe(3)
  })

  test('pin add --wait timeout exits 62', async () => {
    const r = await ctl(['pin', 'add', '-w', '--wt', '50ms', CID2])
    expect(r.code).toBe(62)
    expect(r.stderr).toBe('error waiting for pin status: context deadline exceeded\n')
  })

  test('pin rm and pin update', async () => {
    const rm = await ctl(['pin', 'rm', '--ns', CID2])
    expect(rm.code).toBe(0)
    expect(stub.seen.at(-1)).toBe(`DELETE /pins/ipfs/${CID2}`)
    expect(rm.stdout).toStartWith(`${CID2} |  | PIN |`)
    const missing = await ctl(['pin', 'rm', MISSING])
    expect(missing.code).toBe(2)
    const up = await ctl(['pin', 'update', '--ns', '-n', 'new', CID1, CID2])
    expect(up.code).toBe(0)
    const post = stub.seen.at(-1)!
    expect(post).toStartWith(`POST /pins/ipfs/${CID2}?`)
    expect(new URLSearchParams(post.slice(post.indexOf('?') + 1)).get('pin-update')).toBe(CID1)
    expect(up.stdout).toStartWith(`${CID2} | new | PIN |`)
  })

  test('recover, ipfs gc, health', async () => {
    expect((await ctl(['recover', CID1])).stdout).toBe(gpiBlock(CID1, 'PINNED'))
    expect((await ctl(['recover', '--local'])).stdout).toBe(gpiBlock(CID1, 'PINNED') + gpiBlock(CID2, 'PINNED'))
    expect(stub.seen.at(-1)).toBe('POST /pins/recover?local=true')
    expect((await ctl(['ipfs', 'gc'])).stdout).toBe(`peer1          \n  > CIDs:\n    - ${CID1}\n`)
    expect((await ctl(['health', 'metrics'])).stdout).toBe('freespace\nping\n')
    expect((await ctl(['health', 'metrics', 'freespace'])).stdout).toBe(
      `${PEER1} | freespace: 2.0 kB | Expires in: 59 minutes from now\n`
    )
    expect((await ctl(['health', 'alerts'])).stdout).toMatch(
      new RegExp(`^${PEER1}: ping\\. Expired at: a long while ago\\. Triggered at: 1 hour ago\\n$`)
    )
    expect((await ctl(['health', 'bandwidth'])).stdout).toBe(
      '           /ipfs/id/1.0.0: In:  1.5 kB. Out:    20 B. RateIn: 1.00B/s. RateOut: 0.00B/s\n'
    )
    const g = await ctl(['health', 'graph'])
    expect(g.stdout).toStartWith('digraph cluster {\n')
    expect(g.stdout).toEndWith('}')
    const dir = mkdtempSync(join(tmpdir(), 'ctl-graph-'))
    try {
      const file = join(dir, 'g.dot')
      expect((await ctl(['health', 'graph', '-f', file])).stdout).toBe('')
      expect(readFileSync(file, 'utf8')).toBe(g.stdout)
    } finally {
      rmSync(dir, { recursive: true, force: true })
    }
  })
})

describe('ctl output (json)', () => {
  test('objects indented by 4 spaces, streams as consecutive objects', async () => {
    const r = await ctl(['--enc', 'json', 'pin', 'ls'])
    expect(r.code).toBe(0)
    const objs = r.stdout.split('\n}\n').filter((s) => s.trim() !== '')
    expect(objs.length).toBe(2)
    expect(r.stdout).toStartWith('{\n    "replication_factor_min": 1,\n')
    expect(JSON.parse(`${objs[0]}\n}`).cid).toBe(CID1)
    const e = await ctl(['--enc=json', 'status', MISSING])
    expect(e.code).toBe(2)
    expect(e.stdout).toBe('{\n    "code": 404,\n    "message": "pin is not part of the pinset"\n}\n')
    const names = await ctl(['--enc', 'json', 'health', 'metrics'])
    expect(JSON.parse(names.stdout)).toEqual(['freespace', 'ping'])
    const v = await ctl(['--enc', 'json', 'version'])
    expect(v.stdout).toBe('{\n    "version": "1.1.6"\n}\n')
  })

  test('unsupported encoding', async () => {
    const r = await ctl(['--enc', 'xml', 'id'])
    expect(r.code).toBe(1)
    expect(r.stderr).toBe('error : unsupported encoding\n')
  })
})

describe('ctl globals, help and exit codes', () => {
  test('basic auth from flag or CLUSTER_CREDENTIALS; implies https unless --force-http', async () => {
    expect((await ctl(['--basic-auth', 'u:p', '-f', 'version'])).code).toBe(0)
    expect(stub.auth.at(-1)).toBe(`Basic ${btoa('u:p')}`)
    expect((await ctl(['--force-http', 'version'], { CLUSTER_CREDENTIALS: 'env:pw' })).code).toBe(0)
    expect(stub.auth.at(-1)).toBe(`Basic ${btoa('env:pw')}`)
    const tls = await ctl(['--basic-auth', 'u:p', 'version'])
    expect(tls.stderr).toContain('SSL automatically enabled')
    expect(tls.code).toBe(1)
    expect(tls.stdout).toContain('Code: 0')
  })

  test('failover host list', async () => {
    const r = await main(['--host', `/ip4/127.0.0.1/tcp/1,${stub.url}`, 'version'], {
      stdout: () => {},
      stderr: () => {},
      env: {}
    })
    expect(r).toBe(0)
  })

  test('help texts', async () => {
    const app = await ctl(['--help'])
    expect(app.code).toBe(0)
    expect(app.stdout).toStartWith('NAME:\n   ipfs-cluster-ctl - command-line client of IPFS Cluster\n')
    expect(app.stdout).toContain('--host value, -l value')
    expect(app.stdout).toContain('[$CLUSTER_CREDENTIALS]')
    const pinAdd = await ctl(['pin', 'add', '--help'])
    expect(pinAdd.stdout).toStartWith('NAME:\n   ipfs-cluster-ctl pin add - Add a CID or IPFS path to the cluster pinset\n\nUSAGE:\n   ipfs-cluster-ctl pin add [command options] <CID|Path>\n')
    expect(pinAdd.stdout).toContain('--no-status, --ns')
    expect((await ctl(['help', 'status'])).stdout).toContain('  - unexpectedly_unpinned')
    const group = await ctl(['health'])
    expect(group.code).toBe(0)
    expect(group.stdout).toContain('COMMANDS:\n     graph')
    const unknown = await ctl(['nope'])
    expect(unknown.code).toBe(3)
    expect(unknown.stderr).toBe("No help topic for 'nope'\n")
  })

  test('hidden commands lists every command, each with a help text', async () => {
    const r = await ctl(['commands'])
    const names = r.stdout.trim().split('\n')
    expect(names).toContain('ipfs-cluster-ctl pin update')
    expect(names.at(-1)).toBe('ipfs-cluster-ctl help')
    for (const n of names.filter((x) => !x.endsWith(' commands') && !x.endsWith(' help'))) {
      const h = await ctl([...n.split(' ').slice(1), '--help'])
      expect(h.code).toBe(0)
      expect(h.stdout).toStartWith(`NAME:\n   ${n} - `)
    }
  })

})
