/**
 * CRDT DAG nodes as go-ds-crdt builds them (ipld.go `makeNode`): a DAG-PB
 * node whose Data is the protobuf `Delta` and whose links (Name "", Tsize 0)
 * point to the previous heads, sorted by CID bytes; CIDv1, dag-pb, sha2-256.
 * Blocks are kept in the datastore as ipfs-lite does: under
 * `<namespace>/b/blocks/<BASE32(multihash)>`.
 */
import * as dagPB from '@ipld/dag-pb'
import { Key } from 'interface-datastore'
import type { Datastore } from 'interface-datastore'
import { CID } from 'multiformats/cid'
import * as Digest from 'multiformats/hashes/digest'
import { sha256 } from 'multiformats/hashes/sha2'
import { compare } from 'uint8arrays/compare'
import { errorName, NotFoundError } from '../../errors.ts'
import type { AbortOptions } from '../../interfaces.ts'
import { binaryToKeyString, keyStringToBinary } from '../../state/keys.ts'
import { Delta } from './pb/delta.pb.ts'

export interface DecodedNode {
  delta: Delta
  links: CID[]
}

/** Sorts CIDs by their bytes (go-ds-crdt heads.List order). */
export function sortCids(cids: CID[]): CID[] {
  return [...cids].sort((a, b) => compare(a.bytes, b.bytes))
}

/** Encodes a delta node linking to `heads`; returns its CID and bytes. */
export async function makeNode(delta: Delta, heads: CID[]): Promise<{ cid: CID; bytes: Uint8Array }> {
  const node = dagPB.prepare({
    Data: Delta.encode(delta),
    Links: sortCids(heads).map((h) => ({ Hash: h, Name: '', Tsize: 0 }))
  })
  const bytes = dagPB.encode(node)
  const hash = await sha256.digest(bytes)
  return { cid: CID.createV1(dagPB.code, hash), bytes }
}

/** Decodes a delta node. @throws Error when not a DAG-PB delta node. */
export function decodeNode(bytes: Uint8Array): DecodedNode {
  const node = dagPB.decode(bytes)
  const delta = Delta.decode(node.Data ?? new Uint8Array(0))
  return { delta, links: node.Links.map((l) => l.Hash) }
}

/** The block id go-ds-crdt uses for elements/tombstones: `/<BASE32(multihash)>`. */
export function blockId(cid: CID): string {
  return binaryToKeyString(cid.multihash.bytes)
}

/** Inverse of blockId: the CIDv1 dag-pb of a block id. */
export function blockIdToCid(id: string): CID {
  return CID.createV1(dagPB.code, Digest.decode(keyStringToBinary(id)))
}

/**
 * The local store of CRDT blocks in the datastore
 * (`<namespace>/b/blocks/<BASE32(multihash)>`), shared with a future
 * bitswap component to serve blocks to other peers.
 */
export class CrdtBlockstore {
  private readonly ds: Datastore
  readonly prefix: string

  constructor(ds: Datastore, namespace: string) {
    this.ds = ds
    this.prefix = `${namespace}/b/blocks`
  }

  keyOf(cid: CID): string {
    return this.prefix + binaryToKeyString(cid.multihash.bytes)
  }

  async has(cid: CID, options?: AbortOptions): Promise<boolean> {
    return await this.ds.has(new Key(this.keyOf(cid), false), options)
  }

  /** @throws NotFoundError when the block is not stored locally. */
  async get(cid: CID, options?: AbortOptions): Promise<Uint8Array> {
    try {
      return await this.ds.get(new Key(this.keyOf(cid), false), options)
    } catch (err) {
      if (errorName(err) === 'NotFoundError') throw new NotFoundError(`block not found: ${cid.toString()}`)
      throw err
    }
  }

  async put(cid: CID, bytes: Uint8Array, options?: AbortOptions): Promise<void> {
    await this.ds.put(new Key(this.keyOf(cid), false), bytes, options)
  }

  /** Stores several blocks in one datastore batch. */
  async putMany(blocks: Iterable<{ cid: CID; bytes: Uint8Array }>, options?: AbortOptions): Promise<void> {
    const b = this.ds.batch()
    for (const { cid, bytes } of blocks) b.put(new Key(this.keyOf(cid), false), bytes)
    await b.commit(options)
  }
}
