import { afterAll, expect, test } from 'bun:test'
import { existsSync } from 'node:fs'
import { kuboBinary, startKubo, stopAllKubos, waitFor } from '../../../scripts/launcher/index.ts'

afterAll(stopAllKubos)

test('harness: ports on 127.0.0.1, CLI against the repo, kill and restart on the same ports, destroy', async () => {
  expect(existsSync(await kuboBinary())).toBe(true)
  const k = await startKubo({ offline: true })
  expect(k.apiMultiaddr).toMatch(/^\/ip4\/127\.0\.0\.1\/tcp\/\d+$/)
  expect(k.apiUrl).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/)
  expect(k.swarmAddrs[0]).toContain(`/p2p/${k.peerId}`)
  const cid = await k.ipfsOk(['add', '-Q'], { input: 'harness' })
  expect(await k.ipfsOk(['cat', cid])).toBe('harness')
  const gw = await fetch(`${k.gatewayUrl}/ipfs/${cid}`)
  expect(await gw.text()).toBe('harness')

  k.kill()
  await waitFor(() => !k.running(), 'the killed daemon to exit', 10_000, 20)
  expect(k.running()).toBe(false)
  const down = await fetch(`${k.apiUrl}/api/v0/id`, { method: 'POST' }).catch((e: unknown) => e)
  expect(down).toBeInstanceOf(Error)

  await k.start()
  const id = (await (await fetch(`${k.apiUrl}/api/v0/id`, { method: 'POST' })).json()) as { ID: string }
  expect(id.ID).toBe(k.peerId)
  expect(await k.ipfsOk(['pin', 'ls', '--type=recursive', '-q', cid])).toBe(cid)

  await k.destroy()
  expect(existsSync(k.repo)).toBe(false)
})
