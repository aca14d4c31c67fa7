/** `encodePbPinFast` (src/state/pbencode.ts) writes the generated `Pin.encode`'s bytes, or leaves the pin to it. */
import { describe, expect, test } from 'bun:test'
import fc from 'fast-check'
import { pinToProtobuf } from '../../../src/state/codec.ts'
import { encodePbPinFast } from '../../../src/state/pbencode.ts'
import { Pin as PbPin } from '../../../src/types/pb/types.pb.ts'
import { pinFromJSON } from '../../../src/types/json.ts'

const TYPES = [PbPin.PinType.BadType, PbPin.PinType.DataType, PbPin.PinType.MetaType, PbPin.PinType.ClusterDAGType, PbPin.PinType.ShardType]
const int = fc.oneof(fc.constantFrom(0, 1, -1, 63, 64, 127, 128, -128, 2 ** 31 - 1, -(2 ** 31), 300, -300), fc.integer({ min: -(2 ** 31), max: 2 ** 31 - 1 }))
const u64 = fc.oneof(
  fc.constantFrom(0n, 1n, 127n, 128n, 2n ** 32n, 2n ** 49n, 2n ** 53n - 1n, 2n ** 53n, 2n ** 53n + 1n, 2n ** 64n - 1n, 1_700_000_000n),
  fc.bigInt({ min: 0n, max: 2n ** 64n - 1n })
)
const text = fc.oneof(fc.string({ maxLength: 20 }), fc.string({ unit: 'grapheme', maxLength: 20 }), fc.string({ unit: 'binary', maxLength: 10 }), fc.string({ minLength: 120, maxLength: 300 }))
const bytes = (max: number) => fc.uint8Array({ maxLength: max })

const arbPin: fc.Arbitrary<PbPin> = fc.record({
  Cid: bytes(40),
  Type: fc.constantFrom(...TYPES),
  Allocations: fc.array(bytes(40), { maxLength: 4 }),
  MaxDepth: int,
  Reference: bytes(40),
  Timestamp: u64,
  Options: fc.option(
    fc.record({
      ReplicationFactorMin: int,
      ReplicationFactorMax: int,
      Name: text,
      ShardSize: u64,
      Metadata: fc.oneof({ weight: 4, arbitrary: fc.constant(new Map<string, string>()) }, { weight: 1, arbitrary: fc.array(fc.tuple(text, text), { maxLength: 2 }).map((e) => new Map(e)) }),
      PinUpdate: bytes(40),
      ExpireAt: u64,
      Origins: fc.array(bytes(60), { maxLength: 4 }),
      SortedMetadata: fc.array(fc.record({ Key: text, Value: text }), { maxLength: 4 })
    }),
    { nil: undefined }
  )
}) as fc.Arbitrary<PbPin>

describe('encodePbPinFast', () => {
  test('the same bytes as Pin.encode for every pin it takes; what it leaves is left whole', () => {
    let taken = 0
    let runs = 0
    fc.assert(
      fc.property(arbPin, (pin) => {
        runs++
        const got = encodePbPinFast(pin)
        if (got === undefined) return
        taken++
        expect([...got]).toEqual([...PbPin.encode(pin)])
        // its bytes are its own (the writer's buffer is reused)
        const again = encodePbPinFast({ ...pin, Cid: new Uint8Array([1, 2, 3]) })
        expect([...got]).toEqual([...PbPin.encode(pin)])
        expect(again).toBeDefined()
      }),
      { numRuns: 3000 }
    )
    // the fast path is the usual one, not a pass-through
    expect(taken / runs).toBeGreaterThan(0.2)
  })

  test('leaves out what it cannot write as the generated encoder does', () => {
    const base: PbPin = { Cid: new Uint8Array([1]), Type: PbPin.PinType.DataType, Allocations: [], MaxDepth: -1, Reference: new Uint8Array(0), Timestamp: 1n }
    expect(encodePbPinFast(base)).toBeDefined()
    expect(encodePbPinFast({ ...base, Timestamp: 2n ** 64n })).toBeUndefined()
    expect(encodePbPinFast({ ...base, Timestamp: -1n })).toBeUndefined()
    const opts = { ReplicationFactorMin: 0, ReplicationFactorMax: 0, Name: 'a\uD800b', ShardSize: 0n, Metadata: new Map(), PinUpdate: new Uint8Array(0), ExpireAt: 0n, Origins: [], SortedMetadata: [] }
    expect(encodePbPinFast({ ...base, Options: opts })).toBeUndefined()
    expect(encodePbPinFast({ ...base, Options: { ...opts, Name: 'x', Metadata: new Map([['k', 'v']]) } })).toBeUndefined()
  })

  test('pinToProtobuf of a pin with every field set decodes back to it', () => {
    const pin = pinFromJSON({
      cid: 'bafkreigh2akiscaildcqabsyg3dfr6chu3fgpregiymsck7e7aqa4s52zy',
      type: 'pin',
      allocations: ['12D3KooWD3eckifWpRn9wQpMG9R9hX3sD158z7EqHWmweQAJU5SA'],
      max_depth: -1,
      reference: null,
      replication_factor_min: -1,
      replication_factor_max: 3,
      name: 'naïve 名前 '.repeat(20),
      mode: 'recursive',
      shard_size: 1048576,
      expire_at: '2030-01-02T03:04:05Z',
      metadata: { a: '1', b: 'ü'.repeat(100) },
      origins: ['/ip4/127.0.0.1/tcp/4001/p2p/12D3KooWD3eckifWpRn9wQpMG9R9hX3sD158z7EqHWmweQAJU5SA'],
      timestamp: '2026-12-08T01:02:03Z'
    })
    const bytes = pinToProtobuf(pin)
    const pb = PbPin.decode(bytes)
    expect(pb.Options?.Name).toBe(pin.name)
    expect(pb.Options?.ReplicationFactorMin).toBe(-1)
    expect(pb.Options?.SortedMetadata).toEqual([
      { Key: 'a', Value: '1' },
      { Key: 'b', Value: 'ü'.repeat(100) }
    ])
    expect(pb.Timestamp).toBe(BigInt(Date.parse('2026-12-08T01:02:03Z') / 1000))
    expect([...bytes]).toEqual([...PbPin.encode(pb)])
  })
})
