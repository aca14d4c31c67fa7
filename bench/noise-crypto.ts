/**
 * The noise transport's ChaCha20-Poly1305 under this runtime: MB/s of
 * encrypt and decrypt for message sizes from 64 B to 65,519 B (noise's
 * largest), for the as-chacha20poly1305 wasm implementation and
 * @noble/ciphers (pure JS). The cluster host uses the wasm build for every
 * size (src/runtime/noise-crypto.ts). Sending messages of 8 KiB or
 * more through @noble/ciphers was tried in session 9 and reverted: raft's
 * join then failed every time (test/e2e/raft.test.ts), cause not found.
 *
 *   bun bench/noise-crypto.ts [--mb 64]   (MB moved per size and implementation)
 */
import { asCrypto, pureJsCrypto } from '@chainsafe/libp2p-noise/crypto'

const mbArg = process.argv.indexOf('--mb')
const MB = mbArg > 0 ? Number(process.argv[mbArg + 1]) : 64
const key = new Uint8Array(32).fill(7)
const nonce = new Uint8Array(12).fill(1)
const ad = new Uint8Array(0)
type Impl = Pick<typeof asCrypto, 'chaCha20Poly1305Encrypt' | 'chaCha20Poly1305Decrypt'>
const impls: [string, Impl][] = [
  ['wasm (as-chacha20poly1305)', asCrypto],
  ['pure JS (@noble/ciphers)', pureJsCrypto]
]

function rate(fn: () => void, bytes: number, n: number): number {
  const t0 = performance.now()
  for (let i = 0; i < n; i++) fn()
  return (bytes * n) / ((performance.now() - t0) * 1000)
}

console.log(`| size | ${impls.map(([name]) => `${name} enc / dec MB/s`).join(' | ')} |`)
console.log(`|---|${impls.map(() => '---').join('|')}|`)
for (const size of [64, 512, 1200, 4096, 8192, 16384, 65519]) {
  const msg = new Uint8Array(size).fill(3)
  const n = Math.max(100, Math.floor((MB * 1e6) / size))
  const cells: string[] = []
  for (const [, impl] of impls) {
    const sealed = impl.chaCha20Poly1305Encrypt(msg, nonce, ad, key)
    const sealedBytes = sealed instanceof Uint8Array ? sealed : sealed.subarray()
    // warm-up, then measure
    rate(() => impl.chaCha20Poly1305Encrypt(msg, nonce, ad, key), size, Math.ceil(n / 10))
    const enc = rate(() => impl.chaCha20Poly1305Encrypt(msg, nonce, ad, key), size, n)
    const dec = rate(() => impl.chaCha20Poly1305Decrypt(sealedBytes, nonce, ad, key), size, n)
    cells.push(`${enc.toFixed(0)} / ${dec.toFixed(0)}`)
  }
  console.log(`| ${size} | ${cells.join(' | ')} |`)
}
