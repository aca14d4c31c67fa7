import { afterAll, describe, expect, test } from 'bun:test'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { generateKeyPair } from '@libp2p/crypto/keys'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import all from 'it-all'
import { CID } from 'multiformats/cid'
import { type DatastoreBackend, openDatastore } from '../../../src/datastore/index.ts'
import { DsState, cidToKeyString, exportState, importState, keyStringToCid, pinFromProtobuf, pinToProtobuf } from '../../../src/state/index.ts'
import { defaultPinOptions, type Pin, pinWithOpts } from '../../../src/types/index.ts'

const dirs: string[] = []
afterAll(async () => {
  for (const d of dirs) await rm(d, { recursive: true, force: true })
})

const CID0 = CID.parse('QmXZrtE5jQwXNqCJMfHUTQkvhQ4ZAnqMnmzFMJfLewuabc')
const CID1 = CID.parse('bafybeigdyrzt5sfp7udm7hu76uh7y26nf3efuylqabf3oclgtqy55fbzdi')

async function peerId(): Promise<string> {
  return peerIdFromPrivateKey(await generateKeyPair('Ed25519')).toString()
}

function fullPin(peers: string[]): Pin {
  return {
    ...pinWithOpts(CID1, {
      ...defaultPinOptions(),
      name: 'my pin',
      replicationFactorMin: 2,
      replicationFactorMax: 3,
      shardSize: 1024,
      metadata: { b: '2', a: '1' },
      expireAt: new Date('2030-01-02T03:04:05Z'),
      pinUpdate: CID0,
      origins: [`/ip4/127.0.0.1/tcp/4001/p2p/${peers[0]}`]
    }),
    allocations: peers,
    reference: CID0,
    timestamp: new Date('2024-05-06T07:08:09Z')
  }
}

function varint(n: number): number[] {
  const out: number[] = []
  while (n >= 0x80) {
    out.push((n & 0x7f) | 0x80)
    n = Math.floor(n / 128)
  }
  out.push(n)
  return out
}
const field = (tag: number, bytes: Uint8Array | number[]): number[] => [tag, ...varint(bytes.length), ...bytes]
const str = (s: string): number[] => [...new TextEncoder().encode(s)]

describe('protobuf codec', () => {
  test('round trip keeps every stored field', async () => {
    const peers = [await peerId(), await peerId()]
    const pin = fullPin(peers)
    const back = pinFromProtobuf(pinToProtobuf(pin))
    expect(back.cid.equals(pin.cid)).toBe(true)
    expect(back.allocations).toEqual(peers)
    expect(back.name).toBe('my pin')
    expect(back.replicationFactorMin).toBe(2)
    expect(back.replicationFactorMax).toBe(3)
    expect(back.shardSize).toBe(1024)
    expect(back.metadata).toEqual({ a: '1', b: '2' })
    expect(back.expireAt?.toISOString()).toBe('2030-01-02T03:04:05.000Z')
    expect(back.timestamp.toISOString()).toBe('2024-05-06T07:08:09.000Z')
    expect(back.pinUpdate?.equals(CID0)).toBe(true)
    expect(back.reference?.equals(CID0)).toBe(true)
    expect(back.origins).toEqual(pin.origins)
    expect(back.mode).toBe('recursive')
    expect(back.maxDepth).toBe(-1)
    expect(back.type).toBe('pin')
  })

  test('direct pins, types and unset fields', () => {
    const p: Pin = { ...pinWithOpts(CID0, { ...defaultPinOptions(), mode: 'direct' }), type: 'meta-pin', timestamp: new Date(0) }
    const back = pinFromProtobuf(pinToProtobuf(p))
    expect(back.mode).toBe('direct')
    expect(back.maxDepth).toBe(0)
    expect(back.type).toBe('meta-pin')
    expect(back.expireAt).toBeNull()
    expect(back.reference).toBeNull()
    expect(back.pinUpdate).toBeNull()
    expect(back.timestamp.getUTCFullYear()).toBe(1)
    expect(back.metadata).toEqual({})
  })

  test('bytes equal upstream ProtoMarshal layout', () => {
    const p: Pin = {
      ...pinWithOpts(CID0, { ...defaultPinOptions(), name: 'n', replicationFactorMin: 2, replicationFactorMax: -1, metadata: { z: 'last', a: 'first' } }),
      timestamp: new Date(1700000000 * 1000 + 999)
    }
    const opts = [
      ...[0x08, 4], // ReplicationFactorMin sint32 2
      ...[0x10, 1], // ReplicationFactorMax sint32 -1
      ...field(0x1a, str('n')),
      ...field(0x52, [...field(0x0a, str('a')), ...field(0x12, str('first'))]),
      ...field(0x52, [...field(0x0a, str('z')), ...field(0x12, str('last'))])
    ]
    const expected = [
      ...field(0x0a, CID0.bytes), // Cid
      ...[0x10, 1], // Type DataType
      ...[0x20, 1], // MaxDepth sint32 -1
      ...field(0x32, opts), // Options
      ...[0x38, ...varint(1700000000)] // Timestamp, seconds
    ]
    expect([...pinToProtobuf(p)]).toEqual(expected)
  })

  test('peer IDs repeated across many pins decode and encode the same every time; bad ones keep failing', async () => {
    const peers = [await peerId(), await peerId(), await peerId()]
    for (let i = 0; i < 5000; i++) {
      const allocs = [peers[i % 3]!, peers[(i + 1) % 3]!]
      const bytes = pinToProtobuf({ ...fullPin(allocs), name: `p${i}` })
      const back = pinFromProtobuf(bytes)
      expect(back.allocations).toEqual(allocs)
    }
    // the encoded allocation is the multihash of the peer ID, cached or not
    const { peerIdFromString } = await import('@libp2p/peer-id')
    const once = pinToProtobuf(fullPin([peers[0]!]))
    const mh = peerIdFromString(peers[0]!).toMultihash().bytes
    expect(Buffer.from(once).includes(Buffer.from(mh))).toBe(true)
    for (let i = 0; i < 2; i++) {
      expect(() => pinToProtobuf(fullPin(['not-a-peer-id']))).toThrow('invalid peer ID')
      const bad = new Uint8Array([...field(0x0a, CID0.bytes), ...[0x10, 1], ...field(0x1a, [0x12, 0x02, 0x01])])
      expect(() => pinFromProtobuf(bad)).toThrow('invalid peer ID bytes')
    }
  })
})

test('state keys as upstream dshelp', () => {
  expect(cidToKeyString(CID0)).toBe('/CIQISG37UMCSDEPZDNY2L6SGSR33WYMNTKLZCW3R74SDVWFYQPNOTWY')
  expect(keyStringToCid(cidToKeyString(CID1)).equals(CID1)).toBe(true)
})

for (const backend of ['sqlite', 'leveldb', 'memory'] as DatastoreBackend[]) {
  describe(`DsState over ${backend}`, () => {
    async function open(): Promise<{ st: DsState; bst: DsState; close: () => Promise<void> }> {
      const folder = await mkdtemp(join(tmpdir(), 'state-test-'))
      dirs.push(folder)
      const o = await openDatastore({ backend, folder })
      return {
        st: new DsState({ namespace: '/pins' }, { datastore: o.datastore }),
        bst: new DsState({ namespace: '/pins', batching: true }, { datastore: o.datastore }),
        close: o.close
      }
    }

    test('add/get/has/rm/list', async () => {
      const { st, close } = await open()
      const peers = [await peerId()]
      await st.add(fullPin(peers))
      await st.add(pinWithOpts(CID0, defaultPinOptions()))
      expect(await st.has(CID1)).toBe(true)
      expect((await st.get(CID1)).name).toBe('my pin')
      expect((await all(st.list())).length).toBe(2)
      await st.rm(CID1)
      expect(await st.has(CID1)).toBe(false)
      let name = ''
      try {
        await st.get(CID1)
      } catch (e) {
        name = (e as Error).name
      }
      expect(name).toBe('NotFoundError')
      await st.rm(CID1)
      const listed = await all(st.list())
      expect(listed.map((p) => p.cid.toString())).toEqual([CID0.toString()])
      await close()
    })

    test('batching state writes on commit', async () => {
      const { st, bst, close } = await open()
      await bst.add(pinWithOpts(CID0, defaultPinOptions()))
      expect(await st.has(CID0)).toBe(false)
      await bst.commit()
      expect(await st.has(CID0)).toBe(true)
      await close()
    })

    test('export then import into an empty state is identical', async () => {
      const a = await open()
      const b = await open()
      for (let i = 0; i < 20; i++) {
        const cid = CID.createV1(0x55, (await import('multiformats/hashes/sha2')).sha256.digest(new Uint8Array([i])) as never)
        await a.st.add({ ...pinWithOpts(cid, { ...defaultPinOptions(), name: `p${i}` }), timestamp: new Date(1700000000000) })
      }
      const lines: string[] = []
      expect(await exportState(a.st, (l) => void lines.push(l))).toBe(20)
      expect(lines.every((l) => l.endsWith('\n'))).toBe(true)
      const text = lines.join('')
      // arbitrary chunking of the NDJSON text
      const chunks = [text.slice(0, 17), text.slice(17, 500), text.slice(500)]
      expect(await importState(b.st, chunks)).toBe(20)
      const lines2: string[] = []
      await exportState(b.st, (l) => void lines2.push(l))
      expect(lines2.sort()).toEqual([...lines].sort())
      await a.close()
      await b.close()
    })
  })
}

describe('state import stream', () => {
  const upstreamImportState = `{
  "cid": "QmbrCtydGyPeHiLURSPMqrvE5mCgMCwFYq3UD4XLCeAYw6",
  "name": "",
  "allocations": [],
  "replication_factor_min": -1,
  "replication_factor_max": -1
}
`

  test('jsonValues splits values in any layout and chunking', async () => {
    const { jsonValues } = await import('../../../src/state/export.ts')
    const text = `${upstreamImportState}{"a":"x}{\\"y"} [1,[2]] "s\\"t" 42 true\n{"b":{}}`
    const expected = [JSON.parse(upstreamImportState), { a: 'x}{"y' }, [1, [2]], 's"t', 42, true, { b: {} }]
    for (let cut = 0; cut <= text.length; cut += 7) {
      const got = (await all(jsonValues([text.slice(0, cut), new TextEncoder().encode(text.slice(cut))]))).map((v) => JSON.parse(v))
      expect(got).toEqual(expected)
    }
    let err = ''
    try {
      await all(jsonValues(['{"a": 1']))
    } catch (e) {
      err = (e as Error).name
    }
    expect(err).toBe('InvalidArgumentError')
  })

  test('parsedJsonValues: NDJSON line by line, any other layout from the first line that is not one value', async () => {
    const { parsedJsonValues } = await import('../../../src/state/export.ts')
    async function* chunked(text: string, size: number): AsyncGenerator<Uint8Array> {
      const bytes = new TextEncoder().encode(text)
      for (let i = 0; i < bytes.length; i += size) yield bytes.subarray(i, i + size)
    }
    const lines = ['{"cid":"a","name":"ünï ☃"}', '', '{"cid":"b"}', '  [1,2]  ', '"s"', '7']
    const ndjson = lines.join('\n')
    const expected = [{ cid: 'a', name: 'ünï ☃' }, { cid: 'b' }, [1, 2], 's', 7]
    const mixed = `${ndjson}\n${upstreamImportState}{"x":1} {"y":2}\n{"z":3}\n`
    const mixedExpected = [...expected, JSON.parse(upstreamImportState), { x: 1 }, { y: 2 }, { z: 3 }]
    for (const size of [1, 3, 5, 64, 100_000]) {
      expect(await all(parsedJsonValues(chunked(ndjson, size)))).toEqual(expected)
      expect(await all(parsedJsonValues(chunked(`${ndjson}\n`, size)))).toEqual(expected)
      expect(await all(parsedJsonValues(chunked(mixed, size)))).toEqual(mixedExpected)
    }
    for (const bad of ['{"a":1}\n{"b":', '{"a":1}\n{"b" 2}\n']) {
      let err = ''
      try {
        await all(parsedJsonValues(chunked(bad, 4)))
      } catch (e) {
        err = (e as Error).name
      }
      expect(err).toBe('InvalidArgumentError')
    }
  })

  test('imports upstream test_data/importState with overrides', async () => {
    const st = new DsState({}, { datastore: new (await import('../../../src/datastore/memory.ts')).MemoryDatastore() })
    const peer = await peerId()
    expect(await importState(st, [upstreamImportState], { replicationFactorMax: 3, userAllocations: [peer] })).toBe(1)
    const p = await st.get(CID.parse('QmbrCtydGyPeHiLURSPMqrvE5mCgMCwFYq3UD4XLCeAYw6'))
    expect(p.replicationFactorMin).toBe(-1)
    expect(p.replicationFactorMax).toBe(3)
    expect(p.allocations).toEqual([peer])
  })
})
