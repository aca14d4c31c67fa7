/**
 * Errors of the configuration layer. Messages name the file, the key and
 * what is wrong, e.g.
 * `/home/u/.ipfs-cluster/service.json: cluster.secret: must be 64 hex characters (32 bytes)`.
 */
import { ClusterError } from '../errors.ts'

/** A configuration file (service.json, identity.json) or an override is invalid or unreadable. */
export class ConfigError extends ClusterError {
  static override name = 'ConfigError'
}

/** A `{"source": url}` configuration could not be fetched (upstream `errFetchingSource`). */
export class ConfigSourceError extends ClusterError {
  static override name = 'ConfigSourceError'
}
