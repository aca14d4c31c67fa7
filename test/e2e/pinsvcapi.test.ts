/**
 * e2e, the Pinning Service API: the compiled binary with a real kubo, and
 * as clients kubo's own remote-pinning CLI (`ipfs pin remote …`), the JS
 * client `@ipfs-shipyard/pinning-service-client` (every route and filter)
 * and plain requests with bad input (the spec's Failure, 4xx, nothing stored).
 */
import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import { writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { Configuration, type PinStatus, RemotePinningServiceClient, Status, TextMatchingStrategy } from '@ipfs-shipyard/pinning-service-client'
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

})

describe('@ipfs-shipyard/pinning-service-client against the cluster', () => {
  const svc = (accessToken = token): RemotePinningServiceClient => new RemotePinningServiceClient(new Configuration({ endpointUrl: url, accessToken }))
  const tag = `js-${Date.now()}`
  const cids = Array.from({ length: 25 }, (_, i) => inlineCid(`${tag} ${i}`))

  /** The Failure of a call the client rejects (it throws the Response). */
  async function failure(p: Promise<unknown>): Promise<{ status: number; reason: string; details: string }> {
    const res = await p.then(
      () => {
        throw new Error('the call succeeded')
      },
      (err: unknown) => err as Response
    )
    expect(res).toBeInstanceOf(Response)
    const body = (await res.json()) as { error: { reason: string; details: string } }
    return { status: res.status, reason: body.error.reason, details: body.error.details }
  }

  function expectPinStatus(ps: PinStatus): void {
    expect(typeof ps.requestid).toBe('string')
    expect(Object.values(Status)).toContain(ps.status)
    expect(ps.created).toBeInstanceOf(Date)
    expect(Number.isNaN(ps.created.getTime())).toBe(false)
    expect(ps.delegates.length).toBeGreaterThan(0)
    for (const d of ps.delegates) expect(d).toContain('/p2p/')
    expect(typeof ps.pin.cid).toBe('string')
  }

  test('POST /pins (pinsPost) and GET /pins/{requestid} until pinned', async () => {
    for (const [i, cid] of cids.entries()) {
      const ps = await svc().pinsPost({ pin: { cid, name: i % 2 === 0 ? `${tag}-Even-${i}` : `${tag}-odd-${i}`, meta: { app: tag, parity: i % 2 === 0 ? 'even' : 'odd' } } })
      expectPinStatus(ps)
      expect(ps.requestid).toBe(cid)
      expect(ps.pin.meta).toEqual({ app: tag, parity: i % 2 === 0 ? 'even' : 'odd' })
    }
    for (const cid of cids) {
      await waitFor(async () => (await svc().pinsRequestidGet({ requestid: cid })).status === Status.Pinned, `${cid} pinned`, 60_000)
    }
    const one = await svc().pinsRequestidGet({ requestid: cids[0]! })
    expectPinStatus(one)
    expect(one.pin.name).toBe(`${tag}-Even-0`)
    expect(await clusterPins()).toContain(cids[0]!)
  }, 180_000)

  test('GET /pins filters: cid, name with each match, status, meta, limit', async () => {
    const c = svc()
    const byCid = await c.pinsGet({ cid: [cids[1]!, cids[2]!] })
    expect(byCid.count).toBe(2)
    expect(byCid.results.map((r) => r.pin.cid).sort()).toEqual([cids[1]!, cids[2]!].sort())
    byCid.results.forEach(expectPinStatus)
    expect((await c.pinsGet({ name: `${tag}-Even-4` })).results.map((r) => r.pin.cid)).toEqual([cids[4]!])
    expect((await c.pinsGet({ name: `${tag}-even-4`, match: TextMatchingStrategy.Exact })).count).toBe(0)
    expect((await c.pinsGet({ name: `${tag}-even-4`, match: TextMatchingStrategy.Iexact })).results.map((r) => r.pin.cid)).toEqual([cids[4]!])
    expect((await c.pinsGet({ name: `${tag}-odd-`, match: TextMatchingStrategy.Partial, limit: 1000 })).count).toBe(12)
    expect((await c.pinsGet({ name: `${tag}-ODD-`, match: TextMatchingStrategy.Partial })).count).toBe(0)
    expect((await c.pinsGet({ name: `${tag}-ODD-`, match: TextMatchingStrategy.Ipartial, limit: 1000 })).count).toBe(12)
    expect((await c.pinsGet({ meta: { app: tag }, limit: 1000 })).count).toBe(25)
    expect((await c.pinsGet({ meta: { app: tag, parity: 'even' }, limit: 1000 })).count).toBe(13)
    expect((await c.pinsGet({ meta: { app: tag, parity: 'none' } })).count).toBe(0)
    expect((await c.pinsGet({ meta: { app: tag }, status: [Status.Pinned], limit: 1000 })).count).toBe(25)
    expect((await c.pinsGet({ meta: { app: tag }, status: [Status.Queued, Status.Pinning, Status.Failed] })).count).toBe(0)
    const five = await c.pinsGet({ meta: { app: tag }, limit: 5 })
    expect(five.count).toBe(25)
    expect(five.results.length).toBe(5)
    // the default limit is 10; a page never ends inside a group of equal `created` that goes on
    // past it (src/api/pinsvcapi/app.ts): 25 pins of one second may share a millisecond
    const all = (await c.pinsGet({ meta: { app: tag }, limit: 1000 })).results.map((r) => r.created.getTime())
    let want = 10
    while (want > 0 && all[want - 1] === all[10]) want--
    const ten = await c.pinsGet({ meta: { app: tag } })
    expect(ten.results.length).toBe(want > 0 ? want : 10)
    expect(ten.results.map((r) => r.created.getTime())).toEqual(all.slice(0, want > 0 ? want : 10))
  })

  test('GET /pins paging with before (and after) returns each pin once, newest first', async () => {
    const c = svc()
    const seen: PinStatus[] = []
    let before: Date | undefined
    for (let i = 0; i < 100; i++) {
      const page = await c.pinsGet({ meta: { app: tag }, limit: 10, ...(before !== undefined ? { before } : {}) })
      seen.push(...page.results)
      if (page.count === page.results.length) break
      expect(page.results.length).toBeGreaterThan(0)
      before = page.results[page.results.length - 1]!.created
    }
    expect(seen.length).toBe(25)
    expect(new Set(seen.map((r) => r.requestid))).toEqual(new Set(cids))
    for (let i = 1; i < seen.length; i++) expect(seen[i - 1]!.created.getTime()).toBeGreaterThanOrEqual(seen[i]!.created.getTime())
    const newest = seen[0]!.created
    const oldest = seen[seen.length - 1]!.created
    const after = await c.pinsGet({ meta: { app: tag }, after: oldest, limit: 1000 })
    expect(after.results.map((r) => r.requestid)).not.toContain(seen[seen.length - 1]!.requestid)
    expect(after.results.every((r) => r.created.getTime() > oldest.getTime())).toBe(true)
    expect((await c.pinsGet({ meta: { app: tag }, after: newest })).count).toBe(0)
  })

  test('POST /pins/{requestid} replaces; DELETE /pins/{requestid} removes; both then 404', async () => {
    const c = svc()
    const replacement = inlineCid(`${tag} replacement`)
    const ps = await c.pinsRequestidPost({ requestid: cids[0]!, pin: { cid: replacement, name: `${tag}-replacement` } })
    expectPinStatus(ps)
    expect(ps.requestid).toBe(replacement)
    await waitFor(async () => !(await clusterPins()).includes(cids[0]!), 'the replaced pin gone', 60_000)
    const gone = await failure(c.pinsRequestidGet({ requestid: cids[0]! }))
    expect(gone).toMatchObject({ status: 404, reason: 'NOT_FOUND' })
    await c.pinsRequestidDelete({ requestid: replacement })
    await waitFor(async () => !(await clusterPins()).includes(replacement), 'the deleted pin gone', 60_000)
    expect(await failure(c.pinsRequestidGet({ requestid: replacement }))).toMatchObject({ status: 404, reason: 'NOT_FOUND' })
    expect(await failure(c.pinsRequestidDelete({ requestid: replacement }))).toMatchObject({ status: 404, reason: 'NOT_FOUND' })
  }, 120_000)

  test('bad input through the client: 4xx Failures, nothing stored', async () => {
    const c = svc()
    const before = await clusterPins()
    expect(await failure(c.pinsPost({ pin: { cid: 'not-a-cid' } }))).toMatchObject({ status: 400, reason: 'BAD_REQUEST' })
    expect(await failure(c.pinsRequestidPost({ requestid: inlineCid(`${tag} unknown`), pin: { cid: inlineCid(`${tag} new`) } }))).toMatchObject({
      status: 404,
      reason: 'NOT_FOUND'
    })
    expect(await failure(c.pinsRequestidPost({ requestid: cids[1]!, pin: { cid: 'bafy-not-a-cid' } }))).toMatchObject({ status: 400 })
    expect(await failure(c.pinsGet({ limit: 0 }))).toMatchObject({ status: 400, reason: 'BAD_REQUEST' })
    expect(await failure(c.pinsGet({ limit: 1001 }))).toMatchObject({ status: 400, reason: 'BAD_REQUEST' })
    expect(await failure(c.pinsGet({ cid: ['garbage'] }))).toMatchObject({ status: 400, reason: 'BAD_REQUEST' })
    expect(await failure(c.pinsGet({ name: 'x', match: 'fuzzy' as TextMatchingStrategy }))).toMatchObject({ status: 400, reason: 'BAD_REQUEST' })
    expect(await failure(c.pinsGet({ status: ['done' as Status] }))).toMatchObject({ status: 400, reason: 'BAD_REQUEST' })
    expect(await failure(svc('wrong-token').pinsGet({}))).toMatchObject({ status: 401, reason: 'UNAUTHORIZED' })
    expect(await failure(svc('wrong-token').pinsPost({ pin: { cid: inlineCid(`${tag} refused`) } }))).toMatchObject({ status: 401 })
    expect(await clusterPins()).toBe(before)
  })
})

describe('bad input on the wire: the spec Failure shape, 4xx, nothing stored', () => {
  const auth = (): Record<string, string> => ({ Authorization: `Bearer ${token}` })
  async function expectFailure(path: string, init: RequestInit, status: number, detail: RegExp): Promise<void> {
    const res = await fetch(`${url}${path}`, init)
    expect(res.status).toBe(status)
    expect(res.headers.get('content-type')).toContain('application/json')
    const body = (await res.json()) as { error: { reason: string; details: string } }
    expect(Object.keys(body)).toEqual(['error'])
    expect(typeof body.error.reason).toBe('string')
    expect(body.error.details).toMatch(detail)
  }

  test('malformed CIDs, unknown requestids, bad JSON, bad limit, bad meta, unknown match, wrong tokens', async () => {
    const before = await clusterPins()
    const json = { ...auth(), 'Content-Type': 'application/json' }
    await expectFailure('/pins', { method: 'POST', headers: json, body: '{"cid": ' }, 400, /decoding request body/)
    await expectFailure('/pins', { method: 'POST', headers: json, body: '["x"]' }, 400, /not a JSON object/)
    await expectFailure('/pins', { method: 'POST', headers: json, body: '{"cid":"Qmnot"}' }, 400, /cid/)
    await expectFailure('/pins', { method: 'POST', headers: json, body: JSON.stringify({ cid: inlineCid('bad meta'), meta: { n: 1 } }) }, 400, /meta/)
    await expectFailure('/pins', { method: 'POST', headers: json, body: JSON.stringify({ cid: inlineCid('bad origin'), origins: ['nope'] }) }, 400, /origin/)
    await expectFailure(`/pins/${inlineCid('never pinned')}`, { headers: auth() }, 404, /not found/)
    await expectFailure('/pins/not-a-cid', { headers: auth() }, 404, /not found/)
    await expectFailure('/pins/not-a-cid', { method: 'DELETE', headers: auth() }, 404, /not found/)
    await expectFailure(`/pins/${inlineCid('never pinned')}`, { method: 'POST', headers: json, body: JSON.stringify({ cid: inlineCid('x') }) }, 404, /not found/)
    await expectFailure('/pins?cid=garbage', { headers: auth() }, 400, /cid/)
    await expectFailure('/pins?limit=abc', { headers: auth() }, 400, /limit/)
    await expectFailure('/pins?limit=-1', { headers: auth() }, 400, /limit/)
    await expectFailure(`/pins?meta=${encodeURIComponent('{bad')}`, { headers: auth() }, 400, /meta/)
    await expectFailure(`/pins?meta=${encodeURIComponent('{"a":1}')}`, { headers: auth() }, 400, /meta/)
    await expectFailure('/pins?name=x&match=fuzzy', { headers: auth() }, 400, /match/)
    await expectFailure('/pins?before=yesterday', { headers: auth() }, 400, /before/)
    await expectFailure('/pins', { headers: { Authorization: 'Bearer not-a-token' } }, 401, /token/)
    await expectFailure('/pins', { method: 'POST', headers: { Authorization: 'Bearer not-a-token', 'Content-Type': 'application/json' }, body: JSON.stringify({ cid: inlineCid('refused') }) }, 401, /token/)
    await expectFailure('/pins', { headers: { Authorization: `Basic ${btoa('admin:wrong')}` } }, 401, /./)
    await expectFailure('/pins', {}, 401, /./)
    expect(await clusterPins()).toBe(before)
  })
})

describe('shutdown', () => {
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
