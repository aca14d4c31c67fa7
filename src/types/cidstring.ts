/**
 * `cid.toString()` for the listing hot path. For a CIDv1 the default string
 * is multibase base32 (`b` + RFC 4648 lower case, no padding) of the CID's
 * bytes; this encodes it with a table into one array of character codes
 * (multiformats' generic encoder appends one character at a time and
 * looks the result up in a per-CID cache: 15% of listing 100,000 pins).
 * A CIDv0 (base58btc) goes to `cid.toString()`. Same output in every case.
 */
import type { CID } from 'multiformats/cid'

const ALPHABET = 'abcdefghijklmnopqrstuvwxyz234567'
const CODES = Array.from(ALPHABET, (c) => c.charCodeAt(0))
const B = 'b'.charCodeAt(0)
/** reused output buffer (character codes); CIDs are short */
let out: number[] = []

/**
 * The last CIDs encoded, by identity: a global status keys its merge by
 * the CID's string and then writes the same CID object's string in the
 * JSON a few items later.
 */
const RECENT = 8
const recentCids: (CID | undefined)[] = new Array(RECENT).fill(undefined)
const recentStrings: string[] = new Array(RECENT).fill('')
let nextRecent = 0

/** The string form of `cid`, as `cid.toString()` gives it. */
export function cidString(cid: CID): string {
  for (let i = 0; i < RECENT; i++) if (recentCids[i] === cid) return recentStrings[i]!
  const s = encode(cid)
  recentCids[nextRecent] = cid
  recentStrings[nextRecent] = s
  nextRecent = (nextRecent + 1) % RECENT
  return s
}

function encode(cid: CID): string {
  if (cid.version !== 1) return cid.toString()
  const bytes = cid.bytes
  const n = 1 + Math.ceil((bytes.length * 8) / 5)
  if (out.length !== n) out = new Array<number>(n)
  out[0] = B
  let j = 1
  let buffer = 0
  let bits = 0
  for (let i = 0; i < bytes.length; i++) {
    buffer = ((buffer << 8) | bytes[i]!) & 0xffff
    bits += 8
    while (bits >= 5) {
      bits -= 5
      out[j++] = CODES[(buffer >> bits) & 31]!
    }
  }
  if (bits > 0) out[j++] = CODES[(buffer << (5 - bits)) & 31]!
  return String.fromCharCode.apply(null, out)
}
