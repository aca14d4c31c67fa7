/**
 * Hostile input, property-based (fast-check, bounded runs): every decoder
 * that reads bytes from outside (peers, files, HTTP bodies) outside src/rpc
 * either returns a value or throws an Error whose message says what was
 * wrong. It never throws a non-Error, never hangs, and stores nothing when
 * it fails. Each property also runs on mutations of a valid input (one byte
 * flipped, truncated), which reach deeper than random bytes do.
 */
import { describe, expect, test } from 'bun:test'
import fc from 'fast-check'
import { CarWriter } from '@ipld/car'
import { CID } from 'multiformats/cid'
import * as raw from 'multiformats/codecs/raw'
import { sha256 } from 'multiformats/hashes/sha2'
import { generateKeyPair, privateKeyToProtobuf } from '@libp2p/crypto/keys'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import { base64pad } from 'multiformats/bases/base64'
import { decodeBroadcast, decodeNode, encodeBroadcast, makeNode } from '../../../src/consensus/crdt/index.ts'
import { decodeMetric, encodeMetric } from '../../../src/monitor/pubsubmon/codec.ts'
import { pinFromProtobuf, pinToProtobuf } from '../../../src/state/codec.ts'
import { importState, jsonValues } from '../../../src/state/export.ts'
import { DsState } from '../../../src/state/dsstate.ts'
import { MemoryDatastore } from '../../../src/datastore/memory.ts'
import { identityFromJson, parseServiceConfig } from '../../../src/config/index.ts'
import { importCar } from '../../../src/adder/car.ts'
import { parseMultipart } from '../../../src/adder/multipart.ts'
import { defaultPinOptions, type Metric, pinWithOpts } from '../../../src/types/index.ts'
import { pinFromJSON, pinToJSON } from '../../../src/types/json.ts'
import all from 'it-all'
import { setLogLevels } from '../../../src/observability/logging.ts'

const RUNS = 300
setLogLevels('error')

/** Runs `fn`; a throw must be an Error with a message. Returns whether it threw. */
async function clearErrorOrValue(fn: () => unknown): Promise<boolean> {
  try {
    await fn()
    return false
  } catch (err) {
    expect(err).toBeInstanceOf(Error)
    expect((err as Error).message.length).toBeGreaterThan(0)
    return true
  }
}

/** Mutations of a valid encoding: a byte changed, truncation, bytes appended. */
function mutations(valid: Uint8Array): fc.Arbitrary<Uint8Array> {
  return fc.oneof(
    fc.tuple(fc.nat({ max: Math.max(0, valid.length - 1) }), fc.integer({ min: 0, max: 255 })).map(([i, b]) => {
      const m = valid.slice()
      if (m.length > 0) m[i] = b
      return m
    }),
    fc.nat({ max: valid.length }).map((n) => valid.slice(0, n)),
    fc.uint8Array({ maxLength: 64 }).map((tail) => new Uint8Array([...valid, ...tail])),
    fc.uint8Array({ maxLength: 512 })
  )
}

const cidOf = async (s: string): Promise<CID> => CID.createV1(raw.code, await sha256.digest(new TextEncoder().encode(s)))

describe('binary decoders from peers', () => {
  test('protobuf Pin (state and CRDT elements)', async () => {
    const pin = { ...pinWithOpts(await cidOf('x'), { ...defaultPinOptions(), name: 'n', metadata: { a: 'b' } }), timestamp: new Date(1) }
    const valid = pinToProtobuf(pin)
    expect(pinFromProtobuf(valid).name).toBe('n') // the unmutated input decodes
    await fc.assert(fc.asyncProperty(mutations(valid), async (b) => void (await clearErrorOrValue(() => pinFromProtobuf(b)))), { numRuns: RUNS })
  })

  test('CRDT broadcast messages and DAG nodes (deltas)', async () => {
    const heads = [await cidOf('h1'), await cidOf('h2')]
    const bcast = encodeBroadcast(heads)
    expect(decodeBroadcast(bcast).map(String)).toEqual(heads.map(String))
    await fc.assert(fc.asyncProperty(mutations(bcast), async (b) => void (await clearErrorOrValue(() => decodeBroadcast(b)))), { numRuns: RUNS })
    const { bytes } = await makeNode({ elements: [{ key: '/k', id: '', value: new Uint8Array([1]) }], tombstones: [], priority: 3n }, heads)
    expect(decodeNode(bytes).delta.priority).toBe(3n)
    await fc.assert(fc.asyncProperty(mutations(bytes), async (b) => void (await clearErrorOrValue(() => decodeNode(b)))), { numRuns: RUNS })
  })

  test('pubsub metrics', async () => {
    const m: Metric = {
      name: 'freespace',
      peer: '12D3KooWD3eckifWpRn9wQpMG9R9hX3sD158z7EqHWmweQAJU5SA',
      value: '100',
      expire: Date.now() * 1e6,
      valid: true,
      weight: 100,
      partitionable: false,
      receivedAt: 0
    }
    const valid = encodeMetric(m)
    expect(decodeMetric(valid).name).toBe('freespace')
    await fc.assert(fc.asyncProperty(mutations(valid), async (b) => void (await clearErrorOrValue(() => decodeMetric(b)))), { numRuns: RUNS })
  })
})

describe('files and bodies', () => {
  test('pin JSON (REST bodies, state export lines): a clear error or a pin', async () => {
    const valid = pinToJSON({ ...pinWithOpts(await cidOf('j'), defaultPinOptions()), timestamp: new Date(1) })
    const mutated = fc.dictionary(fc.constantFrom(...Object.keys(valid), 'extra'), fc.jsonValue()).map((d) => ({ ...valid, ...d }))
    await fc.assert(fc.asyncProperty(fc.oneof(fc.jsonValue(), mutated), async (j) => void (await clearErrorOrValue(() => pinFromJSON(j)))), { numRuns: RUNS })
  })

  test('NDJSON state import: malformed input fails clearly; a failed line stores nothing after the error', async () => {
    const good = JSON.stringify(pinToJSON({ ...pinWithOpts(await cidOf('good'), defaultPinOptions()), timestamp: new Date(1) }))
    const line = fc.oneof(fc.constant(good), fc.string({ maxLength: 80 }), fc.jsonValue().map((v) => JSON.stringify(v)))
    await fc.assert(
      fc.asyncProperty(fc.array(line, { maxLength: 6 }), fc.constantFrom('\n', '\r\n', ' '), async (lines, sep) => {
        const st = new DsState({}, { datastore: new MemoryDatastore() })
        const threw = await clearErrorOrValue(() => importState(st, [lines.join(sep)]))
        const stored = (await all(st.list())).length
        if (!threw) expect(stored).toBeLessThanOrEqual(lines.length)
        else expect(stored).toBeLessThanOrEqual(lines.filter((l) => l === good).length)
      }),
      { numRuns: RUNS }
    )
    await fc.assert(fc.asyncProperty(fc.string({ maxLength: 200 }), async (s) => void (await clearErrorOrValue(async () => all(jsonValues([s]))))), {
      numRuns: RUNS
    })
  })

  test('CAR uploads: a clear error or one root; every block put is one of the CAR', async () => {
    const block = new TextEncoder().encode('hello car')
    const cid = CID.createV1(raw.code, await sha256.digest(block))
    const { writer, out } = CarWriter.create([cid])
    const chunks: Uint8Array[] = []
    const done = (async () => {
      for await (const c of out) chunks.push(c)
    })()
    await writer.put({ cid, bytes: block })
    await writer.close()
    await done
    const valid = new Uint8Array(chunks.reduce((n, c) => n + c.length, 0))
    let o = 0
    for (const c of chunks) {
      valid.set(c, o)
      o += c.length
    }
    const roots: string[] = []
    await importCar(
      (async function* () {
        yield valid
      })(),
      async (blk) => void roots.push(blk.cid.toString())
    )
    expect(roots).toEqual([cid.toString()])
    await fc.assert(
      fc.asyncProperty(mutations(valid), async (b) => {
        const put: string[] = []
        await clearErrorOrValue(() =>
          importCar(
            (async function* () {
              yield b
            })(),
            async (blk) => void put.push(blk.cid.toString())
          )
        )
        expect(put.length).toBeLessThanOrEqual(1)
      }),
      { numRuns: RUNS }
    )
  })

  test('multipart bodies (POST /add): a clear error or entries', async () => {
    const boundary = 'XyZ'
    const valid = new TextEncoder().encode(
      `--${boundary}\r\nContent-Disposition: form-data; name="file"; filename="a.txt"\r\nContent-Type: application/octet-stream\r\n\r\nhello\r\n--${boundary}--\r\n`
    )
    const entries = await all(
      parseMultipart(
        (async function* () {
          yield valid
        })(),
        `multipart/form-data; boundary=${boundary}`
      )
    )
    expect(entries.length).toBe(1)
    await fc.assert(
      fc.asyncProperty(mutations(valid), fc.constantFrom(`multipart/form-data; boundary=${boundary}`, 'multipart/form-data', 'text/plain'), async (b, ct) => {
        await clearErrorOrValue(async () => {
          for await (const e of parseMultipart(
            (async function* () {
              yield b
            })(),
            ct
          )) {
            const content = (e as { content?: AsyncIterable<Uint8Array> }).content
            if (content !== undefined) for await (const _ of content) void _
          }
        })
      }),
      { numRuns: RUNS }
    )
  })

  test('service.json: any JSON gives a config or a ConfigError naming the file', async () => {
    const section = fc.dictionary(fc.constantFrom('secret', 'peername', 'replication_factor_min', 'listen_multiaddress', 'mdns_interval', 'x'), fc.jsonValue())
    const doc = fc.oneof(fc.jsonValue(), section.map((c) => ({ cluster: c })), fc.record({ cluster: fc.constant({ secret: 'ab'.repeat(32) }), consensus: fc.jsonValue(), api: fc.jsonValue(), datastore: fc.jsonValue() }))
    await fc.assert(
      fc.asyncProperty(doc, async (d) => {
        try {
          parseServiceConfig(d, { folder: '/cfg', env: {} })
        } catch (err) {
          expect(err).toBeInstanceOf(Error)
          expect((err as Error).message).toStartWith('/cfg/service.json')
        }
      }),
      { numRuns: RUNS }
    )
  })

  test('identity.json: any JSON gives an identity or a ConfigError naming the key', async () => {
    const key = await generateKeyPair('Ed25519')
    const id = peerIdFromPrivateKey(key).toString()
    const pk = base64pad.baseEncode(privateKeyToProtobuf(key))
    const doc = fc.oneof(
      fc.jsonValue(),
      fc.record({ id: fc.oneof(fc.constant(id), fc.string()), private_key: fc.oneof(fc.constant(pk), fc.string(), fc.constant(pk.slice(0, -4))) })
    )
    await fc.assert(
      fc.asyncProperty(doc, async (d) => {
        try {
          const got = identityFromJson(d, 'identity.json')
          expect(got.id).toBe(id)
        } catch (err) {
          expect((err as Error).name).toBe('ConfigError')
          expect((err as Error).message).toMatch(/^identity\.json: (must be|id|private_key)/)
        }
      }),
      { numRuns: RUNS }
    )
  })
})
