import { afterAll, expect, test } from 'bun:test'
import { spawnSync } from 'node:child_process'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'

const dirs: string[] = []
afterAll(async () => {
  for (const d of dirs) await rm(d, { recursive: true, force: true })
})

const nodeModules = resolve(import.meta.dir, '../../../node_modules')
// hide node_modules from the binary with a private mount namespace (Linux, unprivileged user namespaces)
const canHide = process.platform === 'linux' && spawnSync('unshare', ['-rm', 'true']).status === 0

test.skipIf(!canHide)('a compiled binary opens leveldb without node_modules on disk (embedded addon)', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'level-bin-'))
  dirs.push(dir)
  const bin = join(dir, 'level-bin')
  const build = spawnSync(process.execPath, ['build', '--compile', join(import.meta.dir, 'fixtures', 'level-entry.ts'), '--outfile', bin], {
    encoding: 'utf8'
  })
  expect(build.status).toBe(0)
  const run = spawnSync('unshare', ['-rm', 'sh', '-c', `mount -t tmpfs none "${nodeModules}" && ls "${nodeModules}" | wc -l && "${bin}" "${join(dir, 'db')}"`], {
    cwd: dir,
    encoding: 'utf8'
  })
  expect(run.stdout).toBe('0\nok 3\n')
}, 60_000)
