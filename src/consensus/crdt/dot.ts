/**
 * The CRDT-DAG as a Graphviz DOT document (go-ds-crdt `DotDAG`, v0.6.8; used by
 * `service state crdt dot`). Layout, as go-ds-crdt writes it:
 *
 *     digraph CRDTDAG {
 *     subgraph heads {
 *     <head CID>            one line per head
 *     }
 *     <CID> [label="<priority> | <last 4 chars of CID>: +<elements> -<tombstones>"]
 *     <CID> -> {<child CID> <child CID> }
 *     subgraph sg_<CID> {
 *     <child CID>           one line per child
 *     }
 *     …                     every node once, depth-first from each head
 *     }
 *
 * Memory: one entry per DAG node (the visited set) plus the walk's stack.
 */
import type { CID } from 'multiformats/cid'
import type { AbortOptions } from '../../interfaces.ts'
import { blockId, decodeNode } from './dag.ts'

/** Reads one DAG node's bytes. @throws NotFoundError when absent. */
export type BlockReader = (cid: CID, options?: AbortOptions) => Promise<Uint8Array>

/**
 * Writes the DOT document of the DAG below `heads`, line by line.
 * @returns the number of nodes written.
 * @throws what `read` throws (a missing block stops the walk).
 */
export async function writeDotDag(
  heads: CID[],
  read: BlockReader,
  write: (line: string) => void | Promise<void>,
  options?: AbortOptions
): Promise<number> {
  await write('digraph CRDTDAG {\n')
  await write('subgraph heads {\n')
  for (const h of heads) await write(`${h.toString()}\n`)
  await write('}\n')
  const seen = new Set<string>()
  // pre-order depth-first, children in link order (go-ds-crdt's recursion)
  const stack: CID[] = [...heads].reverse()
  while (stack.length > 0) {
    options?.signal?.throwIfAborted()
    const cid = stack.pop()!
    const id = blockId(cid)
    if (seen.has(id)) continue
    seen.add(id)
    const { delta, links } = decodeNode(await read(cid, options))
    const long = cid.toString()
    await write(`${long} [label="${delta.priority} | ${long.slice(-4)}: +${delta.elements.length} -${delta.tombstones.length}"]\n`)
    await write(`${long} -> {${links.map((l) => `${l.toString()} `).join('')}}\n`)
    await write(`subgraph sg_${long} {\n`)
    for (const l of links) await write(`${l.toString()}\n`)
    await write('}\n')
    for (let i = links.length - 1; i >= 0; i--) stack.push(links[i]!)
  }
  await write('}\n')
  return seen.size
}
