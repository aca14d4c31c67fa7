/**
 * Environment access for the whole program: only `src/config/` reads
 * `process.env`; everything else receives an `Env` record.
 *
 * `envconfig`-style overrides (kelseyhightower/envconfig, as upstream uses):
 * the variable name is `<PREFIX>_<Go field name of the JSON struct>`,
 * uppercased, nested structs recursing (`CLUSTER_CONNECTIONMANAGER_HIGHWATER`).
 * Slices are comma-separated, maps are `k1:v1,k2:v2`, booleans follow Go's
 * `strconv.ParseBool`.
 */

/** An environment: variable name -> value. */
export type Env = Record<string, string | undefined>

/** A snapshot of the process environment (the only sanctioned `process.env` read). */
export function processEnv(): Env {
  return { ...process.env }
}

/** Go `strconv.ParseBool`; undefined when the text is not a boolean. */
export function parseGoBool(s: string): boolean | undefined {
  switch (s) {
    case '1':
    case 't':
    case 'T':
    case 'true':
    case 'TRUE':
    case 'True':
      return true
    case '0':
    case 'f':
    case 'F':
    case 'false':
    case 'FALSE':
    case 'False':
      return false
    default:
      return undefined
  }
}
