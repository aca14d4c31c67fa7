import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import { mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { checkUploadPaths, uploadEntries, uploadSize } from '../../../src/adder/files.ts'

let dir: string

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'adder-files-'))
  await mkdir(join(dir, 'tree', 'sub', '.hid'), { recursive: true })
  await mkdir(join(dir, 'tree', 'b-empty'), { recursive: true })
  await writeFile(join(dir, 'tree', 'z.txt'), 'zz')
  await writeFile(join(dir, 'tree', 'a.txt'), 'aaa')
  await writeFile(join(dir, 'tree', '.dot'), 'd')
  await writeFile(join(dir, 'tree', 'sub', '.hid', 'x'), 'x')
  await writeFile(join(dir, 'tree', 'sub', 'f'), 'ffff')
  await symlink('a.txt', join(dir, 'tree', 'link'))
  await writeFile(join(dir, '.hidden-top'), 'h')
})

afterAll(async () => {
  await rm(dir, { recursive: true, force: true })
})

async function list(paths: string[], recursive: boolean, hidden: boolean): Promise<string[]> {
  const out: string[] = []
  for await (const e of uploadEntries(paths, { recursive, hidden })) out.push(`${e.kind}:${e.path}${e.kind === 'symlink' ? `->${e.target}` : ''}`)
  return out
}

describe('ctl add: what gets uploaded (upstream makeSerialFile)', () => {
  test('a folder: depth-first, names in order, symlinks kept, hidden entries left out', async () => {
    expect(await list([join(dir, 'tree')], true, false)).toEqual([
      'dir:tree',
      'file:tree/a.txt',
      'dir:tree/b-empty',
      'symlink:tree/link->a.txt',
      'dir:tree/sub',
      'file:tree/sub/f',
      'file:tree/z.txt'
    ])
  })

  test('-H includes hidden entries', async () => {
    const all = await list([join(dir, 'tree')], true, true)
    expect(all).toContain('file:tree/.dot')
    expect(all).toContain('dir:tree/sub/.hid')
    expect(all).toContain('file:tree/sub/.hid/x')
  })

  test('a hidden path named on the command line is always added', async () => {
    expect(await list([join(dir, '.hidden-top')], false, false)).toEqual(['file:.hidden-top'])
  })

  test('a folder without -r is refused', async () => {
    let err: unknown
    try {
      await checkUploadPaths([join(dir, 'tree')], { recursive: false })
    } catch (e) {
      err = e
    }
    expect((err as Error).message).toBe(`${join(dir, 'tree')} is a directory, but recursive option is not set`)
  })

  test('uploadSize counts the regular files that would be sent', async () => {
    expect(await uploadSize([join(dir, 'tree')], { recursive: true, hidden: false })).toBe(3 + 2 + 4)
    expect(await uploadSize([join(dir, 'tree')], { recursive: true, hidden: true })).toBe(3 + 2 + 4 + 1 + 1)
  })

  test('file contents are read lazily and counted', async () => {
    let read = 0
    const entries = uploadEntries([join(dir, 'tree', 'sub', 'f')], { recursive: false, hidden: false, onRead: (n) => (read = n) })
    for await (const e of entries) {
      expect(read).toBe(0)
      if (e.kind === 'file') for await (const _ of e.content()) {
        // reading
      }
    }
    expect(read).toBe(4)
  })
})
