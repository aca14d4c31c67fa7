/**
 * `format=car`: the blocks of a CAR archive (upstream `adder.carAdder`),
 * read incrementally with `@ipld/car`'s `CarBlockIterator`.
 */
import { CarBlockIterator } from '@ipld/car/iterator'
import * as dagPb from '@ipld/dag-pb'
import { UnixFS } from 'ipfs-unixfs'
import type { CID } from 'multiformats/cid'
import { errorMessage, InvalidArgumentError } from '../errors.ts'
import type { AbortOptions } from '../interfaces.ts'
import type { Block, PutBlock } from './dag.ts'

/** What importing a CAR gives: its root, the bytes of all blocks, and the root's UnixFS file size (0 if none). */
export interface CarImportResult {
  root: CID
  /** total bytes of the blocks (upstream `AddedOutput.Bytes`). */
  bytes: number
  /** the root's UnixFS `filesize`, when the root is a UnixFS dag-pb node. */
  size: number
  blocks: number
}

/** A CAR that cannot be read (bad header, truncated, several roots); an InvalidArgumentError to callers. */
export class BadCarError extends InvalidArgumentError {
  static override name = 'InvalidArgumentError'
}

/**
 * Reads a CAR (v1 or v2) from `content`, writes each block with `put`, and
 * returns its single root. Blocks are not re-hashed here: the IPFS daemon
 * computes each block's CID on `block/put`, and the connector rejects a
 * block whose stored CID differs from the one the CAR claims.
 * @throws BadCarError (an `InvalidArgumentError`) for an unreadable CAR or
 *   one without exactly one root; whatever `put` throws.
 */
export async function importCar(content: AsyncIterable<Uint8Array>, put: PutBlock, options: AbortOptions = {}): Promise<CarImportResult> {
  let iter: CarBlockIterator
  let roots: CID[]
  try {
    iter = await CarBlockIterator.fromIterable(content)
    roots = await iter.getRoots()
  } catch (err) {
    throw new BadCarError(`error reading CAR header: ${errorMessage(err)}`)
  }
  if (roots.length !== 1) throw new BadCarError('only CAR files with a single root are supported')
  const root = roots[0] as CID
  let bytes = 0
  let size = 0
  let blocks = 0
  const it = iter[Symbol.asyncIterator]()
  while (true) {
    options.signal?.throwIfAborted()
    let r: IteratorResult<{ cid: CID; bytes: Uint8Array }>
    try {
      r = await it.next()
    } catch (err) {
      throw new BadCarError(`error reading CAR block: ${errorMessage(err)}`)
    }
    if (r.done === true) break
    const block: Block = { cid: r.value.cid, bytes: r.value.bytes }
    bytes += block.bytes.length
    blocks++
    if (block.cid.equals(root) && block.cid.code === dagPb.code) {
      try {
        const node = dagPb.decode(block.bytes)
        if (node.Data !== undefined) size = Number(UnixFS.unmarshal(node.Data).fileSize())
      } catch {
        // not UnixFS: no size, like upstream
      }
    }
    await put(block, options)
  }
  return { root, bytes, size, blocks }
}
