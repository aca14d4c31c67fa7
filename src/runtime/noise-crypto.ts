/**
 * The crypto of the noise handshake and transport (`@chainsafe/libp2p-noise`)
 * for this runtime. Noise's default crypto uses `node:crypto`
 * chacha20-poly1305 for messages of 1200 bytes or more, which Bun lacks
 * ("Unknown cipher"). Here messages of at least {@link PURE_JS_MIN_BYTES}
 * go through @noble/ciphers (pure JS), which JIT-compiled beats the
 * as-chacha20poly1305 wasm build on large messages, and smaller ones
 * through the wasm build, which is faster there (`bun bench/noise-crypto.ts`
 * measures both). Both work under every runtime and give the same bytes.
 * Used by the cluster host (src/host/).
 */
import { asCrypto, defaultCrypto, pureJsCrypto } from '@chainsafe/libp2p-noise/crypto'

/** Messages at least this long (bytes) are sealed and opened by the pure JS implementation. */
export const PURE_JS_MIN_BYTES = 8192

/** `noise({ crypto: noiseCrypto })`. */
export const noiseCrypto: typeof defaultCrypto = {
  ...defaultCrypto,
  chaCha20Poly1305Encrypt(plaintext, nonce, ad, k) {
    return (plaintext.byteLength >= PURE_JS_MIN_BYTES ? pureJsCrypto : asCrypto).chaCha20Poly1305Encrypt(plaintext, nonce, ad, k)
  },
  chaCha20Poly1305Decrypt(ciphertext, nonce, ad, k, dst) {
    return (ciphertext.byteLength >= PURE_JS_MIN_BYTES ? pureJsCrypto : asCrypto).chaCha20Poly1305Decrypt(ciphertext, nonce, ad, k, dst)
  }
}
