/**
 * The configuration layer: `service.json` (sections, defaults, environment
 * overrides, validation), `identity.json`, the `peerstore` file, Go duration
 * strings and the configuration folder.
 * The only module allowed to read `process.env` (see `processEnv`).
 */
import { homedir } from 'node:os'
import { join, resolve } from 'node:path'
import type { Env } from './env.ts'

export { formatDuration, InvalidDurationError, parseDuration } from './duration.ts'
export { type Env, parseGoBool, processEnv } from './env.ts'
export { ConfigError, ConfigSourceError } from './errors.ts'
export {
  generateIdentity,
  IDENTITY_FILE,
  type Identity,
  type IdentityJson,
  identityFromJson,
  identityToJson,
  loadIdentity,
  saveIdentity
} from './identity.ts'
export { readPeerstore, writePeerstore } from './peerstore.ts'
export { envNames, type FieldSpec, type Json, type JsonObject } from './schema.ts'
export {
  applyInitPeers,
  type ConsensusName,
  type DatastoreName,
  type DefaultServiceConfigOptions,
  decodeClusterSecret,
  defaultRestApiConfig,
  defaultServiceConfig,
  fetchSourceConfig,
  generateClusterSecret,
  type LoadServiceConfigOptions,
  loadServiceConfig,
  multiaddrProblem,
  type ParseServiceConfigOptions,
  parseServiceConfig,
  randomizePorts,
  readServiceJson,
  SERVICE_FILE,
  saveServiceConfig
} from './service.ts'
export * from './types.ts'

/** Upstream's default folder name under the home directory. */
export const DEFAULT_CONFIG_FOLDER = '.ipfs-cluster'

/**
 * The configuration folder, absolute: the `--config` flag, else
 * `IPFS_CLUSTER_PATH`, else `$HOME/.ipfs-cluster` (upstream
 * `cmd/ipfs-cluster-service/main.go`).
 */
export function resolveConfigFolder(flag: string | undefined, env: Env): string {
  if (flag !== undefined && flag !== '') return resolve(flag)
  const fromEnv = env.IPFS_CLUSTER_PATH
  if (fromEnv !== undefined && fromEnv !== '') return resolve(fromEnv)
  const home = env.HOME !== undefined && env.HOME !== '' ? env.HOME : homedir()
  return join(home, DEFAULT_CONFIG_FOLDER)
}
