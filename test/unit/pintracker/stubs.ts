/**
 * Small in-memory stand-ins for the tracker's components: an IPFS
 * connector whose pins can be held open, made to fail, and counted, and a
 * read-only state over a Map.
 */
import { CID } from 'multiformats/cid'
import * as raw from 'multiformats/codecs/raw'
import { sha256 } from 'multiformats/hashes/sha2'
import { AbortError, IPFSError, NotFoundError } from '../../../src/errors.ts'
import type { AbortOptions, IPFSConnector, IPFSPinInfo, PinProgressHandler, ReadOnlyState } from '../../../src/interfaces.ts'
import { defaultPinOptions, type IPFSID, type IPFSPinStatus, type IPFSRepoStat, type Pin, pinWithOpts } from '../../../src/types/index.ts'

let counter = 0
export async function newCid(): Promise<CID> {
  counter++
  return CID.createV1(raw.code, await sha256.digest(new TextEncoder().encode(`cid-${counter}-${Math.random()}`)))
}

export async function newPin(over: Partial<Pin> = {}): Promise<Pin> {
  return { ...pinWithOpts(await newCid(), defaultPinOptions()), ...over }
}

interface Deferred {
  promise: Promise<void>
  resolve: () => void
}
function deferred(): Deferred {
  let resolve!: () => void
  const promise = new Promise<void>((r) => {
    resolve = r
  })
  return { promise, resolve }
}

export class StubIPFS implements IPFSConnector {
  readonly pins = new Map<string, 'recursive' | 'direct'>()
  /** Order in which pin calls started (CID strings). */
  readonly pinStarted: string[] = []
  readonly unpinStarted: string[] = []
  /** CIDs whose pin call was aborted through its signal. */
  readonly aborted: string[] = []
  active = 0
  maxActive = 0
  /** When true, pin calls wait until `release()` (or abort). */
  hold = false
  private gate = deferred()
  /** CIDs whose pin fails (with this message). */
  readonly failPins = new Map<string, string>()
  failPinLs = false
  failPinLsCid = false

  /** When true, unpin calls wait until `releaseUnpins()` (or abort). */
  holdUnpins = false
  private unpinGate = deferred()

  releaseUnpins(): void {
    this.holdUnpins = false
    this.unpinGate.resolve()
    this.unpinGate = deferred()
  }

  release(): void {
    this.hold = false
    this.gate.resolve()
    this.gate = deferred()
  }

  async start(): Promise<void> {}
  async stop(): Promise<void> {}

  async id(): Promise<IPFSID> {
    return { id: 'QmIPFSStub', addresses: ['/ip4/127.0.0.1/tcp/4001'], error: '' }
  }

  async pin(pin: Pin, options: AbortOptions & { onProgress?: PinProgressHandler } = {}): Promise<void> {
    const key = pin.cid.toString()
    this.pinStarted.push(key)
    this.active++
    this.maxActive = Math.max(this.maxActive, this.active)
    try {
      if (this.hold) {
        const signal = options.signal
        await new Promise<void>((resolve, reject) => {
          const onAbort = (): void => {
            this.aborted.push(key)
            reject(new AbortError())
          }
          if (signal?.aborted === true) return onAbort()
          signal?.addEventListener('abort', onAbort, { once: true })
          void this.gate.promise.then(() => {
            signal?.removeEventListener('abort', onAbort)
            resolve()
          })
        })
      }
      const fail = this.failPins.get(key)
      if (fail !== undefined) throw new IPFSError(fail)
      this.pins.set(key, pin.maxDepth === 0 ? 'direct' : 'recursive')
    } finally {
      this.active--
    }
  }

  async unpin(cid: CID, options: AbortOptions = {}): Promise<void> {
    this.unpinStarted.push(cid.toString())
    if (this.holdUnpins) {
      await new Promise<void>((resolve, reject) => {
        options.signal?.addEventListener('abort', () => reject(new AbortError()), { once: true })
        void this.unpinGate.promise.then(resolve)
      })
    }
    this.pins.delete(cid.toString())
  }

  async *pinLs(typeFilter: string): AsyncGenerator<IPFSPinInfo> {
    if (this.failPinLs) throw new IPFSError('IPFS request failed (is it running?) (pin/ls): refused')
    const types = typeFilter.split(',')
    for (const [k, t] of [...this.pins]) if (types.includes(t) || types.includes('all')) yield { cid: CID.parse(k), type: t }
  }

  async pinLsCid(pin: Pin): Promise<IPFSPinStatus> {
    if (this.failPinLsCid) throw new IPFSError('IPFS request failed (is it running?) (pin/ls): refused')
    const t = this.pins.get(pin.cid.toString())
    if (t === undefined) return 'unpinned'
    return pin.maxDepth === 0 ? (t === 'direct' ? 'direct' : 'unpinned') : t === 'recursive' ? 'recursive' : 'unpinned'
  }

  async connectSwarms(): Promise<void> {}
  async swarmConnect(): Promise<void> {}
  async swarmPeers(): Promise<string[]> {
    return []
  }
  async configKey(): Promise<unknown> {
    return undefined
  }
  async repoStat(): Promise<IPFSRepoStat> {
    return { repoSize: 0, storageMax: 0 }
  }
  async *repoGC(): AsyncGenerator<{ key: CID | null; error: string }> {}
  async resolve(path: string): Promise<CID> {
    return CID.parse(path.split('/').filter(Boolean)[1] ?? '')
  }
  async blockPut(): Promise<CID> {
    return newCid()
  }
  async blockGet(): Promise<Uint8Array> {
    return new Uint8Array()
  }
  async blockStream(blocks: AsyncIterable<{ cid: CID; bytes: Uint8Array }>): Promise<void> {
    for await (const _ of blocks) {
      // the tracker never streams blocks
    }
  }
}

export class MemState implements ReadOnlyState {
  readonly pins = new Map<string, Pin>()
  fail = false

  add(p: Pin): void {
    this.pins.set(p.cid.toString(), p)
  }

  rm(cid: CID): void {
    this.pins.delete(cid.toString())
  }

  async *list(): AsyncGenerator<Pin> {
    if (this.fail) throw new Error('state unavailable')
    for (const p of [...this.pins.values()]) yield p
  }

  async has(cid: CID): Promise<boolean> {
    return this.pins.has(cid.toString())
  }

  async get(cid: CID): Promise<Pin> {
    if (this.fail) throw new Error('state unavailable')
    const p = this.pins.get(cid.toString())
    if (p === undefined) throw new NotFoundError(`${cid} not found`)
    return p
  }
}
