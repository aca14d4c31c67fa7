/**
 * `cid.toString()` for the listing hot path, and `CID.parse` for the
 * import and ingestion paths. For a CIDv1 the default string
 * is multibase base32 (`b` + RFC 4648 lower case, no padding) of the CID's
 * bytes; this encodes it with a table into one array of character codes
 * (multiformats' generic encoder appends one character at a time and
 * looks the result up in a per-CID cache: 15% of listing 100,000 pins).
 * A CIDv0 (base58btc) goes to `cid.toString()`. Same output in every case.
 */
import { CID } from 'multiformats/cid'
import { decodeCid } from './cidbytes.ts'

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

/** base32 lower-case character code → 5-bit value, -1 outside the alphabet */
const DECODE = new Int8Array(128).fill(-1)
for (let i = 0; i < ALPHABET.length; i++) DECODE[ALPHABET.charCodeAt(i)] = i
/** CIDs longer than this (in characters) go to `CID.parse` */
const MAX_FAST = 128

/**
 * `CID.parse(s)`: the same CID, or the same error. A multibase base32
 * string (`b…`, the CIDv1 default) is decoded here with a table and
 * `decodeCid` (multiformats' generic decoder looks up the multibase and
 * builds the bytes through per-character calls: 10% of `state import`);
 * anything else, or anything this path finds malformed (a character
 * outside the alphabet, non-zero trailing bits as RFC 4648 forbids), goes
 * to `CID.parse`, which throws its own error.
 * @throws what `CID.parse` throws for a malformed CID string
 */
export function parseCidString(s: string): CID {
  const n = s.length
  if (n > 1 && n <= MAX_FAST && s.charCodeAt(0) === B) {
    const bytes = base32Decode(s)
    if (bytes !== undefined) {
      try {
        const cid = decodeCid(bytes)
        if (cid.version === 1) return cid
      } catch {
        // CID.parse below throws the error callers expect
      }
    }
  }
  return CID.parse(s)
}

/** RFC 4648 base32 (lower case, no padding) of `s` after its first character, or undefined when malformed. */
function base32Decode(s: string): Uint8Array | undefined {
  const chars = s.length - 1
  const out = new Uint8Array(Math.floor((chars * 5) / 8))
  let buffer = 0
  let bits = 0
  let j = 0
  for (let i = 1; i < s.length; i++) {
    const c = s.charCodeAt(i)
    const v = c < 128 ? DECODE[c]! : -1
    if (v < 0) return undefined
    buffer = ((buffer << 5) | v) & 0xffff
    bits += 5
    if (bits >= 8) {
      bits -= 8
      out[j++] = (buffer >> bits) & 0xff
    }
  }
  // what multiformats' decoder refuses: a whole spare character, or spare bits that are not zero
  if (bits >= 5 || ((buffer << (8 - bits)) & 0xff) !== 0) return undefined
  return out
}
