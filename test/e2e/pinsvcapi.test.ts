/**
 * e2e, the Pinning Service API: the compiled binary with a real kubo, and
 * kubo's own remote-pinning CLI (`ipfs pin remote …`) as the client.
 */
import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import { writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { CID } from 'multiformats/cid'
import * as raw from 'multiformats/codecs/raw'
import { identity } from 'multiformats/hashes/identity'
import { type ClusterPeer, initPeer, type Kubo, startKubo, stopAllKubos, waitFor } from '../../scripts/launcher/index.ts'

let kubo: Kubo
let peer: ClusterPeer
let url = ''
let token = ''
const SERVICE = 'mycluster'
const PASSWORD = 's3cret'

/** `<cid>\t<status>\t<name>` lines of `ipfs pin remote ls`. */
async function remoteLs(args: string[]): Promise<{ cid: string; status: string; name: string }[]> {
  const out = await kubo.ipfsOk(['pin', 'remote', 'ls', `--service=${SERVICE}`, ...args], { timeoutMs: 60_000 })
  return out
    .split('\n')
    .filter((l) => l.trim() !== '')
    .map((l) => {
      const [cid = '', status = '', name = ''] = l.split('\t')
      return { cid, status, name }
    })
}

async function clusterPins(): Promise<string> {
  const r = await peer.ctl(['pin', 'ls'])
  if (r.code !== 0) throw new Error(`ctl pin ls: ${r.stderr}${r.stdout}`)
  return r.stdout
}

async function addToKubo(content: string): Promise<string> {
  return (await kubo.ipfsOk(['add', '-Q', '--pin=false', '--cid-version=1'], { input: content })).trim()
}

/** Identity CIDs: kubo pins them at once, without fetching anything. */
function inlineCid(s: string): string {
  return CID.createV1(raw.code, identity.digest(new TextEncoder().encode(s))).toString()
}

beforeAll(async () => {
  kubo = await startKubo()
  peer = await initPeer({ ipfsApi: kubo.apiMultiaddr })
  const cfg = (await peer.readConfig()) as { api: { pinsvcapi: { http_listen_multiaddress: string | string[]; basic_auth_credentials: unknown } } }
  cfg.api.pinsvcapi.basic_auth_credentials = { admin: PASSWORD }
  await writeFile(join(peer.folder, 'service.json'), JSON.stringify(cfg, null, 2))
  const ma = cfg.api.pinsvcapi.http_listen_multiaddress
  const m = /\/ip4\/([^/]+)\/tcp\/(\d+)/.exec(Array.isArray(ma) ? ma[0]! : ma)
  if (m === null) throw new Error(`no pinsvcapi address in service.json: ${JSON.stringify(ma)}`)
  url = `http://${m[1]}:${m[2]}`
  await peer.start()
  expect(peer.logs).toContain('PINSVCAPI (HTTP - authenticated)')
  const res = await fetch(`${url}/token`, { method: 'POST', headers: { Authorization: `Basic ${btoa(`admin:${PASSWORD}`)}` } })
  expect(res.status).toBe(200)
  token = ((await res.json()) as { token: string }).token
  await kubo.ipfsOk(['pin', 'remote', 'service', 'add', SERVICE, url, token])
}, 120_000)

afterAll(async () => {
  await peer?.destroy()
  await stopAllKubos()
})

describe('kubo pin remote against the cluster', () => {
  let doc1 = ''
  let doc2 = ''

  test('pin remote add waits until the cluster has pinned it', async () => {
    doc1 = await addToKubo('pinsvc e2e document one')
    const out = await kubo.ipfsOk(['pin', 'remote', 'add', `--service=${SERVICE}`, '--name=doc1', doc1], { timeoutMs: 90_000 })
    expect(out).toMatch(new RegExp(`CID:\\s+${doc1}`))
    expect(out).toMatch(/Name:\s+doc1/)
    expect(out).toMatch(/Status:\s+pinned/)
    expect(await clusterPins()).toContain(doc1)
    expect(await kubo.ipfsOk(['pin', 'ls', '--type=recursive', '--quiet'])).toContain(doc1)
  }, 120_000)

  test('pin remote add --background returns at once; the pin becomes pinned', async () => {
    doc2 = await addToKubo('pinsvc e2e document two')
    const out = await kubo.ipfsOk(['pin', 'remote', 'add', `--service=${SERVICE}`, '--background', '--name=Doc Two', doc2], { timeoutMs: 60_000 })
    expect(out).toMatch(/Status:\s+(queued|pinning|pinned)/)
    await waitFor(async () => (await remoteLs(['--status=pinned', `--cid=${doc2}`])).some((p) => p.cid === doc2), 'doc2 pinned', 60_000)
    const pins = await clusterPins()
    expect(pins).toContain(doc2)
    expect(pins).toContain('Doc Two')
  }, 120_000)

  test('pin remote ls filters by status and name', async () => {
    const pinned = await remoteLs(['--status=pinned'])
    expect(pinned.map((p) => p.cid).sort()).toEqual([doc1, doc2].sort())
    expect(pinned.every((p) => p.status === 'pinned')).toBe(true)
    expect(await remoteLs(['--status=queued,pinning,failed'])).toEqual([])
    expect(await remoteLs(['--name=doc1'])).toEqual([{ cid: doc1, status: 'pinned', name: 'doc1' }])
    expect(await remoteLs(['--name=nothing'])).toEqual([])
    const all = await remoteLs(['--status=queued,pinning,pinned,failed'])
    expect(all.length).toBe(2)
  }, 120_000)

  test('pin remote ls pages through pins made in the same second, each once', async () => {
    const cids = Array.from({ length: 35 }, (_, i) => inlineCid(`pinsvc page ${i}`))
    for (const cid of cids) {
      const r = await fetch(`${url}/pins`, {
        method: 'POST',
        headers: { Authorization: `Bearer ${token}`, 'Content-Type': 'application/json' },
        body: JSON.stringify({ cid, name: 'page' })
      })
      expect(r.status).toBe(202)
    }
    const listed = await waitFor(
      async () => {
        const l = await remoteLs(['--status=pinned', '--name=page'])
        return l.length === cids.length ? l : undefined
      },
      'the 35 pins to be listed as pinned',
      60_000
    )
    expect(new Set(listed.map((p) => p.cid))).toEqual(new Set(cids))
    const all = await remoteLs(['--status=pinned'])
    expect(all.length).toBe(37)
    expect(new Set(all.map((p) => p.cid)).size).toBe(37)
  }, 120_000)

  test('pin remote rm removes the pin from the cluster', async () => {
    await kubo.ipfsOk(['pin', 'remote', 'rm', `--service=${SERVICE}`, `--cid=${doc1}`], { timeoutMs: 60_000 })
    expect(await remoteLs([`--cid=${doc1}`, '--status=queued,pinning,pinned,failed'])).toEqual([])
    await waitFor(async () => !(await clusterPins()).includes(doc1), 'doc1 gone from ctl pin ls', 30_000)
    expect(await clusterPins()).toContain(doc2)
  }, 120_000)

  test('a wrong key is refused with the 401 Failure', async () => {
    await kubo.ipfsOk(['pin', 'remote', 'service', 'add', 'wrongkey', url, 'not-a-token'])
    const r = await kubo.ipfs(['pin', 'remote', 'ls', '--service=wrongkey'], { timeoutMs: 60_000 })
    expect(r.code).not.toBe(0)
    expect(r.stderr + r.stdout).toContain('401')
    expect(r.stderr + r.stdout).toContain('invalid token')
    const stat = await kubo.ipfsOk(['pin', 'remote', 'service', 'ls', '--stat'], { timeoutMs: 60_000 })
    expect(stat).toMatch(new RegExp(`${SERVICE}\\s+\\S+\\s+0/0/36/0`))
  }, 120_000)

  test('the daemon stops cleanly, the Pinning Service API first, with no stray error', async () => {
    expect(await peer.stop()).toBe(0)
    expect(peer.logs).not.toMatch(/a bug, please report it/)
    expect(peer.logs).not.toMatch(/uncaught|unhandled/i)
    expect(await fetch(`${url}/health`).then(
      () => 'answered',
      () => 'closed'
    )).toBe('closed')
  }, 60_000)
})
