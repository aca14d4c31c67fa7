/**
 * `service init [source-url]`: writes service.json, identity.json and the
 * peerstore (upstream cmd/ipfs-cluster-service/main.go "init").
 */
import { existsSync } from 'node:fs'
import { mkdir } from 'node:fs/promises'
import { join } from 'node:path'
import {
  applyInitPeers,
  type ConsensusName,
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
import { globals, type ServiceCommand } from './context.ts'

async function readSecretFromStdin(): Promise<string> {
  process.stderr.write('Enter cluster secret (32-byte hex string): ')
  const chunks: Buffer[] = []
  for await (const c of process.stdin) {
    chunks.push(c as Buffer)
    if (Buffer.concat(chunks).includes(10)) break
  }
  return Buffer.concat(chunks).toString('utf8').split('\n')[0]!.trim()
}

const init: ServiceCommand = {
  name: 'init',
  usage: 'Write a new configuration and peer identity',
  description: `
Writes service.json, a peerstore and, unless one is already there,
identity.json into the configuration folder (default ~/.ipfs-cluster).
The cluster secret is random unless CLUSTER_SECRET is set or -s asks for it.
With a source-url, service.json only holds {"source": url} and the daemon
reads its configuration from that URL at every start.
--peers fills the peerstore and makes those peers the trusted peers (crdt)
or the initial raft voters (raft: init_peerset).`,
  argsUsage: '[source-url]',
  maxArgs: 1,
  flags: [
    { name: 'consensus', kind: 'string', default: 'crdt', usage: 'consensus component: crdt or raft' },
    { name: 'datastore', kind: 'string', default: 'sqlite', usage: 'datastore backend: sqlite or leveldb' },
    {
      name: 'ipfs',
      kind: 'string',
      default: 'kubo',
      usage: 'IPFS node: kubo (a separate daemon, ipfs_connector.ipfshttp) or bundled (embedded, ipfs_connector.bundled)'
    },
    {
      name: 'custom-secret',
      aliases: ['s'],
      kind: 'bool',
      usage: 'ask for the cluster secret on stdin (unless CLUSTER_SECRET is set)'
    },
    {
      name: 'peers',
      kind: 'string',
      usage: 'multiaddresses (with /p2p/<id>, comma-separated) of peers to trust and remember'
    },
    { name: 'force', aliases: ['f'], kind: 'bool', usage: 'replace an existing configuration' },
    { name: 'randomports', kind: 'bool', usage: 'listen on free random ports rather than the default ones' }
  ],
  async run({ flags, positionals }) {
    const env = processEnv()
    const folder = resolveConfigFolder(globals.config, env)
    const force = globals.force || flags.bool('force')
    const servicePath = join(folder, SERVICE_FILE)
    if (existsSync(servicePath) && !force) {
      throw new UsageError(`${servicePath} already exists: use -f/--force to overwrite it`)
    }
    await mkdir(folder, { recursive: true })
    const source = positionals[0] ?? ''
    if (source !== '') {
      if (!/^https?:\/\//i.test(source)) throw new UsageError(`source-url "${source}" must be an http(s) URL`)
      await saveServiceConfig(folder, { source })
      process.stdout.write(`Configuration written to ${servicePath} (source: ${source}).\n`)
    } else {
      let secret: string | undefined
      if (flags.bool('custom-secret') && (env.CLUSTER_SECRET ?? '') === '') secret = await readSecretFromStdin()
      const json = await defaultServiceConfig({
        consensus: flags.string('consensus') as ConsensusName,
        datastore: flags.string('datastore') as DatastoreName,
        ipfs: flags.string('ipfs') as 'kubo' | 'bundled',
        randomPorts: flags.bool('randomports'),
        secret,
        env
      })
      const peers = flags
        .string('peers')
        .split(',')
        .map((s) => s.trim())
        .filter(Boolean)
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
}

export default init
