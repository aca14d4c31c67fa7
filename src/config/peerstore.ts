/**
 * The `peerstore` file: one multiaddr per line, each ending in `/p2p/<peer id>`
 * (upstream `pstoremgr`). Reading never fails on content: bad lines are
 * skipped with a warning.
 */
import { mkdir, readFile, writeFile } from 'node:fs/promises'
import { dirname } from 'node:path'
import { peerIdFromString } from '@libp2p/peer-id'
import { multiaddr } from '@multiformats/multiaddr'
import { errorMessage } from '../errors.ts'
import { getLogger } from '../observability/logging.ts'

const log = getLogger('config')

/** The peer ID at the end of a `/p2p/` multiaddr, or why there is none. */
function check(line: string): string | null {
  let id: string | undefined
  try {
    id = multiaddr(line).getComponents().findLast((c) => c.name === 'p2p' || c.name === 'ipfs')?.value
  } catch (err) {
    return errorMessage(err)
  }
  if (id === undefined) return 'no /p2p/<peer id>'
  try {
    peerIdFromString(id)
  } catch {
    return `invalid peer ID "${id}"`
  }
  return null
}

/**
 * Reads the peerstore file. A missing file is an empty peerstore.
 * Blank lines are ignored; lines that are not `/p2p/` multiaddrs are
 * skipped with a warning.
 * @returns the multiaddr strings, in file order, without duplicates.
 */
export async function readPeerstore(path: string): Promise<string[]> {
  let text: string
  try {
    text = await readFile(path, 'utf8')
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') {
      log.warn(`could not read peerstore ${path}: ${errorMessage(err)}`)
    }
    return []
  }
  const out: string[] = []
  const lines = text.split(/\r?\n/)
  for (let i = 0; i < lines.length; i++) {
    const line = (lines[i] ?? '').trim()
    if (line === '') continue
    const problem = line.startsWith('/') ? check(line) : 'not a multiaddr'
    if (problem !== null) {
      log.warn(`${path}:${i + 1}: skipping "${line}": ${problem}`)
      continue
    }
    if (!out.includes(line)) out.push(line)
  }
  return out
}

/**
 * Writes the peerstore file, one multiaddr per line (creating its folder).
 * Entries without a valid `/p2p/<peer id>` are skipped with a warning.
 */
export async function writePeerstore(path: string, addrs: Iterable<string>): Promise<void> {
  const lines: string[] = []
  for (const a of addrs) {
    const line = a.trim()
    const problem = check(line)
    if (problem !== null) {
      log.warn(`not saving "${line}" to the peerstore: ${problem}`)
      continue
    }
    if (!lines.includes(line)) lines.push(line)
  }
  await mkdir(dirname(path), { recursive: true, mode: 0o700 })
  await writeFile(path, lines.map((l) => `${l}\n`).join(''), { mode: 0o600 })
}
