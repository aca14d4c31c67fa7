/**
 * The bundled node's blockstore on a really full disk: a 1 MiB tmpfs
 * mounted by the test (needs root). Writes past the space throw
 * `DiskFullError` naming the block, leave no temporary file, keep the byte
 * counter equal to what is on disk, and work again once space is freed.
 */
import { afterAll, beforeAll, expect, test } from 'bun:test'
import { randomBytes } from 'node:crypto'
import { mkdtemp, readdir, rm, stat } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { CID } from 'multiformats/cid'
import { sha256 } from 'multiformats/hashes/sha2'
import { FsBlockstore } from '../../../src/ipfsconn/bundled/blockstore.ts'
import { mountTmpfs, type Tmpfs } from '../../helpers/tmpfs.ts'

let dir: string
let fs: Tmpfs

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'bundled-diskfull-'))
  fs = await mountTmpfs(join(dir, 'blocks'), 1024 * 1024)
})

afterAll(async () => {
  await fs.unmount()
  await rm(dir, { recursive: true, force: true })
})

async function onDisk(folder: string): Promise<{ bytes: number; blocks: number; tmp: string[] }> {
  let bytes = 0
  let blocks = 0
  const tmp: string[] = []
  for (const shard of await readdir(folder)) {
    const p = join(folder, shard)
    if (!(await stat(p)).isDirectory()) continue
    for (const f of await readdir(p)) {
      if (f.endsWith('.tmp')) tmp.push(f)
      if (!f.endsWith('.data')) continue
      bytes += (await stat(join(p, f))).size
      blocks++
    }
  }
  return { bytes, blocks, tmp }
}

async function block(size: number): Promise<{ cid: CID; bytes: Uint8Array }> {
  const bytes = new Uint8Array(randomBytes(size))
  return { cid: CID.createV1(0x55, await sha256.digest(bytes)), bytes }
}

test('ENOSPC: DiskFullError naming the block, no temporary file, counters match the disk, writes work again once space is freed', async () => {
  const bs = new FsBlockstore(fs.path)
  await bs.open()
  const stored: CID[] = []
  let failure: unknown
  let failed: CID | undefined
  // bounded: 1 MiB of space, 100 KiB blocks
  for (let i = 0; i < 40 && failure === undefined; i++) {
    const b = await block(100 * 1024)
    try {
      await bs.put(b.cid, b.bytes)
      stored.push(b.cid)
    } catch (err) {
      failure = err
      failed = b.cid
    }
  }
  expect(failure).toBeDefined()
  expect((failure as Error).name).toBe('DiskFullError')
  expect((failure as Error).message).toContain('disk is full')
  expect((failure as Error).message).toContain(failed!.toString())
  expect(stored.length).toBeGreaterThan(0)
  expect(await bs.has(failed!)).toBe(false)
  const disk = await onDisk(fs.path)
  expect(disk.tmp).toEqual([])
  expect({ bytes: bs.size, blocks: bs.numBlocks }).toEqual({ bytes: disk.bytes, blocks: disk.blocks })
  for (const c of stored) expect((await bs.getBytes(c)).length).toBe(100 * 1024)
  // reads keep working; after deleting two blocks the next write succeeds
  await bs.delete(stored.pop()!)
  await bs.delete(stored.pop()!)
  const again = await block(100 * 1024)
  await bs.put(again.cid, again.bytes)
  expect(await bs.getBytes(again.cid)).toEqual(again.bytes)
  // a reopen counts the same
  const re = new FsBlockstore(fs.path)
  await re.open()
  expect({ bytes: re.size, blocks: re.numBlocks }).toEqual({ bytes: bs.size, blocks: bs.numBlocks })
})
