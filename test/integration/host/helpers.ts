import { afterAll, beforeAll } from 'bun:test'
/** Shared helpers of the host integration tests: hosts on 127.0.0.1, port 0, temp peerstores. */
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { generateKeyPair } from '@libp2p/crypto/keys'
import type { ConsolaReporter, LogObject } from 'consola'
import { type ClusterHost, type ClusterHostInit, createClusterHost } from '../../../src/host/index.ts'
import { setLogLevels, setLogReporters } from '../../../src/observability/logging.ts'

export const SECRET = new Uint8Array(32).fill(7)

export async function tempDir(): Promise<{ path: string; cleanup: () => Promise<void> }> {
  const path = await mkdtemp(join(tmpdir(), 'host-test-'))
  return { path, cleanup: () => rm(path, { recursive: true, force: true }) }
}

export async function makeHost(dir: string, name: string, over: Partial<ClusterHostInit> = {}): Promise<ClusterHost> {
  const privateKey = over.privateKey ?? (await generateKeyPair('Ed25519'))
  return await createClusterHost({
    privateKey,
    secret: SECRET,
    listenMultiaddress: ['/ip4/127.0.0.1/tcp/0', '/ip4/127.0.0.1/udp/0/quic-v1'],
    announceMultiaddress: [],
    noAnnounceMultiaddress: [],
    connectionManager: { highWater: 400, lowWater: 100, gracePeriodMs: 120_000 },
    mdnsIntervalMs: 0,
    dialPeerTimeoutMs: 3000,
    pubsub: {
      seenMessagesTtlMs: 60_000,
      heartbeatIntervalMs: 100,
      dFactor: 4,
      historyGossip: 2,
      historyLength: 6,
      floodPublish: false
    },
    peerstorePath: join(dir, `${name}-peerstore`),
    peerAddresses: [],
    ...over
  })
}

/** Captures log lines (all facilities) while `fn` runs. */
export function captureLogs(): { lines: string[]; restore: () => void } {
  const lines: string[] = []
  const reporter: ConsolaReporter = {
    log(obj: LogObject) {
      lines.push(`${obj.tag} ${obj.type}: ${obj.args.map(String).join(' ')}`)
    }
  }
  setLogReporters([reporter])
  return {
    lines,
    restore: () => {
      setLogReporters(undefined)
      setLogLevels('info')
    }
  }
}

/**
 * The hosts of one test file: registers its `beforeAll` (a temp dir, logs
 * captured at `levels`) and `afterAll` (every host stopped, logs restored,
 * the dir removed). `make` builds a host, `started` builds and starts one;
 * both are stopped at the end, as is anything pushed onto `hosts`.
 */
export function hostSuite(levels: string): {
  readonly dir: string
  readonly logs: string[]
  hosts: ClusterHost[]
  make(name: string, over?: Partial<ClusterHostInit>): Promise<ClusterHost>
  started(name: string, over?: Partial<ClusterHostInit>): Promise<ClusterHost>
} {
  let dir: { path: string; cleanup: () => Promise<void> } | undefined
  let logs: ReturnType<typeof captureLogs> | undefined
  const hosts: ClusterHost[] = []
  beforeAll(async () => {
    dir = await tempDir()
    logs = captureLogs()
    setLogLevels(levels)
  })
  afterAll(async () => {
    await Promise.allSettled(hosts.map((h) => h.stop()))
    logs?.restore()
    await dir?.cleanup()
  })
  const make = async (name: string, over: Partial<ClusterHostInit> = {}): Promise<ClusterHost> => {
    const h = await makeHost(dir!.path, name, over)
    hosts.push(h)
    return h
  }
  return {
    get dir() {
      return dir!.path
    },
    get logs() {
      return logs!.lines
    },
    hosts,
    make,
    async started(name, over) {
      const h = await make(name, over)
      await h.start()
      return h
    }
  }
}
