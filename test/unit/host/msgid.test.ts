import { describe, expect, test } from 'bun:test'
import { generateKeyPair } from '@libp2p/crypto/keys'
import { peerIdFromPrivateKey, peerIdFromString } from '@libp2p/peer-id'
import { clusterMsgId } from '../../../src/host/msgid.ts'

describe("gossipsub message id (upstream's hashMsgID: From[0:16] + Seqno)", () => {
  test('the first 16 bytes of the sender peer ID bytes, then the 8-byte big-endian seqno', async () => {
    const from = peerIdFromString('12D3KooWD3eckifWpRn9wQpMG9R9hX3sD158z7EqHWmweQAJU5SA')
    const key = await generateKeyPair('Ed25519')
    const id = clusterMsgId({ type: 'signed', from, topic: 't', data: new Uint8Array([1]), sequenceNumber: 0x0102030405060708n, signature: new Uint8Array(64), key: key.publicKey })
    expect(Buffer.from(id).toString('hex')).toBe(`${Buffer.from(from.toMultihash().bytes.subarray(0, 16)).toString('hex')}0102030405060708`)
    expect(Buffer.from(id.subarray(0, 6)).toString('hex')).toBe('002408011220')
    expect(id.byteLength).toBe(24)
  })

  test('two messages of one sender differ by seqno only; unsigned messages are refused', async () => {
    const key = await generateKeyPair('Ed25519')
    const from = peerIdFromPrivateKey(key)
    const m = (seq: bigint): Uint8Array =>
      clusterMsgId({ type: 'signed', from, topic: 't', data: new Uint8Array(), sequenceNumber: seq, signature: new Uint8Array(64), key: key.publicKey })
    expect(Buffer.from(m(1n)).equals(Buffer.from(m(1n)))).toBe(true)
    expect(Buffer.from(m(1n)).equals(Buffer.from(m(2n)))).toBe(false)
    expect(() => clusterMsgId({ type: 'unsigned', topic: 't', data: new Uint8Array() })).toThrow(/signed/)
  })
})
