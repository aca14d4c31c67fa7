/**
 * `CID.decode(bytes)` for the listing hot paths (the state's pins, gorpc
 * PinInfo items). multiformats' decoder makes a view per varint and per
 * part (`subarray`) and checks `.buffer` of each; in JSC a view forces its
 * parent's ArrayBuffer into existence and `.buffer` is a slow getter: the
 * two were 20-40% of decoding a PinInfo. For the usual shapes, a CIDv0
 * (sha2-256) or a CIDv1 with a one- or two-byte codec and a sha2-256
 * digest, this builds the same CID from three small copies (whole CID,
 * multihash, digest) and no view; anything else goes to `CID.decode`.
 * The result equals `CID.decode`'s (`equals`, `toString`, `toEqual`).
 */
import { CID } from 'multiformats/cid'
import { Digest } from 'multiformats/hashes/digest'

type AnyDigest = Digest<number, number>

const SHA2_256 = 0x12
const DAG_PB = 0x70

function digestOf(mh: Uint8Array): AnyDigest {
  const d = Object.create(Digest.prototype) as { code: number; size: number; digest: Uint8Array; bytes: Uint8Array }
  d.code = SHA2_256
  d.size = 32
  d.digest = mh.slice(2)
  d.bytes = mh
  return d as unknown as AnyDigest
}

function cidOf(version: 0 | 1, code: number, multihash: AnyDigest, bytes: Uint8Array): CID {
  // the fields in the class's declaration order (one object shape with CIDs made by `new CID`)
  const c = Object.create(CID.prototype) as { code: number; version: number; multihash: AnyDigest; bytes: Uint8Array; '/': Uint8Array }
  c.code = code
  c.version = version
  c.multihash = multihash
  c.bytes = bytes
  c['/'] = bytes
  // an own field of every CID (a class field in multiformats)
  ;(c as Record<symbol, unknown>)[Symbol.toStringTag] = 'CID'
  return c as unknown as CID
}

/** The CID in `b` (exactly its bytes). @throws what `CID.decode` throws for invalid bytes */
export function decodeCid(b: Uint8Array): CID {
  const n = b.length
  if (n === 34 && b[0] === SHA2_256 && b[1] === 32) {
    const bytes = b.slice()
    return cidOf(0, DAG_PB, digestOf(bytes), bytes)
  }
  if (b[0] === 1) {
    const c0 = b[1]!
    if (c0 < 0x80 && n === 36 && b[2] === SHA2_256 && b[3] === 32) {
      const bytes = b.slice()
      return cidOf(1, c0, digestOf(bytes.slice(2)), bytes)
    }
    const c1 = b[2]!
    if (c0 >= 0x80 && c1 < 0x80 && c1 !== 0 && n === 37 && b[3] === SHA2_256 && b[4] === 32) {
      const bytes = b.slice()
      return cidOf(1, (c0 & 0x7f) | (c1 << 7), digestOf(bytes.slice(3)), bytes)
    }
  }
  return CID.decode(b)
}
