import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { generateIdentity, readPeerstore, writePeerstore } from '../../../src/config/index.ts'
import { setLogLevels, setLogReporters } from '../../../src/observability/logging.ts'

let dir: string
const warnings: string[] = []
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'cfg-peerstore-'))
  // other test files in the same process may have lowered the level
  setLogLevels('info')
  setLogReporters([
    {
      log: (obj) => {
        if (obj.type === 'warn') warnings.push(obj.args.map(String).join(' '))
      }
    }
  ])
})
afterAll(async () => {
  setLogReporters(undefined)
  await rm(dir, { recursive: true, force: true })
})

describe('peerstore file', () => {
  test('missing file is an empty peerstore', async () => {
    expect(await readPeerstore(join(dir, 'none'))).toEqual([])
  })

  test('write then read', async () => {
    const { id: a } = await generateIdentity()
    const { id: b } = await generateIdentity()
    const addrs = [`/ip4/10.0.0.1/tcp/9096/p2p/${a}`, `/dns4/peer.example/tcp/9096/p2p/${b}`]
    const path = join(dir, 'sub', 'peerstore')
    await writePeerstore(path, [...addrs, addrs[0] ?? ''])
    expect(await readFile(path, 'utf8')).toBe(`${addrs.join('\n')}\n`)
    expect(await readPeerstore(path)).toEqual(addrs)
  })

  test('bad lines are skipped with a warning, never fatal', async () => {
    const { id: a } = await generateIdentity()
    const good = `/ip4/10.0.0.1/tcp/9096/p2p/${a}`
    const path = join(dir, 'mixed')
    await writeFile(
      path,
      ['', 'garbage', '/ip4/999.0.0.1/tcp/1/p2p/' + a, '/ip4/10.0.0.1/tcp/9096', '/ip4/10.0.0.1/tcp/1/p2p/QmNope', good, '   ', ''].join('\n')
    )
    warnings.length = 0
    expect(await readPeerstore(path)).toEqual([good])
    expect(warnings.length).toBe(4)
    expect(warnings.some((w) => w.includes(`${path}:2`) && w.includes('garbage'))).toBe(true)
    expect(warnings.some((w) => w.includes('no /p2p/<peer id>'))).toBe(true)
  })

  test('writePeerstore skips entries without /p2p/', async () => {
    const { id: a } = await generateIdentity()
    const path = join(dir, 'filtered')
    warnings.length = 0
    await writePeerstore(path, ['/ip4/1.2.3.4/tcp/1', `/ip4/1.2.3.4/tcp/1/p2p/${a}`])
    expect(await readPeerstore(path)).toEqual([`/ip4/1.2.3.4/tcp/1/p2p/${a}`])
    expect(warnings.length).toBe(1)
  })
})
