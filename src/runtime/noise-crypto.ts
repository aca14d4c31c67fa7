/**
 * The crypto of the noise handshake (`@chainsafe/libp2p-noise`) for this
 * runtime. Noise's default crypto uses `node:crypto` chacha20-poly1305 for
 * messages of 1200 bytes or more, which Bun lacks ("Unknown cipher"): those
 * go through the as-chacha20poly1305 (wasm) implementation instead, which
 * works under every runtime. Used by the cluster host (src/host/).
 */
import { asCrypto, defaultCrypto } from '@chainsafe/libp2p-noise/crypto'

/** `noise({ crypto: noiseCrypto })`. */
export const noiseCrypto = {
  ...defaultCrypto,
  chaCha20Poly1305Encrypt: asCrypto.chaCha20Poly1305Encrypt,
  chaCha20Poly1305Decrypt: asCrypto.chaCha20Poly1305Decrypt
}
