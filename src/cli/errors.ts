/**
 * CLI error handling: the only place (with the command modules in cli/)
 * that sets exit codes. Usage errors exit 1 with the message; other
 * errors print "error: <message>" and exit 1 unless a code is given.
 */
import { ClusterError, errorMessage } from '../errors.ts'

export class UsageError extends ClusterError {
  static override name = 'UsageError'
  readonly exitCode: number
  constructor(message: string, exitCode = 1) {
    super(message)
    this.exitCode = exitCode
  }
}

/** Prints an error and exits with its code (default 1). */
export function fail(err: unknown): never {
  const e = err as { exitCode?: unknown } | null | undefined
  process.stderr.write(`error: ${errorMessage(err)}\n`)
  process.exit(typeof e?.exitCode === 'number' ? e.exitCode : 1)
}
