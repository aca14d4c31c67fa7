/**
 * `service init [source-url]`: writes service.json, identity.json and the
 * peerstore (upstream cmd/ipfs-cluster-service/main.go "init").
 */
import { existsSync } from 'node:fs'
import { mkdir } from 'node:fs/promises'
import { join } from 'node:path'
import { defineCommand } from 'citty'
import {
  applyInitPeers,
  type DatastoreName,
  defaultServiceConfig,
  generateIdentity,
  IDENTITY_FILE,
  processEnv,
  resolveConfigFolder,
  SERVICE_FILE,
  saveIdentity,
  saveServiceConfig,
  writePeerstore
} from '../../config/index.ts'
import { UsageError } from '../errors.ts'
import { globals } from './index.ts'

async function readSecretFromStdin(): Promise<string> {
  process.stderr.write('Enter cluster secret (32-byte hex string): ')
  const chunks: Buffer[] = []
  for await (const c of process.stdin) {
    chunks.push(c as Buffer)
    if (Buffer.concat(chunks).includes(10)) break
  }
  return Buffer.concat(chunks).toString('utf8').split('\n')[0]!.trim()
}

export default defineCommand({
  meta: {
    name: 'init',
    description: `Write a new configuration and peer identity

Writes service.json, a peerstore and, unless one is already there,
identity.json into the configuration folder (default ~/.ipfs-cluster).
The cluster secret is random unless CLUSTER_SECRET is set or -s asks for it.
With a source-url, service.json only holds {"source": url} and the daemon
reads its configuration from that URL at every start.
--peers fills the peerstore and makes those peers the trusted peers.`
  },
  args: {
    source: { type: 'positional', required: false, description: 'URL of a remote configuration', valueHint: 'source-url' },
    consensus: { type: 'string', description: 'consensus component: crdt (raft is not supported)', default: 'crdt' },
    datastore: { type: 'string', description: 'datastore backend: sqlite or leveldb', default: 'sqlite' },
    'custom-secret': { type: 'boolean', alias: 's', description: 'ask for the cluster secret on stdin (unless CLUSTER_SECRET is set)' },
    peers: { type: 'string', description: 'multiaddresses (with /p2p/<id>, comma-separated) of peers to trust and remember' },
    force: { type: 'boolean', alias: 'f', description: 'replace an existing configuration' },
    randomports: { type: 'boolean', description: 'listen on free random ports rather than the default ones' }
  },
  async run({ args }) {
    const env = processEnv()
    const folder = resolveConfigFolder(globals.config, env)
    const force = globals.force || args.force === true
    const servicePath = join(folder, SERVICE_FILE)
    if (existsSync(servicePath) && !force) {
      throw new UsageError(`${servicePath} already exists: use -f/--force to overwrite it`)
    }
    await mkdir(folder, { recursive: true })
    if (typeof args.source === 'string' && args.source !== '') {
      if (!/^https?:\/\//i.test(args.source)) throw new UsageError(`source-url "${args.source}" must be an http(s) URL`)
      await saveServiceConfig(folder, { source: args.source })
      process.stdout.write(`Configuration written to ${servicePath} (source: ${args.source}).\n`)
    } else {
      let secret: string | undefined
      if (args['custom-secret'] === true && (env.CLUSTER_SECRET ?? '') === '') secret = await readSecretFromStdin()
      const json = await defaultServiceConfig({
        consensus: args.consensus as 'crdt',
        datastore: args.datastore as DatastoreName,
        randomPorts: args.randomports === true,
        secret,
        env
      })
      const peers = typeof args.peers === 'string' ? args.peers.split(',').map((s) => s.trim()).filter(Boolean) : []
      const peerstoreLines = applyInitPeers(json, peers)
      await saveServiceConfig(folder, json)
      process.stdout.write(`Configuration written to ${servicePath}.\n`)
      await writePeerstore(join(folder, 'peerstore'), peerstoreLines)
      process.stdout.write(
        peerstoreLines.length > 0
          ? `Peerstore written to ${join(folder, 'peerstore')} with ${peerstoreLines.length} entries.\n`
          : `New empty peerstore written to ${join(folder, 'peerstore')}.\n`
      )
    }
    const identityPath = join(folder, IDENTITY_FILE)
    if (existsSync(identityPath)) {
      // upstream keeps an existing identity: the peer ID survives a re-init
      process.stdout.write(`Identity kept: ${identityPath} already exists.\n`)
    } else {
      const identity = await generateIdentity()
      await saveIdentity(folder, identity)
      process.stdout.write(`New identity written to ${identityPath}: peer ID ${identity.id}\n`)
    }
  }
})
