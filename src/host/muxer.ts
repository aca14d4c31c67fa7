/**
 * The stream muxer of the cluster host: yamux with a read buffer as large
 * as a stream's receive window.
 *
 * A reader that cannot keep up pauses its stream (`rpc/rpc.ts`,
 * `READ_HIGH_WATER_BYTES`): yamux then stops sending window updates and the
 * sender stops once the window granted so far is spent. That granted data
 * still arrives and waits in the paused stream's read buffer, which yamux
 * bounds at 4 MiB by default while a window grows to 16 MiB: a paused
 * stream would be aborted (`Read buffer length … exceeded limit`) instead of
 * holding its sender back. The buffer limit here holds a whole window.
 */
import { yamux } from '@chainsafe/libp2p-yamux'

/** Largest receive window of one yamux stream (bytes): `@chainsafe/libp2p-yamux`'s and go-yamux's default. */
export const MAX_STREAM_WINDOW_BYTES = 16 * 1024 * 1024

/** The cluster host's yamux: a paused stream holds a whole window (plus frames in flight). */
export function clusterYamux(): ReturnType<typeof yamux> {
  return yamux({
    streamOptions: {
      maxStreamWindowSize: MAX_STREAM_WINDOW_BYTES,
      maxReadBufferLength: MAX_STREAM_WINDOW_BYTES + 1024 * 1024
    }
  })
}
