/**
 * The cluster host's noise ChaCha20-Poly1305 (src/runtime/noise-crypto.ts):
 * whichever implementation a size goes to, the sealed bytes are the wasm
 * build's (what every other libp2p peer, Go's included, computes), each
 * opens the other's, and a changed byte is refused.
 */
import { describe, expect, test } from 'bun:test'
import { asCrypto } from '@chainsafe/libp2p-noise/crypto'
import { noiseCrypto, PURE_JS_MIN_BYTES } from '../../../src/runtime/noise-crypto.ts'

const bytes = (x: Uint8Array | { subarray(): Uint8Array }): Uint8Array => (x instanceof Uint8Array ? x : x.subarray())

describe('noiseCrypto', () => {
  const key = Uint8Array.from({ length: 32 }, (_, i) => i * 7 + 1)
  const nonce = Uint8Array.from({ length: 12 }, (_, i) => 255 - i)
  const ad = new TextEncoder().encode('handshake hash')
  const sizes = [0, 1, 1199, 1200, PURE_JS_MIN_BYTES - 1, PURE_JS_MIN_BYTES, PURE_JS_MIN_BYTES + 17, 65_519]

  test.each(sizes)('%d bytes: the same ciphertext as the wasm build; each opens the other', (size) => {
    const msg = Uint8Array.from({ length: size }, (_, i) => (i * 31 + size) & 0xff)
    const ours = bytes(noiseCrypto.chaCha20Poly1305Encrypt(msg, nonce, ad, key))
    const wasm = bytes(asCrypto.chaCha20Poly1305Encrypt(msg, nonce, ad, key))
    expect(ours.length).toBe(size + 16)
    expect(Buffer.from(ours).equals(Buffer.from(wasm))).toBe(true)
    expect(Buffer.from(bytes(noiseCrypto.chaCha20Poly1305Decrypt(wasm, nonce, ad, key))).equals(Buffer.from(msg))).toBe(true)
    expect(Buffer.from(bytes(asCrypto.chaCha20Poly1305Decrypt(ours, nonce, ad, key))).equals(Buffer.from(msg))).toBe(true)
  })

  test.each([100, PURE_JS_MIN_BYTES + 100])('%d bytes: a changed byte or other associated data is refused', (size) => {
    const msg = new Uint8Array(size).fill(9)
    const sealed = Uint8Array.from(bytes(noiseCrypto.chaCha20Poly1305Encrypt(msg, nonce, ad, key)))
    expect(() => noiseCrypto.chaCha20Poly1305Decrypt(sealed, nonce, new Uint8Array(0), key)).toThrow()
    sealed[size >> 1]! ^= 1
    expect(() => noiseCrypto.chaCha20Poly1305Decrypt(sealed, nonce, ad, key)).toThrow()
  })
})
