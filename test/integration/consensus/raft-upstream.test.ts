/**
 * Migration in from upstream Raft: a real upstream v1.1.6
 * `ipfs-cluster-service` writes a `raft/` folder (`init --consensus raft`,
 * then the offline `state import`, which saves a hashicorp snapshot); our
 * reader (src/consensus/raft/upstream.ts) and our `service state export`
 * (run from source) read its pinset back. A damaged state.bin is refused.
 */
import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import { randomBytes } from 'node:crypto'
import { mkdtemp, readdir, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { CID } from 'multiformats/cid'
import { identity } from 'multiformats/hashes/identity'
import { latestUpstreamSnapshot, readUpstreamSnapshot } from '../../../src/consensus/raft/upstream.ts'
import { upstreamTools } from '../../helpers/upstream.ts'

const ROOT = resolve(import.meta.dir, '../../..')
let dir: string
const wanted = new Map<string, { name: string; rmin: number }>()

async function run(argv: string[], env: Record<string, string> = {}): Promise<{ code: number; out: string; err: string }> {
  const p = Bun.spawn(argv, { env: { ...process.env, ...env }, stdout: 'pipe', stderr: 'pipe', stdin: 'ignore' })
  const [out, err] = await Promise.all([new Response(p.stdout).text(), new Response(p.stderr).text()])
  return { code: await p.exited, out, err }
}

beforeAll(async () => {
  const tools = await upstreamTools()
  dir = await mkdtemp(join(tmpdir(), 'raft-upstream-'))
  const cfg = join(dir, 'cfg')
  const init = await run([join(tools, 'ipfs-cluster-service'), '-c', cfg, 'init', '--consensus', 'raft', '--randomports'])
  expect(init.code).toBe(0)
  const lines: string[] = []
  for (let i = 0; i < 50; i++) {
    const cid = CID.createV1(0x55, identity.digest(randomBytes(20))).toString()
    wanted.set(cid, { name: `pin-${i}`, rmin: i % 3 === 0 ? 2 : -1 })
    lines.push(JSON.stringify({ cid, type: 'pin', allocations: [], max_depth: -1, replication_factor_min: i % 3 === 0 ? 2 : -1, replication_factor_max: i % 3 === 0 ? 3 : -1, name: `pin-${i}` }))
  }
  await writeFile(join(dir, 'pins.ndjson'), `${lines.join('\n')}\n`)
  const imp = await run([join(tools, 'ipfs-cluster-service'), '-c', cfg, 'state', 'import', '-f', join(dir, 'pins.ndjson')])
  expect(imp.code).toBe(0)
}, 120_000)

afterAll(async () => {
  await rm(dir, { recursive: true, force: true })
})

describe('an upstream raft/ folder', () => {
  test('the latest snapshot is found and its pins read, CRC checked', async () => {
    const meta = await latestUpstreamSnapshot(join(dir, 'cfg', 'raft'))
    expect(meta).toBeDefined()
    expect(meta!.voters).toHaveLength(1)
    const pins = await readUpstreamSnapshot(meta!)
    expect(pins).toHaveLength(wanted.size)
    for (const p of pins) {
      const w = wanted.get(p.cid.toString())
      expect(w).toBeDefined()
      expect(p.name).toBe(w!.name)
      expect(p.replicationFactorMin).toBe(w!.rmin)
    }
  })

  test('our `service state export` in raft mode reads it when this peer has no raft state', async () => {
    // our configuration in the upstream peer's folder (the identity is kept)
    const cfg = join(dir, 'cfg')
    await rm(join(cfg, 'service.json'))
    const init = await run([join(ROOT, 'node_modules/.bin/bun'), join(ROOT, 'src/main.ts'), 'service', '-c', cfg, 'init', '--consensus', 'raft'])
    expect(init.code).toBe(0)
    const exp = await run([join(ROOT, 'node_modules/.bin/bun'), join(ROOT, 'src/main.ts'), 'service', '-c', cfg, 'state', 'export'])
    expect(exp.code).toBe(0)
    expect(exp.err).toContain('reading upstream raft snapshot')
    const got = exp.out
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as { cid: string; name: string })
    expect(new Set(got.map((p) => p.cid))).toEqual(new Set(wanted.keys()))
  }, 60_000)

  test('a damaged state.bin is refused', async () => {
    const meta = (await latestUpstreamSnapshot(join(dir, 'cfg', 'raft')))!
    const file = join(meta.path, 'state.bin')
    const data = new Uint8Array(await Bun.file(file).arrayBuffer())
    data[10] = (data[10]! + 1) & 0xff
    await writeFile(file, data)
    await expect(readUpstreamSnapshot(meta)).rejects.toThrow('does not match its CRC')
    expect((await readdir(join(dir, 'cfg', 'raft', 'snapshots'))).length).toBeGreaterThan(0)
  })
})
