/**
 * The bundled IPFS node's blockstore: one file per block under
 * `<folder>/blocks/<2 chars>/<key>.data` (flatfs-like, as kubo's
 * `blocks/` folder), keyed by the base32 multihash so a CIDv0 and a CIDv1
 * of the same block share one file.
 *
 * Durability: a block is written to a temporary file, fsynced, renamed
 * into place and its folder fsynced before `put` resolves, so a block
 * acknowledged is on disk after a crash (`kill -9`, power loss); a crash
 * mid-write leaves only a `.tmp` file, removed at the next `open()`.
 *
 * It keeps a byte counter (`size`, seeded by a walk at `open()`) for
 * `repoStat`, and refuses writes that would pass `storageMax` with a
 * `StorageFullError` naming the limit. A write the file system refuses for
 * lack of space (ENOSPC, EDQUOT) throws `DiskFullError` (the REST API's
 * 507): the temporary file is removed, nothing is counted, and the block
 * store is as before the write.
 */
import { closeSync, fsyncSync, openSync } from 'node:fs'
import { mkdir, open, readdir, readFile, rename, rm, stat, unlink } from 'node:fs/promises'
import { join } from 'node:path'
import type { AbortOptions } from '@libp2p/interface'
import { BaseBlockstore } from 'blockstore-core'
import type { Pair } from 'interface-blockstore'
import { base32 } from 'multiformats/bases/base32'
import { CID } from 'multiformats/cid'
import * as Digest from 'multiformats/hashes/digest'
import { concat as uint8ArrayConcat } from 'uint8arrays/concat'
import { DiskFullError, IPFSError, NotFoundError } from '../../errors.ts'

const RAW_CODE = 0x55

/** A write refused because it would pass the blockstore's storage_max. */
export class StorageFullError extends IPFSError {
  static override name = 'IPFSError'
}

/** The file-name key of a block: base32 (no prefix, upper case) of its multihash. */
export function blockKey(cid: CID): string {
  return base32.baseEncode(cid.multihash.bytes).toUpperCase()
}

function keyToCid(key: string): CID {
  return CID.createV1(RAW_CODE, Digest.decode(base32.baseDecode(key.toLowerCase())))
}

async function concat(val: Uint8Array | Iterable<Uint8Array> | AsyncIterable<Uint8Array>): Promise<Uint8Array> {
  if (val instanceof Uint8Array) return val
  const parts: Uint8Array[] = []
  for await (const p of val) parts.push(p)
  return parts.length === 1 ? parts[0]! : uint8ArrayConcat(parts)
}

/** Whether a file-system error means "no space left" (ENOSPC, or EDQUOT: over quota). */
export function isNoSpace(err: unknown): boolean {
  const code = (err as { code?: unknown } | null)?.code
  return code === 'ENOSPC' || code === 'EDQUOT'
}

function fsyncDir(dir: string): void {
  const fd = openSync(dir, 'r')
  try {
    fsyncSync(fd)
  } finally {
    closeSync(fd)
  }
}

/** `interface-blockstore` over a folder, durable and size-accounted. */
export class FsBlockstore extends BaseBlockstore {
  readonly folder: string
  /** Maximum total size of the blocks, bytes (0 = no limit). */
  storageMax: number
  private bytes = 0
  private count = 0
  private tmpSeq = 0
  private readonly madeDirs = new Set<string>()
  /** Keys written since `startTracking()` (the GC marks them live). */
  private tracking: Set<string> | null = null

  constructor(folder: string, storageMax = 0) {
    super()
    this.folder = folder
    this.storageMax = storageMax
  }

  /** Creates the folder, removes leftover temporary files and counts the blocks. */
  async open(): Promise<void> {
    await mkdir(this.folder, { recursive: true })
    this.bytes = 0
    this.count = 0
    for (const shard of await readdir(this.folder)) {
      const dir = join(this.folder, shard)
      let names: string[]
      try {
        names = await readdir(dir)
      } catch {
        continue
      }
      for (const name of names) {
        const p = join(dir, name)
        if (name.endsWith('.tmp')) {
          await rm(p, { force: true })
          continue
        }
        if (!name.endsWith('.data')) continue
        const st = await stat(p)
        this.bytes += st.size
        this.count++
      }
    }
  }

  /** Total bytes of the stored blocks. */
  get size(): number {
    return this.bytes
  }

  /** Number of stored blocks. */
  get numBlocks(): number {
    return this.count
  }

  private pathOf(key: string): { dir: string; file: string } {
    const dir = join(this.folder, key.slice(-3, -1))
    return { dir, file: join(dir, `${key}.data`) }
  }

  override async has(cid: CID): Promise<boolean> {
    try {
      await stat(this.pathOf(blockKey(cid)).file)
      return true
    } catch {
      return false
    }
  }

  /**
   * Stores a block (fsync + rename). Existing blocks are not rewritten.
   * @throws StorageFullError when the block would pass storage_max
   * @throws DiskFullError when the file system has no space left (nothing stored)
   */
  override async put(cid: CID, val: Uint8Array | Iterable<Uint8Array> | AsyncIterable<Uint8Array>, options?: AbortOptions): Promise<CID> {
    const bytes = await concat(val)
    const key = blockKey(cid)
    this.tracking?.add(key)
    const { dir, file } = this.pathOf(key)
    if (await this.has(cid)) return cid
    if (this.storageMax > 0 && this.bytes + bytes.length > this.storageMax) {
      throw new StorageFullError(
        `bundled IPFS: storage_max reached (${this.bytes} + ${bytes.length} bytes > ${this.storageMax} bytes): block ${cid} not stored; run "ipfs-cluster-ctl ipfs gc" or raise ipfs_connector.bundled.storage_max`
      )
    }
    options?.signal?.throwIfAborted()
    const tmp = `${file}.${process.pid}.${this.tmpSeq++}.tmp`
    try {
      if (!this.madeDirs.has(dir)) {
        await mkdir(dir, { recursive: true })
        this.madeDirs.add(dir)
      }
      const fh = await open(tmp, 'w')
      try {
        await fh.writeFile(bytes)
        await fh.sync()
      } finally {
        await fh.close()
      }
      await rename(tmp, file)
      fsyncDir(dir)
    } catch (err) {
      await rm(tmp, { force: true }).catch(() => {})
      if (isNoSpace(err)) {
        throw new DiskFullError(
          `bundled IPFS: the disk is full, block ${cid} (${bytes.length} bytes) was not stored (${(err as Error).message}); free some space (e.g. "ipfs-cluster-ctl ipfs gc") and retry`,
          { cause: err }
        )
      }
      throw new IPFSError(`bundled IPFS: cannot store block ${cid}: ${(err as Error).message}`, { cause: err })
    }
    this.bytes += bytes.length
    this.count++
    return cid
  }

  /** The block's bytes, in one chunk. @throws NotFoundError when absent */
  override async *get(cid: CID): AsyncGenerator<Uint8Array> {
    yield await this.getBytes(cid)
  }

  /** The block's bytes. @throws NotFoundError when absent */
  async getBytes(cid: CID): Promise<Uint8Array> {
    try {
      return new Uint8Array(await readFile(this.pathOf(blockKey(cid)).file))
    } catch (err) {
      if ((err as { code?: string }).code === 'ENOENT') throw new NotFoundError(`block not found: ${cid}`)
      throw err
    }
  }

  override async delete(cid: CID): Promise<void> {
    const { file } = this.pathOf(blockKey(cid))
    let size: number
    try {
      size = (await stat(file)).size
      await unlink(file)
    } catch (err) {
      if ((err as { code?: string }).code === 'ENOENT') return
      throw err
    }
    this.bytes -= size
    this.count--
  }

  /** Every stored block, as CIDv1 raw CIDs (the multihash is what identifies a block here). */
  override async *getAll(): AsyncGenerator<Pair> {
    for await (const cid of this.keys()) yield { cid, bytes: this.get(cid) }
  }

  /** The CIDs (v1 raw) of every stored block, without reading them. */
  async *keys(): AsyncGenerator<CID> {
    let shards: string[]
    try {
      shards = await readdir(this.folder)
    } catch {
      return
    }
    for (const shard of shards) {
      let names: string[]
      try {
        names = await readdir(join(this.folder, shard))
      } catch {
        continue
      }
      for (const name of names) {
        if (!name.endsWith('.data')) continue
        yield keyToCid(name.slice(0, -'.data'.length))
      }
    }
  }

  /** Records every key written from now on until `stopTracking()` (for the GC's mark phase). */
  startTracking(): Set<string> {
    this.tracking = new Set()
    return this.tracking
  }

  stopTracking(): void {
    this.tracking = null
  }
}
