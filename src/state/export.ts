/**
 * State export/import as upstream's `ipfs-cluster-service state export|import`
 * (cmd/ipfs-cluster-service/state.go): newline-delimited JSON, one upstream
 * Pin JSON object (`api.Pin` json tags) per line.
 */
import type { AbortOptions, ReadOnlyState, State } from '../interfaces.ts'
import type { Pin } from '../types/index.ts'
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

/**
 * Adds every pin to `state`. `pins` yields Pin objects, JSON objects or
 * NDJSON text chunks (split into lines here).
 * @returns the number of pins imported.
 * @throws InvalidArgumentError on a malformed line.
 */
export async function importState(
  state: State,
  pins: AsyncIterable<Pin | string | Uint8Array> | Iterable<Pin | string | Uint8Array>,
  options?: AbortOptions
): Promise<number> {
  let n = 0
  let rest = ''
  const dec = new TextDecoder()
  const addLine = async (line: string): Promise<void> => {
    const t = line.trim()
    if (t === '') return
    await state.add(pinFromJSON(JSON.parse(t)), options)
    n++
  }
  for await (const item of pins) {
    options?.signal?.throwIfAborted()
    if (typeof item === 'string' || item instanceof Uint8Array) {
      rest += typeof item === 'string' ? item : dec.decode(item, { stream: true })
      const lines = rest.split('\n')
      rest = lines.pop() ?? ''
      for (const l of lines) await addLine(l)
    } else {
      await state.add(item, options)
      n++
    }
  }
  await addLine(rest)
  return n
}
