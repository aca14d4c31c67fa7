/**
 * State export/import as upstream's `ipfs-cluster-service state
 * export|import` (cmdutils/state.go): export writes one upstream Pin JSON
 * object per line (Go `json.Encoder`); import reads a stream of JSON
 * values, one after another, in any layout (Go `json.Decoder`: NDJSON or
 * pretty-printed objects as in upstream's `sharness/test_data/importState`).
 */
import { errorMessage, InvalidArgumentError } from '../errors.ts'
import type { AbortOptions, ReadOnlyState, State } from '../interfaces.ts'
import type { PeerId, Pin } from '../types/index.ts'
import { pinFromJSON, pinToJSON } from '../types/json.ts'

/**
 * Streams every pin of `state` to `write` as one JSON line each.
 * @returns the number of pins written.
 */
export async function exportState(
  state: ReadOnlyState,
  write: (line: string) => void | Promise<void>,
  options?: AbortOptions
): Promise<number> {
  let n = 0
  for await (const pin of state.list(options)) {
    await write(JSON.stringify(pinToJSON(pin)) + '\n')
    n++
  }
  return n
}

/** Overrides applied to every imported pin (upstream `state import` flags). */
export interface ImportOptions extends AbortOptions {
  /** > 0 replaces each pin's replication_factor_min. */
  replicationFactorMin?: number
  /** > 0 replaces each pin's replication_factor_max. */
  replicationFactorMax?: number
  /** non-empty: set as each pin's allocations. */
  userAllocations?: PeerId[]
}

/**
 * Splits a text stream into top-level JSON values (objects, arrays,
 * strings, numbers, literals), yielding each value's text.
 * @throws InvalidArgumentError on unbalanced input at the end.
 */
export async function* jsonValues(chunks: AsyncIterable<string | Uint8Array> | Iterable<string | Uint8Array>): AsyncGenerator<string> {
  const dec = new TextDecoder()
  const ws = (c: string): boolean => c === ' ' || c === '\n' || c === '\r' || c === '\t'
  let buf = ''
  let pos = 0 // next character to scan
  let start = -1 // start of the pending value, -1 = between values
  let depth = 0
  let inString = false
  let escaped = false
  let scalar = false
  for await (const chunk of chunks) {
    buf += typeof chunk === 'string' ? chunk : dec.decode(chunk, { stream: true })
    while (pos < buf.length) {
      const ch = buf[pos]!
      if (start === -1) {
        if (!ws(ch)) {
          start = pos
          if (ch === '{' || ch === '[') depth = 1
          else if (ch === '"') inString = true
          else scalar = true
        }
        pos++
        continue
      }
      if (inString) {
        if (escaped) escaped = false
        else if (ch === '\\') escaped = true
        else if (ch === '"') {
          inString = false
          if (depth === 0) {
            yield buf.slice(start, pos + 1)
            start = -1
          }
        }
        pos++
        continue
      }
      if (scalar) {
        if (ws(ch) || ch === '{' || ch === '[' || ch === '"') {
          yield buf.slice(start, pos)
          start = -1
          scalar = false
          continue // rescan this character as the start of the next value
        }
        pos++
        continue
      }
      if (ch === '"') inString = true
      else if (ch === '{' || ch === '[') depth++
      else if (ch === '}' || ch === ']') {
        depth--
        if (depth === 0) {
          yield buf.slice(start, pos + 1)
          start = -1
        }
      }
      pos++
    }
    const cut = start === -1 ? pos : start
    buf = buf.slice(cut)
    pos -= cut
    if (start !== -1) start = 0
  }
  buf += dec.decode()
  if (start === -1) return
  if (scalar) {
    yield buf.slice(start)
    return
  }
  throw new InvalidArgumentError('state import: unexpected end of JSON input')
}

/**
 * The parsed top-level JSON values of a text stream. While every line holds
 * one whole value (NDJSON, what `exportState` writes) lines are parsed as
 * they come, with no character-by-character scan; from the first line that
 * is not (pretty-printed or several values on a line), `jsonValues` takes
 * over from that line on.
 * @throws InvalidArgumentError on malformed JSON.
 */
export async function* parsedJsonValues(chunks: AsyncIterable<string | Uint8Array>): AsyncGenerator<unknown> {
  const dec = new TextDecoder()
  const it = chunks[Symbol.asyncIterator]()
  let buf = ''
  for (let done = false; !done; ) {
    const r = await it.next()
    if (r.done === true) {
      done = true
      buf += dec.decode()
    } else buf += typeof r.value === 'string' ? r.value : dec.decode(r.value, { stream: true })
    let start = 0
    for (;;) {
      const nl = buf.indexOf('\n', start)
      if (nl === -1 && !done) break
      const end = nl === -1 ? buf.length : nl
      const line = buf.slice(start, end)
      if (line.trim() !== '') {
        let value: unknown
        let whole = true
        try {
          value = JSON.parse(line)
        } catch {
          whole = false
        }
        if (!whole) {
          // not one value per line: the general scanner reads the rest, from this line
          const rest = buf.slice(start)
          async function* remaining(): AsyncGenerator<string> {
            yield rest
            if (done) return
            for (let n = await it.next(); n.done !== true; n = await it.next()) {
              yield typeof n.value === 'string' ? n.value : dec.decode(n.value, { stream: true })
            }
            yield dec.decode()
          }
          for await (const text of jsonValues(remaining())) yield parseValue(text)
          return
        }
        yield value
      }
      if (nl === -1) {
        start = buf.length
        break
      }
      start = nl + 1
    }
    buf = buf.slice(start)
  }
}

function parseValue(text: string): unknown {
  try {
    return JSON.parse(text)
  } catch (err) {
    throw new InvalidArgumentError(`state import: invalid JSON: ${errorMessage(err)}`)
  }
}

/**
 * Adds every pin to `state` (upstream `importState`). `pins` yields Pin
 * objects, or text/bytes chunks of a JSON value stream.
 * @returns the number of pins imported.
 * @throws InvalidArgumentError on malformed JSON or a bad pin.
 */
export async function importState(
  state: State,
  pins: AsyncIterable<Pin | string | Uint8Array> | Iterable<Pin | string | Uint8Array>,
  options?: ImportOptions
): Promise<number> {
  let n = 0
  const add = async (pin: Pin): Promise<void> => {
    options?.signal?.throwIfAborted()
    if ((options?.replicationFactorMax ?? 0) > 0) pin.replicationFactorMax = options!.replicationFactorMax!
    if ((options?.replicationFactorMin ?? 0) > 0) pin.replicationFactorMin = options!.replicationFactorMin!
    if ((options?.userAllocations?.length ?? 0) > 0) pin.allocations = [...options!.userAllocations!]
    await state.add(pin, options)
    n++
  }
  async function* textChunks(): AsyncGenerator<string | Uint8Array> {
    for await (const item of pins) {
      if (typeof item === 'string' || item instanceof Uint8Array) yield item
      else await add(item)
    }
  }
  for await (const parsed of parsedJsonValues(textChunks())) await add(pinFromJSON(parsed))
  return n
}
