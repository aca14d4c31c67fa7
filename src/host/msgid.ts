/**
 * Gossipsub message IDs as upstream's cluster host computes them
 * (`clusterhost.go` `hashMsgID`, given to go-libp2p-pubsub with
 * `WithMessageIdFn`): the first 16 bytes of the sender's peer ID bytes
 * (`From`) followed by the 8-byte big-endian sequence number (`Seqno`).
 * js gossipsub's default (protobuf public key + seqno) differs, so without
 * this Go and our peers would not recognise each other's IHAVE/IWANT ids.
 */
import type { Message } from '@libp2p/gossipsub'

/**
 * `From[0:16] ++ Seqno` of a signed message.
 * @throws Error for an unsigned message (the cluster only accepts signed ones, StrictSign)
 */
export function clusterMsgId(msg: Message): Uint8Array {
  if (msg.type !== 'signed') throw new Error('cluster pubsub: expected a signed message')
  const from = msg.from.toMultihash().bytes.subarray(0, 16)
  const id = new Uint8Array(from.byteLength + 8)
  id.set(from, 0)
  new DataView(id.buffer).setBigUint64(from.byteLength, msg.sequenceNumber)
  return id
}
