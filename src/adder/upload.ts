/**
 * An upload's way in, for `POST /add` and the IPFS proxy's `add`: relayed
 * to kubo's own `add` when the blocks go to the local kubo only and
 * nothing could differ (see `relay.ts`), else the cluster adder
 * ({@link addEntries} over the parsed multipart body).
 */
import { CID } from 'multiformats/cid'
import { AbortError, errorMessage, InvalidArgumentError } from '../errors.ts'
import type { AbortOptions } from '../interfaces.ts'
import { getLogger } from '../observability/logging.ts'
import type { AddedOutput } from '../types/index.ts'
import { type AddDestinations, type AdderComponents, type AddOutput, type AddResult, addEntries, destinationsOf, pinOptionsOf } from './adder.ts'
import { parseMultipart } from './multipart.ts'
import { BlockAdderError } from './sink.ts'
import type { AddParams } from './params.ts'
import { type AddRelay, checkedParts, type KuboAddEvent, relayQuery, relayRefusal } from './relay.ts'

const log = getLogger('adder')

/** What {@link addUpload} uses: the adder's components and, optionally, the relay to the local kubo. */
export interface UploadComponents extends AdderComponents {
  /** kubo's own `add` (the `IpfsHttpConnector`); without it every add is built by the cluster adder. */
  relay?: AddRelay
  /** `false`: never relay (a test knob: the cluster adder's output to compare with). */
  relayEnabled?: boolean
}

export interface AddUploadOptions extends AbortOptions {
  /** `add?only-hash=true` of the proxy: nothing is stored anywhere, nothing pinned (`params.noPin` must be set). */
  onlyHash?: boolean
  /** the path given to a part without a name (see `parseMultipart`); the relay leaves kubo's name (the CID). */
  unnamedFile?: string
  /** the body's length, when the request announced it (see `announcedLength`): the relay forwards it. */
  contentLength?: number
  onDone?: (r: AddResult & { relayed: boolean }) => void
}

/**
 * Adds a multipart upload and yields its output lines (see
 * {@link addEntries}, whose lines the relayed add gives the same for the
 * same upload and options). Closing the generator early aborts the add:
 * nothing is pinned.
 * @throws as {@link addEntries}; IPFSError from kubo's `add` when relayed.
 */
export async function* addUpload(
  body: ReadableStream<Uint8Array> | AsyncIterable<Uint8Array>,
  contentType: string,
  params: AddParams,
  components: UploadComponents,
  options: AddUploadOptions = {}
): AsyncGenerator<AddOutput> {
  const signal = options.signal
  const destinations = await destinationsOf(params, components, { signal })
  const onlyHash = options.onlyHash === true
  let refusal: string | null = components.relay === undefined ? 'no relay to the IPFS daemon' : components.relayEnabled === false ? 'relay disabled' : null
  refusal ??= relayRefusal(params, { contentType, sinkPeers: destinations.sinkPeers, localPeer: components.localPeer, onlyHash })
  if (refusal === null && components.relay !== undefined) {
    try {
      refusal = await components.relay.relayRefusal({ signal })
    } catch (err) {
      signal?.throwIfAborted()
      refusal = `cannot read the IPFS daemon's config: ${errorMessage(err)}`
    }
  }
  if (refusal === null && components.relay !== undefined) {
    yield* relayedAdd(components.relay, body as AsyncIterable<Uint8Array>, contentType, params, components, destinations, options)
    return
  }
  log.debug(`add built by the cluster (not relayed: ${refusal})`)
  const entries = parseMultipart(body, contentType, { ...(signal !== undefined ? { signal } : {}), ...(options.unnamedFile !== undefined ? { unnamedFile: options.unnamedFile } : {}) })
  const onDone = options.onDone
  yield* addEntries(entries, params, components, {
    ...(signal !== undefined ? { signal } : {}),
    destinations,
    ...(onDone !== undefined ? { onDone: (r: AddResult) => onDone({ ...r, relayed: false }) } : {})
  })
}

/** kubo's output line as ours: a progress line, or an added node. */
function outputOf(ev: KuboAddEvent, allocations: string[] | undefined): AddOutput {
  if (ev.Hash === undefined || ev.Hash === '') return { name: ev.Name, bytes: ev.Bytes ?? 0 }
  const size = Number(ev.Size ?? '0')
  if (!Number.isSafeInteger(size)) throw new InvalidArgumentError(`kubo's add gave a bad size: ${String(ev.Size)}`)
  const out: AddedOutput = { name: ev.Name, cid: CID.parse(ev.Hash), size }
  if (allocations !== undefined) out.allocations = allocations
  return out
}

async function* relayedAdd(
  relay: AddRelay,
  body: AsyncIterable<Uint8Array>,
  contentType: string,
  params: AddParams,
  components: UploadComponents,
  { dests }: AddDestinations,
  options: AddUploadOptions
): AsyncGenerator<AddOutput> {
  const ctrl = new AbortController()
  const outer = options.signal
  const onOuterAbort = (): void => ctrl.abort(outer?.reason)
  if (outer?.aborted === true) ctrl.abort(outer.reason)
  outer?.addEventListener('abort', onOuterAbort, { once: true })
  const signal = ctrl.signal
  const onlyHash = options.onlyHash === true
  const allocations = dests.length > 0 ? dests : undefined
  // the upload, not closed when kubo's request stops reading it: after a
  // failure the rest is read and dropped before the error is answered, so
  // the client, still sending, gets the error and not a broken pipe
  const source = body[Symbol.asyncIterator]()
  const unclosed: AsyncIterable<Uint8Array> = { [Symbol.asyncIterator]: () => ({ next: () => source.next() }) }
  const drain = async (): Promise<void> => {
    try {
      for (let r = await source.next(); r.done !== true && !signal.aborted; r = await source.next()) {}
    } catch {
      // the client went away meanwhile: nothing to answer
    }
  }
  // an upload the cluster adder's parser refuses fails with its error, not kubo's
  let checkError: unknown
  // the directories of the upload (their parts come before kubo's lines for them)
  const dirs = new Set<string>([''])
  const checked = (async function* (): AsyncGenerator<Uint8Array> {
    try {
      yield* checkedParts(unclosed, contentType, { unnamedFile: options.unnamedFile !== undefined, onDir: (p) => dirs.add(p) })
    } catch (err) {
      checkError = err
      throw err
    }
  })()
  let finished = false
  try {
    log.debug('add relayed to the IPFS daemon')
    // the cluster adder's order: files and symlinks as they are done, every
    // directory at the end (kubo gives a top-level folder's directories
    // after its files, before the next top-level entry)
    const pending: AddOutput[] = []
    const held: AddOutput[] = []
    try {
      for await (const ev of relay.add(checked, contentType, relayQuery(params, onlyHash), { signal, contentLength: options.contentLength })) {
        const o = outputOf(ev, allocations)
        if (o.cid === undefined) {
          if (params.progress) yield o
          continue
        }
        if (dirs.has(o.name)) {
          held.push(o)
          continue
        }
        // as the cluster adder: the last line waits for the end of kubo's add
        pending.push(o)
        while (pending.length > 1) yield pending.shift() as AddOutput
      }
    } catch (err) {
      if (signal.aborted) throw new AbortError('add aborted: the request was cancelled (the client went away?)')
      await drain()
      if (checkError !== undefined) throw checkError
      // the local kubo was the only destination: the cluster adder's error
      if ((err as { name?: unknown } | null)?.name === 'IPFSError') throw new BlockAdderError(`${components.localPeer}: ${errorMessage(err)}`, { cause: err })
      throw err
    }
    if (checkError !== undefined) throw checkError
    pending.push(...held)
    // the root: the last top-level line, as the cluster adder's
    let root: CID | undefined
    for (const o of pending) if (!o.name.includes('/')) root = o.cid
    if (root === undefined) throw new InvalidArgumentError('no files in the upload')
    for (const o of pending) yield o
    let pinned = false
    if (!params.noPin && !onlyHash) {
      await components.pin(root, { ...pinOptionsOf(params), allocations: dests }, { signal })
      pinned = true
      log.info(`${root.toString()} successfully added to cluster`)
    } else log.info(`${root.toString()} added (not pinned: ${onlyHash ? 'only-hash' : 'no-pin'})`)
    finished = true
    options.onDone?.({ root, allocations: dests, pinned, relayed: true })
  } catch (err) {
    finished = true
    log.error(`error adding to cluster: ${errorMessage(err)}`)
    throw err
  } finally {
    outer?.removeEventListener('abort', onOuterAbort)
    if (!finished) {
      source.return?.().catch(() => {})
      ctrl.abort(new AbortError('add aborted: the client went away'))
      log.warn('add aborted, nothing pinned: the client went away')
    }
  }
}
