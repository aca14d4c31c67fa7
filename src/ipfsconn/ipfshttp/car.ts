/**
 * A CARv1 stream written as it is read (what `dag/import` takes; format:
 * ipld.io/specs/transport/car/carv1): the header, a varint length then the
 * dag-cbor `{roots, version: 1}`, then one section per block: a varint of
 * the CID's and the block's length, the CID's bytes, the block's bytes.
 */
import * as dagCbor from '@ipld/dag-cbor'
import { varint } from 'multiformats'
import type { CID } from 'multiformats/cid'
import { concat as concatBytes } from 'uint8arrays/concat'

function varintBytes(n: number): Uint8Array {
  const out = new Uint8Array(varint.encodingLength(n))
  varint.encodeTo(n, out, 0)
  return out
}

/**
 * Yields the CARv1 bytes of `blocks` with `root` as the header's only root,
 * pulling each block when the reader asks for more. A block's bytes are
 * yielded as given (not copied); its section prefix is a small separate chunk.
 */
export async function* carV1Stream(root: CID, blocks: AsyncIterable<{ cid: CID; bytes: Uint8Array }>): AsyncGenerator<Uint8Array> {
  const header = dagCbor.encode({ roots: [root], version: 1 })
  yield concatBytes([varintBytes(header.length), header])
  for await (const b of blocks) {
    const cid = b.cid.bytes
    yield concatBytes([varintBytes(cid.length + b.bytes.length), cid])
    if (b.bytes.length > 0) yield b.bytes
  }
}
