/**
 * Multihash functions for `hash=` (kubo's `ipfs add --hash`), built from
 * `@noble/hashes` with multiformats' `hasher.from`. Names and codes are
 * the multicodec table's (go-multihash `multihash.Names`).
 */
import { blake2b, blake2s } from '@noble/hashes/blake2.js'
import { blake3 } from '@noble/hashes/blake3.js'
import { sha3_224, sha3_256, sha3_384, sha3_512, keccak_256, keccak_512 } from '@noble/hashes/sha3.js'
import { from } from 'multiformats/hashes/hasher'
import type { MultihashHasher } from 'multiformats/hashes/interface'
import { sha256, sha512 } from 'multiformats/hashes/sha2'
import { InvalidArgumentError } from '../errors.ts'

function noble(name: string, code: number, fn: (b: Uint8Array) => Uint8Array): MultihashHasher {
  return from({ name, code, encode: (b) => fn(b) as Uint8Array<ArrayBuffer> })
}

const HASHERS: Record<string, MultihashHasher> = {
  'sha2-256': sha256,
  'sha2-512': sha512,
  'sha3-224': noble('sha3-224', 0x17, sha3_224),
  'sha3-256': noble('sha3-256', 0x16, sha3_256),
  'sha3-384': noble('sha3-384', 0x15, sha3_384),
  'sha3-512': noble('sha3-512', 0x14, sha3_512),
  'keccak-256': noble('keccak-256', 0x1b, keccak_256),
  'keccak-512': noble('keccak-512', 0x1d, keccak_512),
  'blake2b-256': noble('blake2b-256', 0xb220, (b) => blake2b(b, { dkLen: 32 })),
  'blake2b-512': noble('blake2b-512', 0xb240, (b) => blake2b(b, { dkLen: 64 })),
  'blake2s-256': noble('blake2s-256', 0xb260, (b) => blake2s(b, { dkLen: 32 })),
  blake3: noble('blake3', 0x1e, (b) => blake3(b, { dkLen: 32 }))
}

/** The names `hash=` accepts. */
export const HASH_NAMES: readonly string[] = Object.keys(HASHERS)

/**
 * The hasher for a multihash name (case-insensitive).
 * @throws InvalidArgumentError "hash function name not known" (upstream's text).
 */
export function hasherFor(name: string): MultihashHasher {
  const h = HASHERS[name.toLowerCase()]
  if (h === undefined) throw new InvalidArgumentError(`hash function name not known: ${name}`)
  return h
}
