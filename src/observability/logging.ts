/**
 * Logging facilities with upstream's names (`cluster`, `restapi`, `crdt`,
 * `pintracker`, `ipfshttp`, `monitor`, `config`, `datastore`, `service`, …),
 * on consola. Levels are set with upstream's syntax:
 * `info,crdt:debug` (a bare level is the default for every facility).
 * Mirrors upstream `cmd/ipfs-cluster-service/main.go` setupLogLevel.
 */
import { writeSync } from 'node:fs'
import { type ConsolaInstance, type ConsolaReporter, createConsola, LogLevels } from 'consola'

export type LevelName = 'error' | 'warn' | 'info' | 'debug'

const levelNumber: Record<LevelName, number> = {
  error: LogLevels.error,
  warn: LogLevels.warn,
  info: LogLevels.info,
  debug: LogLevels.debug
}

let defaultLevel: LevelName = 'info'
const facilityLevels = new Map<string, LevelName>()
const loggers = new Map<string, ConsolaInstance>()
let reporters: ConsolaReporter[] | undefined

/**
 * Off a terminal (systemd, files, pipes) lines look like upstream's go-log
 * output: `<RFC3339 time>\t<LEVEL>\t<facility>\t<message>`, one per line,
 * and cost little CPU. On a terminal, consola's fancy reporter.
 */
const plainReporter: ConsolaReporter = {
  log(obj) {
    const level = obj.type === 'log' ? 'INFO' : obj.type === 'success' || obj.type === 'ready' || obj.type === 'start' ? 'INFO' : obj.type.toUpperCase()
    const msg = obj.args
      .map((a: unknown) => (a instanceof Error ? (a.stack ?? a.message) : typeof a === 'string' ? a : formatValue(a)))
      .join(' ')
    writeLine(`${obj.date.toISOString()}\t${level}\t${obj.tag || 'main'}\t${msg}\n`)
  }
}

/**
 * Lines logged within one turn of the event loop go to stderr in one write
 * (one `stderr.write` per line was 8% of the daemon's CPU under 16 clients
 * pinning, one "new pin added" line each). What is pending when the
 * process exits is written synchronously then; a SIGKILL may lose the lines
 * of the last turn.
 */
let pendingLines: string[] = []
let flushScheduled = false

function flushLines(): void {
  flushScheduled = false
  if (pendingLines.length === 0) return
  const out = pendingLines.join('')
  pendingLines = []
  process.stderr.write(out)
}

function writeLine(line: string): void {
  pendingLines.push(line)
  if (pendingLines.length >= 1024) flushLines()
  else if (!flushScheduled) {
    flushScheduled = true
    setImmediate(flushLines)
  }
}

process.on('exit', () => {
  if (pendingLines.length === 0) return
  const out = pendingLines.join('')
  pendingLines = []
  try {
    writeSync(2, out)
  } catch {
    // stderr is gone
  }
})

function formatValue(v: unknown): string {
  try {
    return JSON.stringify(v)
  } catch {
    return String(v)
  }
}

const root = createConsola({
  level: LogLevels.info,
  // no collapsing of repeated lines (go-log has none), and no JSON
  // serialisation of every line's arguments to detect repeats
  throttle: 0,
  stdout: process.stderr,
  stderr: process.stderr,
  ...(process.stderr.isTTY === true ? {} : { reporters: [plainReporter] })
})

function parseLevel(s: string): LevelName {
  const l = s.trim().toLowerCase()
  if (l === 'warning') return 'warn'
  if (l === 'error' || l === 'warn' || l === 'info' || l === 'debug') return l
  throw new Error(`invalid log level "${s}": use error, warn, info or debug`)
}

/**
 * Sets levels from a spec like `info` or `info,crdt:debug,restapi:error`.
 * @throws Error on an unknown level name.
 */
export function setLogLevels(spec: string): void {
  for (const part of spec.split(',').filter((p) => p.trim() !== '')) {
    const [a, b] = part.split(':')
    if (b === undefined) defaultLevel = parseLevel(a ?? 'info')
    else facilityLevels.set(a!.trim(), parseLevel(b))
  }
  for (const [facility, l] of loggers) l.level = levelNumber[facilityLevels.get(facility) ?? defaultLevel]
}

/** Replaces the reporters of every logger (tests capture logs this way). */
export function setLogReporters(r: ConsolaReporter[] | undefined): void {
  reporters = r
  for (const l of loggers.values()) l.setReporters(r ?? root.options.reporters)
}

/** The logger of one facility, tagged with its name. */
export function getLogger(facility: string): ConsolaInstance {
  let l = loggers.get(facility)
  if (l === undefined) {
    l = root.withTag(facility)
    l.level = levelNumber[facilityLevels.get(facility) ?? defaultLevel]
    if (reporters !== undefined) l.setReporters(reporters)
    loggers.set(facility, l)
  }
  return l
}
