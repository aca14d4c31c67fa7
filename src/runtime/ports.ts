/**
 * Port choice shared by `service init --randomports` (src/config/service.ts)
 * and the test launcher (scripts/launcher/kubo.ts): a random port between
 * 10000 and the start of the kernel's ephemeral range. The kernel never
 * hands such a port to an outgoing connection, so it stays free between the
 * moment it is chosen and the moment a daemon binds it (a port of the
 * ephemeral range, which port 0 gives, can be taken in between).
 */
import { readFileSync } from 'node:fs'

/** The lowest port below which random candidates are drawn: 10000. */
export const CANDIDATE_PORT_LOW = 10_000

/**
 * The lowest port of the kernel's ephemeral range (Linux
 * `/proc/sys/net/ipv4/ip_local_port_range`), or 32768 when it cannot be
 * read or is implausible (≤ 2048).
 */
export function ephemeralLow(): number {
  try {
    const low = Number(readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/)[0])
    return Number.isInteger(low) && low > 2048 ? low : 32768
  } catch {
    return 32768
  }
}

/**
 * A random port in [10000, `ephemeralLow()`), or `undefined` when the
 * ephemeral range starts at or below 10001 (then only port 0 is left).
 * Whether it is free is for the caller to find out by binding it.
 */
export function candidatePort(low: number = ephemeralLow()): number | undefined {
  if (low <= CANDIDATE_PORT_LOW + 1) return undefined
  return CANDIDATE_PORT_LOW + Math.floor(Math.random() * (low - CANDIDATE_PORT_LOW))
}
