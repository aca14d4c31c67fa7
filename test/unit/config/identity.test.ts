import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { privateKeyFromProtobuf } from '@libp2p/crypto/keys'
import {
  ConfigError,
  generateIdentity,
  identityFromJson,
  identityToJson,
  loadIdentity,
  saveIdentity
} from '../../../src/config/index.ts'
import { setLogReporters } from '../../../src/observability/logging.ts'

let dir: string
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'cfg-identity-'))
  setLogReporters([{ log: () => {} }])
})
afterAll(async () => {
  setLogReporters(undefined)
  await rm(dir, { recursive: true, force: true })
})

describe('identity.json', () => {
  test('generate, save, load', async () => {
    const ident = await generateIdentity()
    expect(ident.id).toMatch(/^12D3KooW/)
    expect(ident.privateKey.type).toBe('Ed25519')
    const f = join(dir, 'a')
    await saveIdentity(f, ident)
    const text = await readFile(join(f, 'identity.json'), 'utf8')
    const doc = JSON.parse(text) as { id: string; private_key: string }
    expect(Object.keys(doc)).toEqual(['id', 'private_key'])
    expect(text).toBe(JSON.stringify(doc, null, 4))
    expect(doc.id).toBe(ident.id)
    // base64 (std, padded) of the protobuf-encoded key, as upstream
    const pb = Buffer.from(doc.private_key, 'base64')
    expect(privateKeyFromProtobuf(pb).equals(ident.privateKey)).toBe(true)
    expect((await stat(join(f, 'identity.json'))).mode & 0o777).toBe(0o600)

    const loaded = await loadIdentity(f, {})
    expect(loaded.id).toBe(ident.id)
    expect(loaded.peerId.equals(ident.peerId)).toBe(true)
    expect(loaded.privateKey.equals(ident.privateKey)).toBe(true)
  })

  test('reads an identity written by upstream (Go)', () => {
    // an Ed25519 identity in upstream's format
    const ident = identityFromJson({
      id: '12D3KooWNEymLPFJjGY1fVTwdUPf2GfEHtoyB91crSQCGreFaLuk',
      private_key:
        'CAESQDW7iwrnpcnbMLmbWTh97yusTDC2Rk69iEvuZKUDF7lfuJpudr/gIxg9sIpbwy3uJHz2v3+V1/DgkbdoHkbaiIc='
    })
    expect(ident.id).toBe('12D3KooWNEymLPFJjGY1fVTwdUPf2GfEHtoyB91crSQCGreFaLuk')
    expect(identityToJson(ident).private_key).toBe(
      'CAESQDW7iwrnpcnbMLmbWTh97yusTDC2Rk69iEvuZKUDF7lfuJpudr/gIxg9sIpbwy3uJHz2v3+V1/DgkbdoHkbaiIc='
    )
  })

  test('id not matching the key is rejected', async () => {
    const a = await generateIdentity()
    const b = await generateIdentity()
    const f = join(dir, 'mismatch')
    await saveIdentity(f, a)
    await writeFile(
      join(f, 'identity.json'),
      JSON.stringify({ id: b.id, private_key: identityToJson(a).private_key }, null, 4)
    )
    await expect(loadIdentity(f, {})).rejects.toThrow(
      `${join(f, 'identity.json')}: id: identity ID does not match the private_key`
    )
    await expect(loadIdentity(f, {})).rejects.toBeInstanceOf(ConfigError)
  })

  test('CLUSTER_ID and CLUSTER_PRIVATEKEY override the file', async () => {
    const a = await generateIdentity()
    const b = await generateIdentity()
    const f = join(dir, 'env')
    await saveIdentity(f, a)
    const both = await loadIdentity(f, { CLUSTER_ID: b.id, CLUSTER_PRIVATEKEY: identityToJson(b).private_key })
    expect(both.id).toBe(b.id)
    await expect(loadIdentity(f, { CLUSTER_ID: b.id })).rejects.toThrow(
      `${join(f, 'identity.json')} (with CLUSTER_ID): id: identity ID does not match the private_key`
    )
  })

  test('malformed files', async () => {
    const f = join(dir, 'bad')
    await expect(loadIdentity(f, {})).rejects.toThrow(`${join(f, 'identity.json')}: not found`)
    await saveIdentity(f, await generateIdentity())
    await writeFile(join(f, 'identity.json'), '{"id": "12D3KooWNEymLPFJjGY1fVTwdUPf2GfEHtoyB91crSQCGreFaLuk", "private_key": "!!"}')
    await expect(loadIdentity(f, {})).rejects.toThrow('private_key: cannot decode the private key')
    await writeFile(join(f, 'identity.json'), '{"id": "nope", "private_key": "CAESQA=="}')
    await expect(loadIdentity(f, {})).rejects.toThrow('id: error decoding peer ID "nope"')
    await writeFile(join(f, 'identity.json'), '[]')
    await expect(loadIdentity(f, {})).rejects.toThrow('must be a JSON object')
  })
})

describe('legacy identity in service.json', () => {
  test('extracted into identity.json when that file is missing', async () => {
    const ident = await generateIdentity()
    const f = join(dir, 'legacy')
    const { saveServiceConfig } = await import('../../../src/config/index.ts')
    await saveServiceConfig(f, { cluster: { secret: '', ...identityToJson(ident) } })
    const loaded = await loadIdentity(f, {})
    expect(loaded.id).toBe(ident.id)
    const saved = JSON.parse(await readFile(join(f, 'identity.json'), 'utf8')) as { id: string }
    expect(saved.id).toBe(ident.id)
  })
})
