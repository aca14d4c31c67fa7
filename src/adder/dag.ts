/**
 * UnixFS DAG building with `ipfs-unixfs-importer`, configured so CIDs equal
 * kubo's `ipfs add` for the same options (upstream `adder/ipfsadd`, which is
 * kubo's `coreunix` adder): CIDv0 with dag-pb "file" leaves by default,
 * 256 KiB chunks, balanced layout with at most 174 links per node, trickle
 * with 174 links and layer repeat 4, raw leaves as CIDv1 `raw` blocks,
 * directories sharded (HAMT) above 256 KiB of links.
 *
 * The importer always hashes with sha2-256; for other `hash=` functions the
 * blocks are re-encoded on the way out ({@link Rehasher}): every block is
 * hashed with the chosen function and the links of dag-pb parents (which
 * the importer always writes after their children) are rewritten to the
 * new CIDs, with the `Tsize`s recomputed from the new block sizes.
 */
import * as dagPb from '@ipld/dag-pb'
import { UnixFS } from 'ipfs-unixfs'
import { type BufferImporter, type ImporterOptions, importer } from 'ipfs-unixfs-importer'
import { balanced, trickle } from 'ipfs-unixfs-importer/layout'
import { CID } from 'multiformats/cid'
import * as raw from 'multiformats/codecs/raw'
import { sha256 } from 'multiformats/hashes/sha2'
import type { MultihashHasher } from 'multiformats/hashes/interface'
import { InvalidArgumentError } from '../errors.ts'
import type { AbortOptions } from '../interfaces.ts'
import { hasherFor } from './hashers.ts'
import type { AddParams } from './params.ts'

/** kubo's links per intermediate node (`helpers.DefaultLinksPerBlock`). */
export const LINKS_PER_BLOCK = 174
/** kubo's trickle layer repeat (`trickle.depthRepeat`). */
export const TRICKLE_LAYER_REPEAT = 4
/** kubo's HAMT switch-over (`Import.UnixFSHAMTDirectorySizeThreshold`, bytes). */
export const HAMT_THRESHOLD_BYTES = 262_144
/** go-ipfs-chunker `ChunkSizeLimit` (bytes). */
export const MAX_CHUNK_SIZE = 2 * 1024 * 1024

/** A block produced by the adder: its CID and encoded bytes. */
export interface Block {
  cid: CID
  bytes: Uint8Array
}

/** Where the adder writes blocks (the importer's blockstore `put`). */
export type PutBlock = (block: Block, options?: AbortOptions) => Promise<void>

/** One entry of an upload, in upload order (parents before their children). */
export type AddEntry =
  | { kind: 'file'; path: string; content: AsyncIterable<Uint8Array> }
  | { kind: 'dir'; path: string }
  | { kind: 'symlink'; path: string; target: string }

/** One node the importer finished: a file, directory or symlink. */
export interface DagResult {
  /** path inside the upload ('' = the wrapping directory). */
  path: string
  cid: CID
  /** cumulative DAG size in bytes (kubo's `node.Size()`). */
  size: number
}

/**
 * Parses kubo's chunker string. Only `size-<bytes>` is accepted: the
 * importer's rabin chunker cuts differently from kubo's (measured against
 * kubo 0.42), and there is no buzhash, so those would give CIDs kubo does
 * not give; they are refused rather than silently different.
 * @throws InvalidArgumentError on another or an out-of-range chunker.
 */
export function chunkerFor(spec: string, options: { leafRoom?: boolean } = {}): NonNullable<ImporterOptions['chunker']> {
  const s = spec === '' ? 'size-262144' : spec
  const size = /^size-(\d+)$/.exec(s)
  if (size !== null) {
    const n = Number(size[1])
    if (n <= 0) throw new InvalidArgumentError('chunker size must be greater than 0')
    if (n > MAX_CHUNK_SIZE) throw new InvalidArgumentError(`chunker parameters may not exceed the maximum chunk size of ${MAX_CHUNK_SIZE}`)
    return fixedSizeChunker(n, options.leafRoom === true)
  }
  if (/^(rabin|buzhash)(-|$)/.test(s)) {
    throw new InvalidArgumentError(`chunker ${s} is not supported (its CIDs would differ from kubo's): use size-<bytes>`)
  }
  throw new InvalidArgumentError(`unrecognized chunker option: ${s}`)
}

/** Chunks made by {@link fixedSizeChunker} with room for their leaf's header and trailer around them. */
const prepared = new WeakSet<Uint8Array>()

/** Where a dag-pb UnixFS leaf of `n` data bytes puts them: the header length, and the block length. */
function leafLayout(n: number): { head: number; total: number } {
  const inner = 2 + 1 + varintLength(n) + n + 1 + varintLength(n)
  return { head: 1 + varintLength(inner) + 2 + 1 + varintLength(n), total: 1 + varintLength(inner) + inner }
}

/**
 * Fixed-size chunks, as `ipfs-unixfs-importer`'s `fixedSize` cuts them
 * (every chunk `chunkSize` bytes but the last; one empty chunk for an empty
 * file), with one copy of each byte: the pieces of the upload are copied
 * straight into the chunk's buffer (the library gathers them in a list and
 * concatenates them, then the leaf encoder copies the chunk again). With
 * `leafRoom`, each full chunk's buffer has room for its dag-pb leaf header
 * and trailer, so {@link encodeLeaf} writes those around it instead of
 * copying it. The last, shorter chunk is copied to a buffer of its size.
 */
export function fixedSizeChunker(chunkSize: number, leafRoom: boolean): NonNullable<ImporterOptions['chunker']> {
  const { head, total } = leafRoom ? leafLayout(chunkSize) : { head: 0, total: chunkSize }
  return async function* (source) {
    let buf: Uint8Array | undefined
    let filled = 0
    let emitted = false
    for await (const piece of source) {
      let off = 0
      while (off < piece.length) {
        // every byte of it is written before it is handed out: no zero-filling
        buf ??= Buffer.allocUnsafe(total)
        const take = Math.min(chunkSize - filled, piece.length - off)
        buf.set(take === piece.length ? piece : piece.subarray(off, off + take), head + filled)
        filled += take
        off += take
        if (filled === chunkSize) {
          const chunk = buf.subarray(head, head + chunkSize)
          if (leafRoom) prepared.add(chunk)
          buf = undefined
          filled = 0
          emitted = true
          yield chunk
        }
      }
    }
    if (!emitted || filled > 0) yield buf === undefined ? new Uint8Array(0) : buf.slice(head, head + filled)
  }
}

/**
 * The importer's leaf builder, minus one habit: the default keeps each
 * dag-pb leaf's data (its `UnixFS` object) until the parent is built, i.e.
 * up to 174 chunks (44 MiB at 256 KiB) per level, plus what the garbage
 * collector has not freed yet. Here a leaf keeps only its data length
 * (`blockSizes`), which is all its parent needs. Blocks and CIDs are the
 * same as the importer's own (sha2-256, like its `persist`).
 */
function leanBufferImporter(opts: { cidVersion: 0 | 1; rawLeaves: boolean; leafType: 'file' | 'raw' }): BufferImporter {
  return async function* (file, blockstore) {
    for await (const chunk of file.content) {
      yield async () => {
        if (opts.rawLeaves) {
          const cid = CID.create(1, raw.code, await sha256.digest(chunk))
          await blockstore.put(cid, chunk)
          return { cid, size: BigInt(chunk.length), block: chunk }
        }
        const block = encodeLeaf(opts.leafType, chunk)
        const cid = CID.create(opts.cidVersion, dagPb.code, await sha256.digest(block))
        await blockstore.put(cid, block)
        const unixfs = new UnixFS({ type: opts.leafType, blockSizes: [BigInt(chunk.length)] })
        return { cid, unixfs, size: BigInt(block.length), block }
      }
    }
  }
}

/** Bytes of a protobuf varint. */
function varintLength(n: number): number {
  let len = 1
  while (n >= 0x80) {
    n = Math.floor(n / 128)
    len++
  }
  return len
}

function writeVarint(out: Uint8Array, pos: number, n: number): number {
  while (n >= 0x80) {
    out[pos++] = (n % 128) | 0x80
    n = Math.floor(n / 128)
  }
  out[pos++] = n
  return pos
}

/**
 * The dag-pb block of a UnixFS leaf holding `chunk`, written in one
 * allocation with one copy of the data: the same bytes as
 * `dagPb.encode({ Data: new UnixFS({ type, data: chunk }).marshal(), Links: [] })`
 * (PBNode field 1 = the UnixFS `Data` message: `Type` (1), `Data` (2),
 * `filesize` (3)), which copies the chunk twice. An empty chunk goes
 * through the libraries (UnixFS leaves its `Data` field out).
 */
export function encodeLeaf(type: 'file' | 'raw', chunk: Uint8Array): Uint8Array {
  if (chunk.length === 0) return dagPb.encode({ Data: new UnixFS({ type, data: chunk }).marshal(), Links: [] })
  const n = chunk.length
  // UnixFS Data: Type (0x08 <0 raw | 2 file>), Data (0x12 len bytes), filesize (0x18 n)
  const inner = 2 + 1 + varintLength(n) + n + 1 + varintLength(n)
  let out: Uint8Array
  if (prepared.has(chunk)) {
    // the chunker left room around the chunk: the header and trailer go there
    prepared.delete(chunk)
    const { head, total } = leafLayout(n)
    out = new Uint8Array(chunk.buffer, chunk.byteOffset - head, total)
  } else {
    // every byte is written below: no zero-filling (a Buffer is a Uint8Array)
    out = Buffer.allocUnsafe(1 + varintLength(inner) + inner)
  }
  let pos = 0
  out[pos++] = 0x0a
  pos = writeVarint(out, pos, inner)
  out[pos++] = 0x08
  out[pos++] = type === 'raw' ? 0 : 2
  out[pos++] = 0x12
  pos = writeVarint(out, pos, n)
  if (out.buffer !== chunk.buffer || out.byteOffset + pos !== chunk.byteOffset) out.set(chunk, pos)
  pos += n
  out[pos++] = 0x18
  writeVarint(out, pos, n)
  return out
}

/** Importer options equivalent to kubo's for these add params. */
export function importerOptions(params: AddParams): ImporterOptions {
  return {
    cidVersion: params.cidVersion === 1 ? 1 : 0,
    rawLeaves: params.rawLeaves,
    // kubo's trickle builder makes UnixFS "raw" leaves, its balanced builder "file" leaves
    leafType: params.layout === 'trickle' ? 'raw' : 'file',
    // kubo's trickle builder always keeps a one-chunk file under a root node
    reduceSingleLeafToSelf: params.layout !== 'trickle',
    // dag-pb leaves (not raw leaves) are written around their chunk
    chunker: chunkerFor(params.chunker, { leafRoom: !params.rawLeaves }),
    layout:
      params.layout === 'trickle'
        ? trickle({ maxChildrenPerNode: LINKS_PER_BLOCK, layerRepeat: TRICKLE_LAYER_REPEAT })
        : balanced({ maxChildrenPerNode: LINKS_PER_BLOCK }),
    shardSplitThresholdBytes: HAMT_THRESHOLD_BYTES,
    shardSplitStrategy: 'links-bytes',
    fieldOrder: 'links-first',
    bufferImporter: leanBufferImporter({
      cidVersion: params.cidVersion === 1 ? 1 : 0,
      rawLeaves: params.rawLeaves,
      leafType: params.layout === 'trickle' ? 'raw' : 'file'
    }),
    wrapWithDirectory: params.wrap,
    // one file at a time: entries come from a streamed upload, in order
    fileImportConcurrency: 1,
    blockWriteConcurrency: 4
  }
}

/**
 * Re-encodes sha2-256 blocks from the importer with another hash function
 * (see the module docs). Keeps one small record per block (CID and size).
 */
export class Rehasher {
  private readonly hasher: MultihashHasher
  private readonly cidVersion: 0 | 1
  private readonly map = new Map<string, { cid: CID; size: number }>()

  constructor(hasher: MultihashHasher) {
    this.hasher = hasher
    this.cidVersion = 1
  }

  /** The block as it is sent: re-hashed, links rewritten. @throws Error on a link to an unknown block */
  async rehash(block: Block): Promise<Block> {
    const key = block.cid.toString()
    if (block.cid.code === raw.code) {
      const cid = CID.create(1, raw.code, await this.hasher.digest(block.bytes))
      this.map.set(key, { cid, size: block.bytes.length })
      return { cid, bytes: block.bytes }
    }
    if (block.cid.code !== dagPb.code) throw new Error(`unexpected block codec 0x${block.cid.code.toString(16)}`)
    const node = dagPb.decode(block.bytes)
    let linked = 0
    const links = node.Links.map((l) => {
      const m = this.map.get(l.Hash.toString())
      if (m === undefined) throw new Error(`rehashing: link to unknown block ${l.Hash.toString()}`)
      linked += m.size
      const link: dagPb.PBLink = { Hash: m.cid, Tsize: m.size }
      if (l.Name !== undefined) link.Name = l.Name
      return link
    })
    const out: dagPb.PBNode = { Links: links }
    if (node.Data !== undefined) out.Data = node.Data
    const bytes = dagPb.encode(out)
    const cid = CID.create(this.cidVersion, dagPb.code, await this.hasher.digest(bytes))
    this.map.set(key, { cid, size: bytes.length + linked })
    return { cid, bytes }
  }

  /** The re-hashed CID and cumulative size of an importer result. */
  lookup(cid: CID): { cid: CID; size: number } | undefined {
    return this.map.get(cid.toString())
  }
}

/**
 * Builds the UnixFS DAG of `entries`, writing every block with `put`
 * (children before parents) and yielding each file, symlink and directory
 * as the importer finishes it (files as they complete, directories at the
 * end, deepest first, like kubo).
 * @throws InvalidArgumentError on bad options; whatever `put` or the
 *   entries' content throw.
 */
export async function* buildUnixfs(
  entries: AsyncIterable<AddEntry>,
  params: AddParams,
  put: PutBlock,
  options: AbortOptions = {}
): AsyncGenerator<DagResult> {
  const opts = importerOptions(params)
  const hasher = hasherFor(params.hashFun)
  const rehasher = hasher.code === 0x12 ? null : new Rehasher(hasher)
  if (rehasher !== null) opts.cidVersion = 1

  const signal = options.signal
  const blockstore = {
    async put(cid: CID, bytes: Uint8Array): Promise<CID> {
      signal?.throwIfAborted()
      const block = rehasher === null ? { cid, bytes } : await rehasher.rehash({ cid, bytes })
      await put(block, { signal })
      return cid
    }
  }

  async function* candidates(): AsyncGenerator<
    { path: string; content: AsyncIterable<Uint8Array> } | { path: string } | { path: string; link: string }
  > {
    for await (const e of entries) {
      if (e.kind === 'file') yield { path: e.path, content: e.content }
      else if (e.kind === 'dir') yield { path: e.path }
      else yield { path: e.path, link: e.target }
    }
  }

  // Directory nodes built from directory entries, by path: the importer
  // never reports an empty directory (it stays a leaf of its parent), kubo
  // does. Same node as the importer's default directory builder.
  const dirNodes = new Map<string, { cid: CID; size: number }>()
  opts.dirBuilder = async (dir, store, o) => {
    const unixfs = new UnixFS({ type: 'directory', mtime: dir.mtime, mode: dir.mode })
    const block = dagPb.encode(dagPb.prepare({ Data: unixfs.marshal() }))
    const cid = CID.create(o.cidVersion, dagPb.code, await sha256.digest(block))
    await store.put(cid, block, o)
    dirNodes.set(dir.path ?? '', { cid, size: block.length })
    return { cid, path: dir.path, unixfs, size: BigInt(block.length), originalPath: dir.originalPath, block }
  }

  const final = (c: CID, size: number): { cid: CID; size: number } => {
    if (rehasher === null) return { cid: c, size }
    const m = rehasher.lookup(c)
    if (m === undefined) throw new Error(`rehashing: no block for ${c.toString()}`)
    return m
  }

  // files as they complete; directories at the end in kubo's order
  // (depth-first, children by name, each directory after its contents)
  const dirs: DagResult[] = []
  for await (const r of importer(candidates(), blockstore, opts)) {
    const out = { path: r.path ?? '', ...final(r.cid, Number(r.size)) }
    if (r.unixfs?.isDirectory() === true) dirs.push(out)
    else yield out
  }
  const seen = new Set(dirs.map((d) => d.path))
  for (const [path, n] of dirNodes) if (!seen.has(path)) dirs.push({ path, ...final(n.cid, n.size) })
  dirs.sort((a, b) => postOrder(a.path, b.path))
  yield* dirs
}

/** Orders paths depth-first, children by name (byte order), a directory after everything under it. */
export function postOrder(a: string, b: string): number {
  const pa = a === '' ? [] : a.split('/')
  const pb = b === '' ? [] : b.split('/')
  const n = Math.min(pa.length, pb.length)
  for (let i = 0; i < n; i++) {
    const x = pa[i] as string
    const y = pb[i] as string
    if (x !== y) return Buffer.compare(Buffer.from(x), Buffer.from(y))
  }
  return pb.length - pa.length
}
