/**
 * Errors of the configuration layer. Messages name the file, the key and
 * what is wrong, e.g.
 * `/home/u/.ipfs-cluster/service.json: cluster.secret: must be 64 hex characters (32 bytes)`.
 */

/** A configuration file (service.json, identity.json) or an override is invalid or unreadable. */
export class ConfigError extends Error {
  static name = 'ConfigError'
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options)
    this.name = 'ConfigError'
  }
}

/** A `{"source": url}` configuration could not be fetched (upstream `errFetchingSource`). */
export class ConfigSourceError extends Error {
  static name = 'ConfigSourceError'
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options)
    this.name = 'ConfigSourceError'
  }
}
