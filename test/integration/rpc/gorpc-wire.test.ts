/**
 * Our RPC server against the exact bytes a go-libp2p-gorpc v0.6.0 client
 * sends, answering the bytes a Go server answers (go-interop-probes
 * wire_main.go -> wire_output.txt), and against malformed input.
 */
import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import type { Libp2p, Stream } from '@libp2p/interface'
import { byteStream } from '@libp2p/utils'
import { fromGo, GO_ID, GO_PININFO, toGo } from '../../../src/rpc/gotypes.ts'
import { DEFAULT_RPC_POLICY } from '../../../src/rpc/policy.ts'
import { createRpc, type Rpc } from '../../../src/rpc/rpc.ts'
import { goDecode } from '../../../src/rpc/msgpack.ts'
import { RPC_PROTOCOL } from '../../../src/version.ts'
import type { ID } from '../../../src/types/index.ts'
import { testNode as node } from './node.ts'

const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex')
const bytes = (h: string): Uint8Array => new Uint8Array(Buffer.from(h, 'hex'))
const svc = (method: string): string => hex(new Uint8Array([0x82, 0xa4, ...Buffer.from('Name'), 0xa7, ...Buffer.from('Cluster'), 0xa6, ...Buffer.from('Method'), 0xa0 + method.length, ...Buffer.from(method)]))
const responseOk = (method: string): string => `81a753657276696365${svc(method)}`

describe('gorpc wire: our server answers a Go client byte for byte', () => {
  let server: Libp2p
  let client: Libp2p
  let rpc: Rpc
  let serverIdBytes: string

  beforeAll(async () => {
    ;[server, client] = await Promise.all([node(), node()])
    await client.peerStore.merge(server.peerId, { multiaddrs: server.getMultiaddrs() })
    serverIdBytes = hex(server.peerId.toMultihash().bytes)
    rpc = createRpc(
      { peerId: server.peerId.toString(), policy: { ...DEFAULT_RPC_POLICY, 'Cluster.Secret': 'closed', 'Cluster.Slow': 'open', 'Cluster.Fail': 'open', 'PinTracker.StatusAll': 'open' } },
      { libp2p: server, isTrusted: () => false }
    )
    const id = (): unknown => toGo(GO_ID, { id: server.peerId.toString(), version: '1.1.6', peername: 'srv' })
    rpc.register('Cluster', 'ID', id)
    rpc.register('Cluster', 'IDStream', async function* () {
      yield toGo(GO_ID, { id: server.peerId.toString(), peername: 'srv' })
    })
    rpc.register('Cluster', 'Secret', () => 'x')
    rpc.register('Cluster', 'Fail', () => {
      throw new Error('it failed')
    })
    rpc.register('Cluster', 'Slow', (_a, ctx) => new Promise((_, reject) => ctx.signal.addEventListener('abort', () => reject(ctx.signal.reason))))
    // streaming in upstream's table under another name: the Go probe's StreamFail is a PinTracker.StatusAll look-alike
    rpc.register('PinTracker', 'StatusAll', async function* (args) {
      for await (const st of args as AsyncIterable<unknown>) {
        yield toGo(GO_PININFO, { cid: null, pinInfo: { status: st === 16 ? 'pinned' : 'undefined' } })
        break
      }
      throw new Error('stream broke')
    })
    await rpc.start()
  })

  afterAll(async () => {
    await rpc.stop()
    await Promise.all([server.stop(), client.stop()])
  })

  /** Sends `req` on a new stream, optionally half-closes, and reads everything until the server closes. */
  async function exchange(req: string, closeWrite: boolean): Promise<string> {
    const stream: Stream = await client.dialProtocol(server.peerId, RPC_PROTOCOL)
    const bs = byteStream(stream)
    await bs.write(bytes(req))
    if (closeWrite) await stream.close()
    const chunks: Uint8Array[] = []
    for (;;) {
      const c = await bs.read({ signal: AbortSignal.timeout(5000) })
      if (c === null) break
      chunks.push(c.subarray())
    }
    if (!closeWrite) await stream.close()
    return hex(Buffer.concat(chunks))
  }

  test('unary Cluster.ID: Response{Service} then api.ID', async () => {
    const got = await exchange(`${svc('ID')}80`, false)
    expect(got).toBe(`${responseOk('ID')}83a169da0026${serverIdBytes}a176a5312e312e36a2706ea3737276`)
    expect(fromGo<ID>(GO_ID, goDecode(bytes(got.slice(responseOk('ID').length))))).toMatchObject({ id: server.peerId.toString(), version: '1.1.6' })
  })

  test('unary call whose caller half-closes: context canceled, as a Go server answers', async () => {
    const got = await exchange(`${svc('Slow')}80`, true)
    expect(got).toBe(`82a753657276696365${svc('Slow')}a54572726f72b0636f6e746578742063616e63656c6564c0`)
  })

  test('method error: Response{Service, Error} then nil (ErrType 0 omitted)', async () => {
    const got = await exchange(`${svc('Fail')}80`, false)
    expect(got.startsWith(`82a753657276696365${svc('Fail')}a54572726f72a96974206661696c6564`)).toBe(true)
    // ours also names the class (Go ignores the unknown key) only for our known classes: here none
    expect(got.endsWith('c0')).toBe(true)
  })

  test('authorization refused: ErrType 3 with upstream text, the exact Go bytes', async () => {
    const got = await exchange(`${svc('Secret')}80`, false)
    expect(got).toBe(
      '83a75365727669636582a44e616d65a7436c7573746572a64d6574686f64a6536563726574a54572726f72da0037636c69656e7420646f6573206e6f742068617665207065726d697373696f6e7320746f2063616c6c20436c75737465722e536563726574a74572725479706503c0'
    )
  })

  test('unknown method: ErrType 1, the exact Go bytes', async () => {
    const got = await exchange(`${svc('Nope')}80`, false)
    expect(got).toBe(
      '83a75365727669636582a44e616d65a7436c7573746572a64d6574686f64a44e6f7065a54572726f72bb7270633a2063616e27742066696e64206d6574686f64204e6f7065a74572725479706501c0'
    )
  })

  test('streaming IDStream with no arguments and a half-close: one item, then the end', async () => {
    const got = await exchange(svc('IDStream'), true)
    expect(got).toBe(`${responseOk('IDStream')}82a169da0026${serverIdBytes}a2706ea3737276`)
  })

  test('streaming with one TrackerStatus argument that fails after an item: the item, then Response{Error} and nil', async () => {
    const header = hex(new Uint8Array([0x82, 0xa4, ...Buffer.from('Name'), 0xaa, ...Buffer.from('PinTracker'), 0xa6, ...Buffer.from('Method'), 0xa9, ...Buffer.from('StatusAll')]))
    const got = await exchange(`${header}10`, true)
    expect(got).toBe(`81a753657276696365${header}82a163c0a2737410` + `82a753657276696365${header}a54572726f72ac73747265616d2062726f6b65c0`)
  })

  test('malformed and oversized requests reset the stream; the server keeps answering', async () => {
    const bad = [
      'c1', // never-used msgpack byte
      'ffff', // not a ServiceID map
      '82a44e616d65', // truncated, then EOF
      `${svc('ID')}db7fffffff`, // a 2 GiB string announced as the argument
      'dd7fffffff' // a 2^31-entry array
    ]
    for (const req of bad) {
      const got = await exchange(req, true).catch((e: unknown) => `error: ${(e as Error).message}`)
      expect(got.startsWith(responseOk('ID'))).toBe(false)
    }
    let seed = 1
    for (let i = 0; i < 50; i++) {
      const junk = new Uint8Array(1 + (i % 40))
      for (let j = 0; j < junk.length; j++) {
        seed = (seed * 1103515245 + 12345) % 2 ** 31
        junk[j] = seed & 0xff
      }
      await exchange(hex(junk), true).catch(() => '')
    }
    expect(await exchange(`${svc('ID')}80`, false)).toBe(`${responseOk('ID')}83a169da0026${serverIdBytes}a176a5312e312e36a2706ea3737276`)
  }, 60_000)
})
