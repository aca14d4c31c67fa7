/**
 * A libp2p node for RPC tests: tcp on 127.0.0.1 (port 0), noise, the
 * cluster host's yamux.
 *
 * Noise's default crypto hands messages of 1200 bytes or more to
 * `node:crypto`'s chacha20-poly1305, which Bun does not have ("Unknown
 * cipher": the connection dies on the first big message). The
 * AssemblyScript implementation is used for every size instead.
 */
import { noise } from '@chainsafe/libp2p-noise'
import type { Libp2p } from '@libp2p/interface'
import { clusterYamux } from '../../../src/host/muxer.ts'
import { clusterTcp as tcp } from '../../../src/host/tcp.ts'
import { createLibp2p } from 'libp2p'

import { noiseCrypto } from '../../../src/runtime/noise-crypto.ts'

export const bunSafeNoiseCrypto = noiseCrypto

export async function testNode(): Promise<Libp2p> {
  return createLibp2p({
    addresses: { listen: ['/ip4/127.0.0.1/tcp/0'] },
    transports: [tcp()],
    connectionEncrypters: [noise({ crypto: bunSafeNoiseCrypto })],
    streamMuxers: [clusterYamux()]
  })
}
