/**
 * `identity.json`: `{ "id": "<peer id>", "private_key": "<base64 protobuf private key>" }`,
 * exactly as upstream `config/identity.go` (Ed25519 keys, 4-space indent, mode 0600).
 * `CLUSTER_ID` and `CLUSTER_PRIVATEKEY` override the file (envconfig on `identityJSON`).
 */
import { mkdir, readFile, writeFile } from 'node:fs/promises'
import { join, resolve } from 'node:path'
import { generateKeyPair, privateKeyFromProtobuf, privateKeyToProtobuf } from '@libp2p/crypto/keys'
import type { PeerId, PrivateKey } from '@libp2p/interface'
import { peerIdFromPrivateKey, peerIdFromString } from '@libp2p/peer-id'
import { base64pad } from 'multiformats/bases/base64'
import { errorMessage } from '../errors.ts'
import { getLogger } from '../observability/logging.ts'
import type { Env } from './env.ts'
import { ConfigError } from './errors.ts'
import { isPlainObject } from './schema.ts'

const log = getLogger('config')

/** Name of the identity file inside the configuration folder. */
export const IDENTITY_FILE = 'identity.json'

/** A peer's identity: its libp2p private key and the peer ID derived from it. */
export interface Identity {
  /** The peer ID string (`12D3KooW…`). */
  id: string
  peerId: PeerId
  privateKey: PrivateKey
}

/** The JSON form of an identity (upstream `identityJSON`). */
export interface IdentityJson {
  id: string
  /** Standard base64 (with padding) of the protobuf-encoded private key. */
  private_key: string
}

/** Generates a new Ed25519 identity (upstream `Identity.Default`). */
export async function generateIdentity(): Promise<Identity> {
  const privateKey = await generateKeyPair('Ed25519')
  const peerId = peerIdFromPrivateKey(privateKey)
  return { id: peerId.toString(), peerId, privateKey }
}

/** The identity as upstream writes it. */
export function identityToJson(identity: Identity): IdentityJson {
  return {
    id: identity.id,
    private_key: base64pad.baseEncode(privateKeyToProtobuf(identity.privateKey))
  }
}

/**
 * Builds an identity from its JSON form and checks that the ID matches the key.
 * @throws ConfigError `<label>: <key>: <problem>`.
 */
export function identityFromJson(json: unknown, label = IDENTITY_FILE): Identity {
  if (!isPlainObject(json)) throw new ConfigError(`${label}: must be a JSON object`)
  const id = json.id
  const pk = json.private_key
  if (typeof id !== 'string' || id === '') throw new ConfigError(`${label}: id: identity ID not set`)
  if (typeof pk !== 'string' || pk === '') throw new ConfigError(`${label}: private_key: no identity private_key set`)
  let peerId: PeerId
  try {
    peerId = peerIdFromString(id)
  } catch (err) {
    throw new ConfigError(`${label}: id: error decoding peer ID "${id}": ${errorMessage(err)}`)
  }
  let privateKey: PrivateKey
  try {
    privateKey = privateKeyFromProtobuf(base64pad.baseDecode(pk.trim()))
  } catch (err) {
    throw new ConfigError(`${label}: private_key: cannot decode the private key: ${errorMessage(err)}`)
  }
  if (!peerIdFromPrivateKey(privateKey).equals(peerId)) {
    throw new ConfigError(`${label}: id: identity ID does not match the private_key`)
  }
  return { id: peerId.toString(), peerId, privateKey }
}

/**
 * Loads `<folder>/identity.json`, then applies `CLUSTER_ID` / `CLUSTER_PRIVATEKEY`.
 * @throws ConfigError when the file is missing, malformed, or the ID does not match the key.
 */
export async function loadIdentity(folder: string, env: Env = {}): Promise<Identity> {
  const abs = resolve(folder)
  const path = join(abs, IDENTITY_FILE)
  let text: string
  try {
    text = await readFile(path, 'utf8')
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code
    if (code === 'ENOENT') {
      const legacy = await legacyIdentity(abs, env)
      if (legacy !== null) return legacy
      throw new ConfigError(`${path}: not found (run "ipfs-cluster service init" first)`, { cause: err })
    }
    throw new ConfigError(`${path}: cannot read: ${errorMessage(err)}`, { cause: err })
  }
  let json: unknown
  try {
    json = JSON.parse(text)
  } catch (err) {
    throw new ConfigError(`${path}: invalid JSON: ${errorMessage(err)}`)
  }
  return withEnv(json, path, env)
}

function withEnv(json: unknown, path: string, env: Env): Identity {
  if (!isPlainObject(json)) throw new ConfigError(`${path}: must be a JSON object`)
  const doc = { ...json }
  const used: string[] = []
  if (env.CLUSTER_ID !== undefined) {
    doc.id = env.CLUSTER_ID
    used.push('CLUSTER_ID')
  }
  if (env.CLUSTER_PRIVATEKEY !== undefined) {
    doc.private_key = env.CLUSTER_PRIVATEKEY
    used.push('CLUSTER_PRIVATEKEY')
  }
  const label = used.length === 0 ? path : `${path} (with ${used.join(', ')})`
  return identityFromJson(doc, label)
}

/**
 * Configurations older than upstream v0.11 kept `id` and `private_key` in the
 * `cluster` section of service.json. Like upstream (`cmdutils.LoadIdentityFromDisk`),
 * extract them into identity.json when that file does not exist.
 * @returns null when service.json has no such identity.
 */
async function legacyIdentity(folder: string, env: Env): Promise<Identity | null> {
  const servicePath = join(folder, 'service.json')
  let doc: unknown
  try {
    doc = JSON.parse(await readFile(servicePath, 'utf8'))
  } catch {
    return null
  }
  const cluster = isPlainObject(doc) ? doc.cluster : undefined
  if (!isPlainObject(cluster) || typeof cluster.id !== 'string' || typeof cluster.private_key !== 'string') return null
  const fromFile = identityFromJson({ id: cluster.id, private_key: cluster.private_key }, `${servicePath}: cluster`)
  await saveIdentity(folder, fromFile)
  log.warn(`identity information extracted from ${servicePath} and saved as ${join(folder, IDENTITY_FILE)}`)
  return withEnv(identityToJson(fromFile), join(folder, IDENTITY_FILE), env)
}

/** Writes `<folder>/identity.json` (4-space indent as upstream, mode 0600), creating the folder. */
export async function saveIdentity(folder: string, identity: Identity): Promise<void> {
  const abs = resolve(folder)
  await mkdir(abs, { recursive: true, mode: 0o700 })
  await writeFile(join(abs, IDENTITY_FILE), JSON.stringify(identityToJson(identity), null, 4), { mode: 0o600 })
}
