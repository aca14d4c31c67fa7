/**
 * `fetch` to an HTTP server, also over a unix socket (the IPFS proxy's
 * `node_multiaddress` may be `/unix/<path>`). Bun's `fetch` takes the
 * socket path in its `unix` option; this file is the only one that knows it.
 *
 * Bodies stream both ways: a `ReadableStream` request body is sent as it is
 * read (`duplex: 'half'`), and the response body is read as the caller
 * pulls it. Responses are never decompressed (`decompress: false`), so a
 * proxy can relay kubo's bytes and headers unchanged.
 */

/** Where an HTTP server listens: a base URL over TCP, or a unix socket. */
export interface FetchTarget {
  /** unix socket path; requests go there whatever the URL's host. */
  unixSocket?: string
}

/** `fetch(url, init)`, optionally over `target.unixSocket`. */
export function fetchVia(url: string, init: RequestInit, target: FetchTarget = {}): Promise<Response> {
  const opts: RequestInit & { duplex?: 'half'; unix?: string; decompress?: boolean } = { ...init, decompress: false }
  if (init.body instanceof ReadableStream) opts.duplex = 'half'
  if (target.unixSocket !== undefined) opts.unix = target.unixSocket
  return fetch(url, opts)
}
