/**
 * The pinset over a datastore (upstream `state/dsstate`): one key per CID,
 * `<namespace>/<BASE32(cid bytes)>`, whose value is the protobuf Pin
 * (`codec.ts`). Used for offline state handling and by tests; the crdt
 * consensus exposes its own ReadOnlyState over the CRDT set.
 */
import { timeSlicer } from '../runtime/slicer.ts'
import { Key } from 'interface-datastore'
import type { Batch, Datastore } from 'interface-datastore'
import type { CID } from 'multiformats/cid'
import { errorMessage, errorName, NotFoundError } from '../errors.ts'
import type { AbortOptions, BatchingState } from '../interfaces.ts'
import { getLogger } from '../observability/logging.ts'
import type { Pin } from '../types/index.ts'
import { pinFromProtobuf, pinToProtobuf } from './codec.ts'
import { cidToKeyString, keyStringToCid } from './keys.ts'

const log = getLogger('dsstate')

export interface DsStateInit {
  /** key namespace, e.g. `/` (default) or `/pins`. */
  namespace?: string
  /** when true, add/rm are buffered in a datastore batch until `commit()`. */
  batching?: boolean
}

export class DsState implements BatchingState {
  private readonly ds: Datastore
  private readonly ns: string
  private readonly batching: boolean
  private batch: Batch | undefined

  constructor(init: DsStateInit, components: { datastore: Datastore }) {
    this.ds = components.datastore
    const ns = init.namespace ?? '/'
    this.ns = ns === '/' ? '' : ns.replace(/\/+$/, '')
    this.batching = init.batching === true
  }

  private key(cid: CID): Key {
    return new Key(this.ns + cidToKeyString(cid), false)
  }

  /** Adds or replaces a pin. */
  async add(pin: Pin, options?: AbortOptions): Promise<void> {
    options?.signal?.throwIfAborted()
    const v = pinToProtobuf(pin)
    if (this.batching) {
      this.batch ??= this.ds.batch()
      this.batch.put(this.key(pin.cid), v)
      return
    }
    await this.ds.put(this.key(pin.cid), v, options)
  }

  /** Removes a pin; no-op when absent. */
  async rm(cid: CID, options?: AbortOptions): Promise<void> {
    options?.signal?.throwIfAborted()
    if (this.batching) {
      this.batch ??= this.ds.batch()
      this.batch.delete(this.key(cid))
      return
    }
    await this.ds.delete(this.key(cid), options)
  }

  /** @throws NotFoundError when the CID is not in the state. */
  async get(cid: CID, options?: AbortOptions): Promise<Pin> {
    let v: Uint8Array
    try {
      v = await this.ds.get(this.key(cid), options)
    } catch (err) {
      if (errorName(err) === 'NotFoundError') throw new NotFoundError(`${cid.toString()} is not pinned`)
      throw err
    }
    return pinFromProtobuf(v, cid)
  }

  async has(cid: CID, options?: AbortOptions): Promise<boolean> {
    return await this.ds.has(this.key(cid), options)
  }

  /** Streams every pin (in key order on sorted datastores). Undecodable entries are logged and skipped. */
  async *list(options?: AbortOptions): AsyncGenerator<Pin> {
    const prefix = this.ns + '/'
    const turn = timeSlicer() // sqlite and leveldb pages are read synchronously (see slicer.ts)
    for await (const { key, value } of this.ds.query({ prefix }, options)) {
      options?.signal?.throwIfAborted()
      const t = turn()
      if (t !== undefined) await t
      const k = key.toString()
      if (k.indexOf('/', prefix.length) !== -1) continue // a deeper key, not ours
      let cid: CID
      try {
        cid = keyStringToCid(k)
      } catch (err) {
        log.warn(`bad key (ignoring): ${k}: ${errorMessage(err)}`)
        continue
      }
      try {
        yield pinFromProtobuf(value, cid)
      } catch (err) {
        log.error(`error deserializing pin (${k}): ${errorMessage(err)}`)
      }
    }
  }

  /** Writes buffered operations (batching mode); no-op otherwise. */
  async commit(options?: AbortOptions): Promise<void> {
    const b = this.batch
    this.batch = undefined
    if (b !== undefined) await b.commit(options)
  }
}
