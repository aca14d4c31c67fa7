/**
 * CLI error handling: the only place (with the command modules in cli/)
 * that sets exit codes. Usage errors exit 1 with the message; other
 * errors print "error: <message>" and exit 1 unless a code is given.
 */
import { ClusterError } from '../errors.ts'

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
  const e = err as Error & { exitCode?: number; code?: string }
  process.stderr.write(`error: ${e?.message ?? String(err)}\n`)
  process.exit(typeof e?.exitCode === 'number' ? e.exitCode : 1)
}
