/**
 * What the commands of `ipfs-cluster-service` share: the global flags'
 * values and the command type (the shared `CommandSpec` of `../cmd.ts`,
 * with subcommands).
 * Kept apart from `index.ts` so command modules do not import the entry point.
 */
import type { CommandSpec } from '../cmd.ts'

export interface ServiceGlobals {
  /** -c/--config: configuration folder. */
  config?: string
  /** -f/--force (global, or a command's own -f/--force). */
  force: boolean
  /** -d/--debug. */
  debug: boolean
  /** -l/--loglevel. */
  loglevel?: string
}

/** Global flags, filled before a command runs. */
export const globals: ServiceGlobals = { force: false, debug: false }

/** A service command: help texts, flags and `run`, or subcommands (`state`). */
export interface ServiceCommand extends CommandSpec {
  subcommands?: ServiceCommand[]
  /** most positional arguments accepted (default 0); more is a usage error. */
  maxArgs?: number
}
