/**
 * State keys as upstream builds them (`state/dsstate`: `dshelp.NewKeyFromBinary`
 * of the CID bytes): `/` + RFC 4648 base32 (upper case, no padding) of the
 * binary CID, e.g. `/CIQ…` for a CIDv0, `/AFY…` for a CIDv1.
 */
import { base32upper } from 'multiformats/bases/base32'
import { CID } from 'multiformats/cid'

/** `/<BASE32(cid bytes)>` */
export function cidToKeyString(cid: CID): string {
  return '/' + base32upper.baseEncode(cid.bytes)
}

/** Inverse of `cidToKeyString` (accepts the last path segment of a longer key). @throws Error on a malformed key. */
export function keyStringToCid(key: string): CID {
  const i = key.lastIndexOf('/')
  return CID.decode(base32upper.baseDecode(key.slice(i + 1)))
}

/** `/<BASE32(bytes)>` as go's `dshelp.MultihashToDsKey` / `NewKeyFromBinary`. */
export function binaryToKeyString(bytes: Uint8Array): string {
  return '/' + base32upper.baseEncode(bytes)
}

/** Inverse of `binaryToKeyString` (last path segment). */
export function keyStringToBinary(key: string): Uint8Array {
  const i = key.lastIndexOf('/')
  return base32upper.baseDecode(key.slice(i + 1))
}
