/**
 * The IPFS proxy app with `app.request()`: a stub cluster (../stub.ts), a
 * stub adder destination, and a stub IPFS daemon (`fetchNode`) that
 * records what is relayed to it.
 */
import { beforeEach, describe, expect, test } from 'bun:test'
import { CID } from 'multiformats/cid'
import type { AdderComponents } from '../../../../src/adder/adder.ts'
import { encodeMultipart, type UploadEntry } from '../../../../src/adder/multipart.ts'
import type { BlockSink } from '../../../../src/adder/sink.ts'
import { createIpfsProxyApp, hijackedCommand, type IpfsProxyComponents, type IpfsProxyInit } from '../../../../src/api/ipfsproxy/app.ts'
import { SERVER_HEADER } from '../../../../src/api/ipfsproxy/headers.ts'
import { streamTrailers } from '../../../../src/api/rest/stream.ts'
import { NotFoundError } from '../../../../src/errors.ts'
import type { IPFSRepoStat, PinOptions } from '../../../../src/types/index.ts'
import { defaultPinOptions } from '../../../../src/types/index.ts'
import { makeCid, PEER, PEER2, type StubCluster, stubCluster } from '../stub.ts'

/** `echo hello | ipfs add`. */
const HELLO = 'QmZULkCELmmk5XNfCgTnCyFgAVxBRBXyDHGGMVoLFLiXEN'

interface NodeCall {
  path: string
  method: string
  headers: Headers
  body: string
}

let cluster: StubCluster
let nodeCalls: NodeCall[]
let nodeHandler: (call: NodeCall) => Response
let blocks: string[]
let adderPins: { cid: string; opts: PinOptions }[]
let repoStats: Record<string, IPFSRepoStat | Error>
let repoStatArgs: boolean[]

function defaultNode(call: NodeCall): Response {
  if (call.path.startsWith('/api/v0/version')) {
    return new Response('{"Version":"0.42.0"}\n', {
      headers: {
        'Content-Type': 'application/json',
        Server: 'kubo/0.42.0',
        'Access-Control-Expose-Headers': 'X-Stream-Output, X-Chunked-Output, X-Content-Length',
        'X-Custom': `v${nodeCalls.filter((c) => c.path.startsWith('/api/v0/version')).length}`
      }
    })
  }
  if (call.method === 'OPTIONS') {
    const origin = call.headers.get('origin')
    const h = new Headers({ Vary: 'Origin' })
    if (origin === 'http://allowed.example') h.set('Access-Control-Allow-Origin', origin)
    return new Response(null, { status: 200, headers: h })
  }
  return new Response('404 page not found', { status: 404, headers: { 'Content-Type': 'text/plain; charset=utf-8' } })
}

function init(over: Partial<IpfsProxyInit> = {}): IpfsProxyInit {
  return { basicAuthCredentials: null, extractHeadersPath: '/api/v0/version', extractHeadersExtra: ['X-Custom'], extractHeadersTtlMs: 300_000, ...over }
}

function components(): IpfsProxyComponents {
  const adder: AdderComponents = {
    localPeer: PEER,
    ipfs: { blockStream: async () => {} },
    allocate: async () => [PEER2],
    blockSinks: (): BlockSink => ({
      put: async (b) => {
        blocks.push(b.cid.toString())
      },
      close: async () => {},
      abort: () => {}
    }),
    pin: async (cid, opts) => {
      adderPins.push({ cid: cid.toString(), opts })
      return { ...opts, cid, type: 'pin', maxDepth: -1, reference: null, timestamp: new Date() }
    }
  }
  return {
    cluster,
    adder,
    localPeer: PEER,
    resolve: async (path) => CID.parse(path.split('/')[2]!),
    peers: async () => Object.keys(repoStats),
    repoStat: async (peer, { sizeOnly }) => {
      repoStatArgs.push(sizeOnly)
      const r = repoStats[peer]
      if (r === undefined || r instanceof Error) throw r ?? new Error('no such peer')
      return r
    },
    fetchNode: async (pathAndQuery, reqInit) => {
      const body = reqInit.body instanceof ReadableStream ? await new Response(reqInit.body).text() : typeof reqInit.body === 'string' ? reqInit.body : ''
      const call = { path: pathAndQuery, method: reqInit.method ?? 'GET', headers: new Headers(reqInit.headers), body }
      nodeCalls.push(call)
      return nodeHandler(call)
    }
  }
}

let app: ReturnType<typeof createIpfsProxyApp>

beforeEach(() => {
  cluster = stubCluster()
  nodeCalls = []
  nodeHandler = defaultNode
  blocks = []
  adderPins = []
  repoStats = {}
  repoStatArgs = []
  app = createIpfsProxyApp(init(), components())
})

function post(path: string, initReq: RequestInit = {}): Promise<Response> {
  return Promise.resolve(app.request(path, { method: 'POST', ...initReq }))
}

async function kuboErr(res: Response): Promise<{ Message: string; Code: number; Type: string }> {
  expect(res.headers.get('Content-Type')).toBe('application/json')
  const j = (await res.json()) as { Message: string; Code: number; Type: string }
  expect(j.Type).toBe('error')
  expect(typeof j.Message).toBe('string')
  return j
}

async function lines(res: Response): Promise<unknown[]> {
  return (await res.text())
    .split('\n')
    .filter((l) => l !== '')
    .map((l) => JSON.parse(l))
}

function multipart(entries: UploadEntry[]): { body: ReadableStream<Uint8Array>; headers: Record<string, string> } {
  const { body, contentType } = encodeMultipart(entries)
  return { body, headers: { 'Content-Type': contentType } }
}

async function* text(s: string): AsyncGenerator<Uint8Array> {
  yield new TextEncoder().encode(s)
}

describe('routing', () => {
  test('hijacked commands, both URL forms, only POST/GET/PUT', () => {
    const u = (p: string): URL => new URL(`http://x${p}`)
    expect(hijackedCommand('POST', u('/api/v0/pin/add?arg=a&arg=b'))).toEqual({ command: 'pin/add', args: ['a', 'b'] })
    expect(hijackedCommand('GET', u('/api/v0/pin/rm/QmX'))).toEqual({ command: 'pin/rm', args: ['QmX'] })
    expect(hijackedCommand('PUT', u('/api/v0/pin/ls/%2Fipfs%2FQmX'))).toEqual({ command: 'pin/ls', args: ['/ipfs/QmX'] })
    expect(hijackedCommand('POST', u('/api/v0/repo/stat'))).toEqual({ command: 'repo/stat', args: [] })
    // no slash form for these
    expect(hijackedCommand('POST', u('/api/v0/pin/update/QmX'))).toBeNull()
    expect(hijackedCommand('POST', u('/api/v0/add/x'))).toBeNull()
    expect(hijackedCommand('OPTIONS', u('/api/v0/pin/add'))).toBeNull()
    expect(hijackedCommand('HEAD', u('/api/v0/pin/add'))).toBeNull()
    expect(hijackedCommand('POST', u('/api/v0/pin/verify'))).toBeNull()
    expect(hijackedCommand('POST', u('/api/v0/cat'))).toBeNull()
  })
})

describe('pin/add', () => {
  test('?arg= form: recursive pin through pinPath, kubo shape and headers', async () => {
    const c = await makeCid('a')
    const res = await post(`/api/v0/pin/add?arg=${c}&recursive=true`)
    expect(res.status).toBe(200)
    expect(res.headers.get('Server')).toBe(SERVER_HEADER)
    expect(res.headers.get('Content-Type')).toBe('application/json')
    expect(res.headers.get('Access-Control-Expose-Headers')).toBe('X-Stream-Output, X-Chunked-Output, X-Content-Length')
    expect(res.headers.get('X-Custom')).toBe('v1')
    const expected = await makeCid(`/ipfs/${c}`)
    expect(await res.json()).toEqual({ Pins: [expected.toString()] })
    const call = cluster.calls.find((x) => x.method === 'pinPath')!
    expect(call.args[0]).toBe(`/ipfs/${c}`)
    expect((call.args[1] as PinOptions).mode).toBe('recursive')
  })

  test('slash form and a path argument', async () => {
    const res = await post('/api/v0/pin/add/%2Fipns%2Fexample.com')
    expect(res.status).toBe(200)
    expect(await res.json()).toEqual({ Pins: [(await makeCid('/ipns/example.com')).toString()] })
  })

  test('several args are all pinned; recursive=false and type=direct pin direct; name is kept', async () => {
    const res = await post('/api/v0/pin/add?arg=A&arg=B&recursive=false&name=foo')
    expect(res.status).toBe(200)
    const pins = (await res.json()) as { Pins: string[] }
    expect(pins.Pins).toEqual([(await makeCid('/ipfs/A')).toString(), (await makeCid('/ipfs/B')).toString()])
    const calls = cluster.calls.filter((x) => x.method === 'pinPath')
    expect(calls.map((x) => (x.args[1] as PinOptions).mode)).toEqual(['direct', 'direct'])
    expect(calls.map((x) => (x.args[1] as PinOptions).name)).toEqual(['foo', 'foo'])
    await post('/api/v0/pin/add?arg=C&type=direct')
    expect((cluster.calls.at(-1)!.args[1] as PinOptions).mode).toBe('direct')
  })

  test('errors: no arg → 400 Code 1, cluster failure → 500 Code 0, bad flag → 400', async () => {
    let res = await post('/api/v0/pin/add')
    expect(res.status).toBe(400)
    expect(await kuboErr(res)).toEqual({ Message: 'argument "ipfs-path" is required', Code: 1, Type: 'error' })
    cluster.pinPath = async () => {
      throw new Error('boom')
    }
    res = await post('/api/v0/pin/add?arg=x')
    expect(res.status).toBe(500)
    expect(await kuboErr(res)).toEqual({ Message: 'boom', Code: 0, Type: 'error' })
    res = await post('/api/v0/pin/add?arg=x&recursive=maybe')
    expect(res.status).toBe(400)
    expect((await kuboErr(res)).Message).toContain('recursive')
  })
})

describe('pin/rm', () => {
  test('both forms and several args', async () => {
    let res = await post('/api/v0/pin/rm?arg=A&arg=B')
    expect(res.status).toBe(200)
    expect(await res.json()).toEqual({ Pins: [(await makeCid('/ipfs/A')).toString(), (await makeCid('/ipfs/B')).toString()] })
    res = await post('/api/v0/pin/rm/C')
    expect(await res.json()).toEqual({ Pins: [(await makeCid('/ipfs/C')).toString()] })
    expect(cluster.calls.filter((x) => x.method === 'unpinPath').map((x) => x.args[0])).toEqual(['/ipfs/A', '/ipfs/B', '/ipfs/C'])
  })

  test('not in the pinset → kubo error', async () => {
    cluster.unpinPath = async () => {
      throw new NotFoundError('QmX is not pinned in the cluster')
    }
    const res = await post('/api/v0/pin/rm?arg=QmX')
    expect(res.status).toBe(500)
    expect((await kuboErr(res)).Message).toBe('QmX is not pinned in the cluster')
    expect((await kuboErr(await post('/api/v0/pin/rm'))).Code).toBe(1)
  })
})

describe('pin/update', () => {
  test('argument checks', async () => {
    let res = await post('/api/v0/pin/update')
    expect(res.status).toBe(400)
    expect((await kuboErr(res)).Message).toBe('argument "from-path" is required')
    res = await post('/api/v0/pin/update?arg=A')
    expect(res.status).toBe(400)
    expect((await kuboErr(res)).Message).toBe('argument "to-path" is required')
  })

  test('pins "to" as an update of "from", then unpins "from" (unless unpin=false)', async () => {
    const from = await makeCid('from')
    const to = await makeCid('to')
    await cluster.pin(from, defaultPinOptions())
    const res = await post(`/api/v0/pin/update?arg=${from}&arg=/ipfs/${to}&unpin=true`)
    expect(res.status).toBe(200)
    const newCid = await makeCid(`/ipfs/${to}`)
    expect(await res.json()).toEqual({ Pins: [from.toString(), newCid.toString()] })
    const call = cluster.calls.find((x) => x.method === 'pinPath')!
    expect((call.args[1] as PinOptions).pinUpdate?.toString()).toBe(from.toString())
    expect(cluster.pinset.has(from.toString())).toBe(false)

    const from2 = await makeCid('from2')
    await cluster.pin(from2, defaultPinOptions())
    expect((await post(`/api/v0/pin/update?arg=${from2}&arg=${to}&unpin=false`)).status).toBe(200)
    expect(cluster.pinset.has(from2.toString())).toBe(true)
  })

  test('a failing unpin of "from" is a kubo error', async () => {
    const from = await makeCid('absent')
    const res = await post(`/api/v0/pin/update?arg=${from}&arg=${await makeCid('x')}`)
    expect(res.status).toBe(500)
    await kuboErr(res)
  })
})

describe('pin/ls', () => {
  beforeEach(async () => {
    await cluster.pin(await makeCid('r'), { ...defaultPinOptions(), name: 'rec' })
    await cluster.pin(await makeCid('d'), { ...defaultPinOptions(), mode: 'direct' })
  })

  test('no arg: one {"Keys"} object with each pin mode', async () => {
    const res = await post('/api/v0/pin/ls?type=all')
    expect(res.status).toBe(200)
    expect(res.headers.get('X-Chunked-Output')).toBeNull()
    expect(await res.json()).toEqual({
      Keys: { [(await makeCid('r')).toString()]: { Type: 'recursive' }, [(await makeCid('d')).toString()]: { Type: 'direct' } }
    })
  })

  test('stream=true: one line per pin, X-Chunked-Output, empty trailer', async () => {
    const res = await post('/api/v0/pin/ls?stream=true&names=true')
    expect(res.headers.get('X-Chunked-Output')).toBe('1')
    expect(res.headers.get('Trailer')).toBe('X-Stream-Error')
    expect(await lines(res)).toEqual([
      { Cid: (await makeCid('r')).toString(), Type: 'recursive', Name: 'rec' },
      { Cid: (await makeCid('d')).toString(), Type: 'direct', Name: '' }
    ])
    expect(streamTrailers(res)).toEqual([['X-Stream-Error', '']])
  })

  test('type filter', async () => {
    expect(await (await post('/api/v0/pin/ls?type=direct')).json()).toEqual({ Keys: { [(await makeCid('d')).toString()]: { Type: 'direct' } } })
    expect(await (await post('/api/v0/pin/ls?type=indirect')).json()).toEqual({ Keys: {} })
    expect((await post('/api/v0/pin/ls?type=bogus')).status).toBe(400)
  })

  test('name filter (kubo 0.42): a case-sensitive part of the name, implies names', async () => {
    const r = (await makeCid('r')).toString()
    expect(await (await post('/api/v0/pin/ls?name=ec')).json()).toEqual({ Keys: { [r]: { Type: 'recursive', Name: 'rec' } } })
    expect(await (await post('/api/v0/pin/ls?name=EC')).json()).toEqual({ Keys: {} })
    expect(await lines(await post('/api/v0/pin/ls?stream=true&name=rec'))).toEqual([{ Cid: r, Type: 'recursive', Name: 'rec' }])
    const refused = await post('/api/v0/pin/ls?name=rec&names=false')
    expect(refused.status).toBe(400)
    expect(((await refused.json()) as { Message: string }).Message).toContain('name filter')
  })

  test('args: CIDs and /ipfs/ paths, both forms, several; not pinned → error', async () => {
    const r = (await makeCid('r')).toString()
    const d = (await makeCid('d')).toString()
    expect(await (await post(`/api/v0/pin/ls?arg=${r}&arg=/ipfs/${d}`)).json()).toEqual({ Keys: { [r]: { Type: 'recursive' }, [d]: { Type: 'direct' } } })
    expect(await lines(await post(`/api/v0/pin/ls/${d}?stream=true`))).toEqual([{ Cid: d, Type: 'direct' }])
    const absent = (await makeCid('absent')).toString()
    const res = await post(`/api/v0/pin/ls?arg=${absent}`)
    expect(res.status).toBe(400)
    expect((await kuboErr(res)).Message).toBe(`path '${absent}' is not pinned`)
    expect((await kuboErr(await post('/api/v0/pin/ls?arg=garbage'))).Message).toContain('garbage')
    expect((await kuboErr(await post(`/api/v0/pin/ls?arg=${r}&type=direct`))).Message).toContain('is not pinned as direct')
  })

  test('a pinset failing mid-stream ends up in the trailer', async () => {
    cluster.failStream = 'after'
    const res = await post('/api/v0/pin/ls?stream=true')
    expect((await lines(res)).length).toBe(1)
    expect(streamTrailers(res)).toEqual([['X-Stream-Error', 'broken pipe in state']])
  })
})

describe('repo/stat', () => {
  test('sums every field over the peers, path and version of the local one', async () => {
    repoStats = {
      [PEER2]: { repoSize: 5, storageMax: 100, numObjects: 2, repoPath: '/remote', version: 'fs-repo@17' },
      [PEER]: { repoSize: 10, storageMax: 1000, numObjects: 3, repoPath: '/local', version: 'fs-repo@18' }
    }
    const res = await post('/api/v0/repo/stat')
    expect(res.status).toBe(200)
    expect(res.headers.get('Server')).toBe(SERVER_HEADER)
    expect(await res.json()).toEqual({ RepoSize: 15, StorageMax: 1100, NumObjects: 5, RepoPath: '/local', Version: 'fs-repo@18' })
    expect(repoStatArgs).toEqual([false, false])
  })

  test('size-only is passed on; a failing peer is skipped; all failing is an error', async () => {
    repoStats = { [PEER]: { repoSize: 10, storageMax: 1000 }, [PEER2]: new Error('unreachable') }
    const res = await post('/api/v0/repo/stat?size-only=true')
    expect(await res.json()).toEqual({ RepoSize: 10, StorageMax: 1000, NumObjects: 0, RepoPath: '', Version: '' })
    expect(repoStatArgs).toEqual([true, true])
    repoStats = { [PEER2]: new Error('unreachable') }
    const bad = await post('/api/v0/repo/stat')
    expect(bad.status).toBe(500)
    expect((await kuboErr(bad)).Message).toBe('unreachable')
  })
})

describe('repo/gc', () => {
  beforeEach(async () => {
    const k1 = await makeCid('k1')
    cluster.repoGC = async () => ({
      peerMap: {
        [PEER]: { peer: PEER, peername: 'p0', keys: [{ key: k1, error: '' }, { key: null, error: 'block busy' }], error: '' },
        [PEER2]: { peer: PEER2, peername: 'p1', keys: [], error: 'ipfs down' }
      }
    })
  })

  test('keys as kubo streams them; errors in the trailer', async () => {
    const res = await post('/api/v0/repo/gc')
    expect(res.status).toBe(200)
    expect(res.headers.get('Trailer')).toBe('X-Stream-Error')
    expect(await lines(res)).toEqual([{ Key: { '/': (await makeCid('k1')).toString() } }])
    expect(streamTrailers(res)).toEqual([['X-Stream-Error', 'block busy; p1: ipfs down']])
  })

  test('stream-errors=true: errors inline', async () => {
    const res = await post('/api/v0/repo/gc?stream-errors=true')
    expect(await lines(res)).toEqual([
      { Key: { '/': (await makeCid('k1')).toString() } },
      { Key: null, Error: 'block busy' },
      { Key: null, Error: 'p1: ipfs down' }
    ])
    expect(streamTrailers(res)).toEqual([['X-Stream-Error', '']])
  })
})

describe('block/put and dag/put', () => {
  test('block/put?pin=true: kubo stores without pinning, the cluster pins every block', async () => {
    const k1 = (await makeCid('b1')).toString()
    const k2 = (await makeCid('b2')).toString()
    nodeHandler = (call) =>
      call.path.startsWith('/api/v0/block/put')
        ? new Response(`{"Key":"${k1}","Size":2}\n{"Key":"${k2}","Size":2}\n`, { headers: { 'Content-Type': 'application/json', 'X-Chunked-Output': '1' } })
        : defaultNode(call)
    const res = await post('/api/v0/block/put?cid-codec=raw&pin=true', { body: 'the upload' })
    expect(res.status).toBe(200)
    expect(await lines(res)).toEqual([
      { Key: k1, Size: 2 },
      { Key: k2, Size: 2 }
    ])
    expect(streamTrailers(res)).toEqual([['X-Stream-Error', '']])
    const put = nodeCalls.find((c) => c.path.startsWith('/api/v0/block/put'))!
    expect(new URL(`http://x${put.path}`).searchParams.get('pin')).toBe('false')
    expect(new URL(`http://x${put.path}`).searchParams.get('cid-codec')).toBe('raw')
    expect(put.body).toBe('the upload')
    expect([...cluster.pinset.keys()]).toEqual([k1, k2])
  })

  test('block/put without pin is relayed as is; a kubo error is relayed', async () => {
    nodeHandler = (call) => new Response(`{"Message":"bad","Code":0,"Type":"error"}`, { status: 500, headers: { 'X-Seen': call.path } })
    let res = await post('/api/v0/block/put?pin=false', { body: 'x' })
    expect(res.status).toBe(500)
    expect(res.headers.get('X-Seen')).toBe('/api/v0/block/put?pin=false')
    res = await post('/api/v0/block/put?pin=true', { body: 'x' })
    expect(res.status).toBe(500)
    expect(await res.text()).toContain('bad')
    expect(cluster.pinset.size).toBe(0)
  })

  test('dag/put?pin=true pins each {"Cid":{"/":…}}; a failing pin goes in the trailer', async () => {
    const c = (await makeCid('dag')).toString()
    nodeHandler = (call) => (call.path.startsWith('/api/v0/dag/put') ? new Response(`{"Cid":{"/":"${c}"}}\n`) : defaultNode(call))
    let res = await post('/api/v0/dag/put?pin=true', { body: '{"a":1}' })
    expect(await lines(res)).toEqual([{ Cid: { '/': c } }])
    expect(cluster.pinset.has(c)).toBe(true)
    expect(nodeCalls.find((x) => x.path.startsWith('/api/v0/dag/put'))!.path).toContain('pin=false')
    cluster.pin = async () => {
      throw new Error('follower mode')
    }
    res = await post('/api/v0/dag/put?pin=true', { body: '{"a":1}' })
    expect(await lines(res)).toEqual([{ Cid: { '/': c } }])
    expect(streamTrailers(res)).toEqual([['X-Stream-Error', 'follower mode']])
  })
})

describe('add', () => {
  test('a file: kubo AddEvent lines, blocks to the allocated peers, pinned by the adder', async () => {
    const { body, headers } = multipart([{ kind: 'file', path: 'hello.txt', content: () => text('hello\n') }])
    const res = await post('/api/v0/add?encoding=json&pin=true&progress=false&stream-channels=true&inline-limit=32', { body, headers })
    expect(res.status).toBe(200)
    expect(res.headers.get('X-Chunked-Output')).toBe('1')
    expect(await lines(res)).toEqual([{ Name: 'hello.txt', Hash: HELLO, Size: '14' }])
    expect(streamTrailers(res)).toEqual([['X-Stream-Error', '']])
    expect(blocks).toEqual([HELLO])
    expect(adderPins.map((p) => p.cid)).toEqual([HELLO])
  })

  test('stdin (a part without a name) is named by its CID; pin=false does not pin; pin-name names', async () => {
    let { body, headers } = multipart([{ kind: 'file', path: '', content: () => text('hello\n') }])
    let res = await post('/api/v0/add?pin=false', { body, headers })
    expect(await lines(res)).toEqual([{ Name: HELLO, Hash: HELLO, Size: '14' }])
    expect(adderPins).toEqual([])
    ;({ body, headers } = multipart([{ kind: 'file', path: 'f', content: () => text('hello\n') }]))
    res = await post('/api/v0/add?pin-name=mine', { body, headers })
    await res.text()
    expect(adderPins.map((p) => p.opts.name)).toEqual(['mine'])
  })

  test('only-hash computes the CIDs and stores and pins nothing', async () => {
    const { body, headers } = multipart([{ kind: 'file', path: 'hello.txt', content: () => text('hello\n') }])
    const res = await post('/api/v0/add?only-hash=true&pin=true', { body, headers })
    expect(await lines(res)).toEqual([{ Name: 'hello.txt', Hash: HELLO, Size: '14' }])
    expect(blocks).toEqual([])
    expect(adderPins).toEqual([])
  })

  test('a folder, progress lines, trickle and stream-channels=false', async () => {
    const entries = (): UploadEntry[] => [
      { kind: 'dir', path: 'd' },
      { kind: 'file', path: 'd/a', content: () => text('a') }
    ]
    let { body, headers } = multipart(entries())
    let res = await post('/api/v0/add?progress=true&recursive=true', { body, headers })
    const out = (await lines(res)) as { Name: string; Hash?: string; Bytes?: number }[]
    expect(out[0]).toEqual({ Name: 'd/a', Bytes: 1 })
    expect(out.slice(1).map((o) => o.Name)).toEqual(['d/a', 'd'])
    ;({ body, headers } = multipart(entries()))
    res = await post('/api/v0/add?stream-channels=false&trickle=true', { body, headers })
    const arr = (await res.json()) as { Name: string }[]
    expect(arr.map((o) => o.Name)).toEqual(['d/a', 'd'])
  })

  test('errors: not multipart, options the cluster cannot honour', async () => {
    let res = await post('/api/v0/add', { body: 'x', headers: { 'Content-Type': 'application/octet-stream' } })
    expect(res.status).toBe(400)
    expect((await kuboErr(res)).Message).toContain('multipart/form-data')
    for (const q of ['inline=true', 'preserve-mtime=true', 'to-files=/x', 'nocopy=true']) {
      const { body, headers } = multipart([{ kind: 'file', path: 'f', content: () => text('x') }])
      res = await post(`/api/v0/add?${q}`, { body, headers })
      expect(res.status).toBe(400)
      await kuboErr(res)
    }
    expect(adderPins).toEqual([])
  })
})

describe('pass-through', () => {
  test('method, path, query, body and end-to-end headers reach kubo; its answer comes back as is', async () => {
    nodeHandler = (call) =>
      new Response(`echo:${call.body}`, { status: 201, headers: { 'X-Stream-Output': '1', Connection: 'keep-alive', 'Keep-Alive': 'timeout=5' } })
    const res = await post('/api/v0/cat?arg=QmX&offset=2', {
      body: 'payload',
      headers: { 'X-Client': 'yes', Connection: 'close', 'Accept-Encoding': 'gzip', Authorization: 'Bearer kubo-token' }
    })
    expect(res.status).toBe(201)
    expect(await res.text()).toBe('echo:payload')
    expect(res.headers.get('X-Stream-Output')).toBe('1')
    expect(res.headers.get('Keep-Alive')).toBeNull()
    const call = nodeCalls[0]!
    expect(call.method).toBe('POST')
    expect(call.path).toBe('/api/v0/cat?arg=QmX&offset=2')
    expect(call.headers.get('X-Client')).toBe('yes')
    expect(call.headers.get('Connection')).toBeNull()
    expect(call.headers.get('Accept-Encoding')).toBeNull()
    // without proxy auth the client's Authorization is kubo's business
    expect(call.headers.get('Authorization')).toBe('Bearer kubo-token')
  })

  test("kubo's 404 is relayed; OPTIONS and HEAD of a hijacked path go to kubo", async () => {
    const res = await post('/api/v0/nonexistent')
    expect(res.status).toBe(404)
    expect(await res.text()).toBe('404 page not found')
    await app.request('/api/v0/pin/add', { method: 'OPTIONS', headers: { Origin: 'http://allowed.example', 'Access-Control-Request-Method': 'POST' } })
    await app.request('/api/v0/pin/ls', { method: 'HEAD' })
    expect(nodeCalls.map((c) => `${c.method} ${c.path}`)).toEqual(['POST /api/v0/nonexistent', 'OPTIONS /api/v0/pin/add', 'HEAD /api/v0/pin/ls'])
    expect(cluster.calls).toEqual([])
  })

  test('an unreachable kubo gives 502 in the kubo error shape', async () => {
    nodeHandler = () => {
      throw new TypeError('connection refused')
    }
    const res = await post('/api/v0/id')
    expect(res.status).toBe(502)
    expect((await kuboErr(res)).Message).toContain('connection refused')
  })

  test('a long body streams through without being read whole first', async () => {
    let pulled = 0
    const total = 64
    const src = new ReadableStream<Uint8Array>({
      pull(ctrl) {
        if (pulled === total) return ctrl.close()
        pulled++
        ctrl.enqueue(new Uint8Array(1024 * 1024))
      }
    })
    const c = components()
    let seenAtCall = -1
    c.fetchNode = async (_p, reqInit) => {
      seenAtCall = pulled
      // the stream is handed over, not a buffer
      expect(reqInit.body).toBeInstanceOf(ReadableStream)
      let n = 0
      for await (const chunk of reqInit.body as ReadableStream<Uint8Array>) n += chunk.length
      return new Response(String(n))
    }
    const a = createIpfsProxyApp(init(), c)
    const res = await a.request('/api/v0/block/put', { method: 'POST', body: src, duplex: 'half' } as RequestInit)
    expect(await res.text()).toBe(String(total * 1024 * 1024))
    expect(seenAtCall).toBeLessThan(total)
  })
})

describe('headers', () => {
  test('extracted headers are cached for the TTL, re-extracted after it; TTL 0 = once', async () => {
    let now = 0
    app = createIpfsProxyApp(init({ extractHeadersTtlMs: 1000 }), components())
    const versionCalls = (): number => nodeCalls.filter((c) => c.path === '/api/v0/version').length
    const custom = async (): Promise<string | null> => (await post('/api/v0/repo/gc')).headers.get('X-Custom')
    cluster.repoGC = async () => ({ peerMap: {} })
    // the app's extractor has its own clock: advance it through Date.now
    const realNow = Date.now
    Date.now = () => now
    try {
      expect(await custom()).toBe('v1')
      now = 500
      expect(await custom()).toBe('v1')
      now = 1500
      expect(await custom()).toBe('v2')
      expect(versionCalls()).toBe(2)
      app = createIpfsProxyApp(init({ extractHeadersTtlMs: 0 }), components())
      now = 10_000_000
      await custom()
      now = 20_000_000
      await custom()
      expect(versionCalls()).toBe(3)
    } finally {
      Date.now = realNow
    }
  })

  test("CORS headers are kubo's answer for the request's Origin", async () => {
    cluster.repoGC = async () => ({ peerMap: {} })
    let res = await post('/api/v0/repo/gc', { headers: { Origin: 'http://allowed.example' } })
    expect(res.headers.get('Access-Control-Allow-Origin')).toBe('http://allowed.example')
    expect(res.headers.get('Vary')).toBe('Origin')
    const opt = nodeCalls.find((c) => c.method === 'OPTIONS')!
    expect(opt.headers.get('Access-Control-Request-Method')).toBe('POST')
    res = await post('/api/v0/repo/gc', { headers: { Origin: 'http://evil.example' } })
    expect(res.headers.get('Access-Control-Allow-Origin')).toBeNull()
  })
})

describe('auth (the REST API credentials)', () => {
  beforeEach(() => {
    app = createIpfsProxyApp(init({ basicAuthCredentials: { user: 'pw' } }), components())
  })

  test('no or wrong credentials: 401 in the kubo error shape, for hijacked and relayed commands', async () => {
    for (const path of ['/api/v0/pin/ls', '/api/v0/version']) {
      const res = await post(path)
      expect(res.status).toBe(401)
      expect(res.headers.get('WWW-Authenticate')).toContain('Basic realm=')
      expect(await kuboErr(res)).toEqual({ Message: 'unauthorized: no auth provided', Code: 0, Type: 'error' })
    }
    const res = await post('/api/v0/pin/ls', { headers: { Authorization: `Basic ${btoa('user:wrong')}` } })
    expect(res.status).toBe(401)
    expect((await kuboErr(res)).Message).toBe('unauthorized: access denied')
    // nothing was relayed
    expect(nodeCalls).toEqual([])
  })

  test('right credentials pass; they are not relayed to kubo; OPTIONS needs none', async () => {
    const auth = { Authorization: `Basic ${btoa('user:pw')}` }
    expect((await post('/api/v0/pin/ls', { headers: auth })).status).toBe(200)
    const res = await post('/api/v0/version?encoding=json', { headers: auth })
    expect(res.status).toBe(200)
    const relayed = nodeCalls.find((c) => c.path === '/api/v0/version?encoding=json')!
    expect(relayed.headers.get('Authorization')).toBeNull()
    expect((await app.request('/api/v0/pin/add', { method: 'OPTIONS' })).status).toBe(200)
    expect(nodeCalls.at(-1)!.method).toBe('OPTIONS')
  })
})
