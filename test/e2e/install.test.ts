/**
 * install.sh against a local HTTP server playing the release location:
 * the compiled binary served as ipfs-cluster-<os>-<arch> with its .sha256
 * (as scripts/build.ts writes them), the systemd units and install.sh.
 * `curl -fsSL <base>/install.sh | sh -s -- ...` as a user would run it.
 */
import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import { createHash } from 'node:crypto'
import { chmodSync, existsSync, lstatSync, readlinkSync } from 'node:fs'
import { copyFile, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import type { Server } from 'bun'
import { clusterBinary } from '../../scripts/launcher/index.ts'

const ROOT = resolve(import.meta.dir, '../..')
const OS = process.platform === 'darwin' ? 'darwin' : 'linux'
const ARCH = process.arch === 'arm64' ? 'arm64' : 'x64'
const ASSET = `ipfs-cluster-${OS}-${ARCH}`

let work: string
let good: string
let bad: string
let server: Server<undefined>
let base: string

async function release(dir: string, corrupt: boolean): Promise<void> {
  await mkdir(dir, { recursive: true })
  const bin = join(dir, ASSET)
  await copyFile(clusterBinary(), bin)
  const bytes = await readFile(bin)
  const sum = createHash('sha256').update(bytes).digest('hex')
  await writeFile(`${bin}.sha256`, `${sum}  ${ASSET}\n`)
  if (corrupt) {
    bytes[bytes.length >> 1] = (bytes[bytes.length >> 1]! + 1) & 0xff
    await writeFile(bin, bytes)
  }
  await copyFile(join(ROOT, 'install.sh'), join(dir, 'install.sh'))
  for (const u of ['ipfs-cluster.service', 'ipfs-cluster-follow@.service']) await copyFile(join(ROOT, 'systemd', u), join(dir, u))
}

async function sh(script: string, env: Record<string, string> = {}): Promise<{ code: number; stdout: string; stderr: string }> {
  const proc = Bun.spawn(['sh', '-c', script], {
    env: { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: work, ...env },
    stdout: 'pipe',
    stderr: 'pipe'
  })
  const timer = setTimeout(() => proc.kill('SIGKILL'), 60_000)
  const [stdout, stderr, code] = await Promise.all([new Response(proc.stdout).text(), new Response(proc.stderr).text(), proc.exited])
  clearTimeout(timer)
  return { code, stdout, stderr }
}

beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), 'install-e2e-'))
  good = join(work, 'release')
  bad = join(work, 'corrupt')
  await release(good, false)
  await release(bad, true)
  server = Bun.serve({
    hostname: '127.0.0.1',
    port: 0,
    async fetch(req) {
      const path = decodeURIComponent(new URL(req.url).pathname)
      const [, dir, file] = path.split('/')
      const root = dir === 'good' ? good : dir === 'bad' ? bad : undefined
      if (root === undefined || file === undefined || file.includes('..')) return new Response('not found', { status: 404 })
      const f = Bun.file(join(root, file))
      return (await f.exists()) ? new Response(f) : new Response('not found', { status: 404 })
    }
  })
  base = `http://127.0.0.1:${server.port}`
})

afterAll(async () => {
  await server?.stop(true)
  if (work !== undefined) await rm(work, { recursive: true, force: true })
})

describe('install.sh', () => {
  test('curl | sh installs the binary and working links into the prefix, verifying the checksum', async () => {
    const prefix = join(work, 'prefix1')
    const r = await sh(`curl -fsSL ${base}/good/install.sh | sh -s -- --prefix '${prefix}'`, { IPFS_CLUSTER_RELEASE_URL: `${base}/good` })
    expect(r.stderr).toContain('Checksum verified')
    expect(r.code).toBe(0)
    expect(existsSync(join(prefix, 'ipfs-cluster'))).toBe(true)
    for (const l of ['ipfs-cluster-service', 'ipfs-cluster-ctl', 'ipfs-cluster-follow']) {
      expect(lstatSync(join(prefix, l)).isSymbolicLink()).toBe(true)
      expect(readlinkSync(join(prefix, l))).toBe('ipfs-cluster')
    }
    const ctl = await sh(`'${join(prefix, 'ipfs-cluster-ctl')}' --version`)
    expect(ctl.code).toBe(0)
    expect(ctl.stdout).toContain('ipfs-cluster-ctl')
    const svc = await sh(`'${join(prefix, 'ipfs-cluster-service')}' --version`)
    expect(svc.code).toBe(0)
    expect(svc.stdout).toContain('ipfs-cluster-service')
    const fol = await sh(`'${join(prefix, 'ipfs-cluster-follow')}' --help`)
    expect(fol.code).toBe(0)
    expect(fol.stdout).toContain('ipfs-cluster-follow')
  })

  test('IPFS_CLUSTER_PREFIX and wget work too (env instead of flags)', async () => {
    const prefix = join(work, 'prefix-env')
    // a PATH without curl: a bin folder holding only the tools install.sh needs, wget included
    const bin = join(work, 'nocurl-bin')
    await mkdir(bin, { recursive: true })
    const tools = ['sh', 'wget', 'sha256sum', 'awk', 'uname', 'id', 'mkdir', 'mktemp', 'rm', 'cp', 'mv', 'ln', 'chmod', 'tr', 'sed', 'cat']
    for (const t of tools) {
      const w = await sh(`command -v ${t}`)
      if (w.code === 0) await sh(`ln -sf '${w.stdout.trim()}' '${join(bin, t)}'`)
    }
    const script = await readFile(join(good, 'install.sh'), 'utf8')
    const proc = Bun.spawn([join(bin, 'sh'), '-s'], {
      env: { PATH: bin, HOME: work, IPFS_CLUSTER_PREFIX: prefix, IPFS_CLUSTER_RELEASE_URL: `${base}/good` },
      stdin: new TextEncoder().encode(script),
      stdout: 'pipe',
      stderr: 'pipe'
    })
    const [stderr, code] = await Promise.all([new Response(proc.stderr).text(), proc.exited])
    expect(stderr).toContain('Checksum verified')
    expect(code).toBe(0)
    const ctl = await sh(`'${join(prefix, 'ipfs-cluster-ctl')}' --version`)
    expect(ctl.code).toBe(0)
  })

  test('a corrupted download is refused with the checksum message and nothing is installed', async () => {
    const prefix = join(work, 'prefix-bad')
    const r = await sh(`curl -fsSL ${base}/bad/install.sh | sh -s -- --prefix '${prefix}' --release-url ${base}/bad`)
    expect(r.code).not.toBe(0)
    expect(r.stderr).toContain('checksum mismatch')
    expect(existsSync(join(prefix, 'ipfs-cluster'))).toBe(false)
    expect(existsSync(join(prefix, 'ipfs-cluster-ctl'))).toBe(false)
  })

  test('unknown platforms and Windows get clear errors', async () => {
    const fake = join(work, 'fake-uname')
    await mkdir(fake, { recursive: true })
    const uname = (s: string, m: string): string => `#!/bin/sh\ncase "$1" in -s) echo ${s};; -m) echo ${m};; esac\n`
    await writeFile(join(fake, 'uname'), uname('SunOS', 'x86_64'))
    chmodSync(join(fake, 'uname'), 0o755)
    const path = `${fake}:${process.env.PATH ?? '/usr/bin:/bin'}`
    const sun = await sh(`sh '${join(good, 'install.sh')}' --prefix '${join(work, 'p-sun')}'`, { PATH: path, IPFS_CLUSTER_RELEASE_URL: `${base}/good` })
    expect(sun.code).not.toBe(0)
    expect(sun.stderr).toContain('unsupported operating system: SunOS')

    await writeFile(join(fake, 'uname'), uname('MINGW64_NT-10.0', 'x86_64'))
    const win = await sh(`sh '${join(good, 'install.sh')}'`, { PATH: path, IPFS_CLUSTER_RELEASE_URL: `${base}/good` })
    expect(win.code).not.toBe(0)
    expect(win.stderr).toContain('ipfs-cluster-windows-x64.exe')

    await writeFile(join(fake, 'uname'), uname('Linux', 'riscv64'))
    const rv = await sh(`sh '${join(good, 'install.sh')}'`, { PATH: path, IPFS_CLUSTER_RELEASE_URL: `${base}/good` })
    expect(rv.code).not.toBe(0)
    expect(rv.stderr).toContain('unsupported architecture: riscv64')
  })

  test('a prefix that cannot be written is a clear error', async () => {
    const r = await sh(`sh '${join(good, 'install.sh')}' --prefix /proc/ipfs-cluster-test/bin`, { IPFS_CLUSTER_RELEASE_URL: `${base}/good` })
    expect(r.code).not.toBe(0)
    expect(r.stderr).toContain('no write permission')
  })

  test('--systemd installs the units pointing at the prefix', async () => {
    const prefix = join(work, 'prefix-sd')
    const units = join(work, 'units')
    const r = await sh(`curl -fsSL ${base}/good/install.sh | sh -s -- --prefix '${prefix}' --systemd`, {
      IPFS_CLUSTER_RELEASE_URL: `${base}/good`,
      IPFS_CLUSTER_SYSTEMD_DIR: units
    })
    expect(r.code).toBe(0)
    const peer = await readFile(join(units, 'ipfs-cluster.service'), 'utf8')
    expect(peer).toContain(`ExecStart=${prefix}/ipfs-cluster-service daemon`)
    const follow = await readFile(join(units, 'ipfs-cluster-follow@.service'), 'utf8')
    expect(follow).toContain(`ExecStart=${prefix}/ipfs-cluster-follow %i run`)
  })
})
