/**
 * The systemd units in systemd/ pass `systemd-analyze verify` without a
 * single warning (CI needs the `systemd` apt package: this test FAILS when
 * systemd-analyze is missing). ExecStart paths are pointed at a temporary
 * folder holding the program links, since verify checks they are executable.
 */
import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import { chmodSync } from 'node:fs'
import { mkdir, mkdtemp, readFile, rm, symlink, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'

const ROOT = resolve(import.meta.dir, '../../..')
const UNITS = ['ipfs-cluster.service', 'ipfs-cluster-follow@.service']
let dir: string

function verify(paths: string[]): { code: number; out: string } {
  const r = Bun.spawnSync(['systemd-analyze', 'verify', '--man=no', ...paths], { stdout: 'pipe', stderr: 'pipe' })
  return { code: r.exitCode, out: `${r.stdout.toString()}${r.stderr.toString()}` }
}

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'units-'))
  const bin = join(dir, 'bin')
  await mkdir(bin)
  await writeFile(join(bin, 'ipfs-cluster'), '#!/bin/sh\nexit 0\n')
  chmodSync(join(bin, 'ipfs-cluster'), 0o755)
  for (const l of ['ipfs-cluster-service', 'ipfs-cluster-follow', 'ipfs-cluster-ctl']) await symlink('ipfs-cluster', join(bin, l))
  for (const u of UNITS) {
    const text = await readFile(join(ROOT, 'systemd', u), 'utf8')
    await writeFile(join(dir, u), text.replaceAll('/usr/local/bin/', `${bin}/`))
  }
})

afterAll(async () => {
  if (dir !== undefined) await rm(dir, { recursive: true, force: true })
})

describe('systemd units', () => {
  test('systemd-analyze is installed (apt-get install -y systemd)', () => {
    expect(Bun.which('systemd-analyze')).not.toBeNull()
  })

  test('ipfs-cluster.service and an instance of ipfs-cluster-follow@.service verify cleanly', () => {
    const r = verify([join(dir, 'ipfs-cluster.service'), join(dir, 'ipfs-cluster-follow@mycluster.service')])
    expect(r.out).toBe('')
    expect(r.code).toBe(0)
  })

  test('the check catches a broken unit (warnings count as failures)', async () => {
    const text = await readFile(join(dir, 'ipfs-cluster.service'), 'utf8')
    await writeFile(join(dir, 'broken.service'), text.replace('Type=notify', 'Type=notifyy'))
    const r = verify([join(dir, 'broken.service')])
    expect(r.out).toContain('notifyy')
  })

  test('units carry what the issue asks for', async () => {
    const peer = await readFile(join(ROOT, 'systemd', 'ipfs-cluster.service'), 'utf8')
    for (const line of [
      'Type=notify',
      'User=ipfs-cluster',
      'StateDirectory=ipfs-cluster',
      'Environment=IPFS_CLUSTER_PATH=%S/ipfs-cluster',
      'ExecStart=/usr/local/bin/ipfs-cluster-service daemon',
      'Restart=on-failure'
    ]) {
      expect(peer).toContain(line)
    }
    expect(peer).toMatch(/^LimitNOFILE=\d{6,}$/m)
    const follow = await readFile(join(ROOT, 'systemd', 'ipfs-cluster-follow@.service'), 'utf8')
    for (const line of ['Type=notify', 'User=ipfs-cluster', 'ExecStart=/usr/local/bin/ipfs-cluster-follow %i run', 'Environment=HOME=%S/ipfs-cluster-follow', 'Restart=on-failure']) {
      expect(follow).toContain(line)
    }
  })
})
