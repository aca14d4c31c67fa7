/**
 * Go `time.Duration` strings, as upstream writes them in `service.json`
 * ("2m0s", "1h0m0s", "15s", "500ms", "0s").
 * Mirrors Go's `time.ParseDuration` and `Duration.String()`.
 * Inside the program every duration is a number of MILLISECONDS.
 */
import { ClusterError } from '../errors.ts'

const NS_PER_UNIT: Record<string, number> = {
  ns: 1,
  us: 1e3,
  'µs': 1e3, // U+00B5 micro sign
  'μs': 1e3, // U+03BC Greek mu
  ms: 1e6,
  s: 1e9,
  m: 60e9,
  h: 3600e9
}

/** Thrown by `parseDuration` on a string Go would reject. */
export class InvalidDurationError extends ClusterError {
  static override name = 'InvalidDurationError'
}

/**
 * Parses a Go duration string ("1h0m0s", "1.5s", "-2m", "300ms", "0")
 * into milliseconds (fractional for sub-millisecond values).
 * @throws InvalidDurationError (`time: invalid duration "x"`, like Go).
 */
export function parseDuration(s: string): number {
  const orig = s
  let str = s
  let neg = false
  if (str.startsWith('-') || str.startsWith('+')) {
    neg = str[0] === '-'
    str = str.slice(1)
  }
  if (str === '0') return 0
  if (str === '') throw new InvalidDurationError(`time: invalid duration "${orig}"`)
  let totalNs = 0
  const re = /^([0-9]*)(?:\.([0-9]*))?([^0-9.]+)/
  while (str !== '') {
    const m = re.exec(str)
    if (m === null) throw new InvalidDurationError(`time: invalid duration "${orig}"`)
    const whole = m[1] ?? ''
    const frac = m[2]
    const unit = m[3] ?? ''
    if (whole === '' && (frac === undefined || frac === '')) {
      throw new InvalidDurationError(`time: invalid duration "${orig}"`)
    }
    const mult = NS_PER_UNIT[unit]
    if (mult === undefined) {
      if (unit === '') throw new InvalidDurationError(`time: missing unit in duration "${orig}"`)
      throw new InvalidDurationError(`time: unknown unit "${unit}" in duration "${orig}"`)
    }
    const value = Number(`${whole === '' ? '0' : whole}.${frac ?? ''}0`)
    totalNs += value * mult
    str = str.slice(m[0].length)
  }
  if (!Number.isFinite(totalNs) || totalNs > 2 ** 63) {
    throw new InvalidDurationError(`time: invalid duration "${orig}"`)
  }
  const ms = totalNs / 1e6
  return neg ? -ms : ms
}

/** Digits of `v % 10^prec` after the decimal point, trailing zeros removed ("" when zero). */
function fraction(v: bigint, prec: number): string {
  const digits = v.toString().padStart(prec, '0').replace(/0+$/, '')
  return digits === '' ? '' : `.${digits}`
}

/**
 * Formats milliseconds as Go's `Duration.String()` does:
 * 0 -> "0s", 500 -> "500ms", 1500 -> "1.5s", 120000 -> "2m0s", 3600000 -> "1h0m0s".
 */
export function formatDuration(ms: number): string {
  let ns = BigInt(Math.round(ms * 1e6))
  if (ns === 0n) return '0s'
  const neg = ns < 0n
  if (neg) ns = -ns
  let out: string
  if (ns < 1_000_000_000n) {
    if (ns < 1000n) out = `${ns}ns`
    else if (ns < 1_000_000n) out = `${ns / 1000n}${fraction(ns % 1000n, 3)}µs`
    else out = `${ns / 1_000_000n}${fraction(ns % 1_000_000n, 6)}ms`
  } else {
    const secs = ns / 1_000_000_000n
    out = `${secs % 60n}${fraction(ns % 1_000_000_000n, 9)}s`
    const mins = secs / 60n
    if (mins > 0n) {
      out = `${mins % 60n}m${out}`
      const hours = mins / 60n
      if (hours > 0n) out = `${hours}h${out}`
    }
  }
  return neg ? `-${out}` : out
}
