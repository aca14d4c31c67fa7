/**
 * The in-memory Raft log of one server: entries `offset+1 .. lastIndex()`,
 * the term of the entry at `offset` (the compaction point) kept so that
 * consistency checks work right after it. Indexes are 1-based; `offset` 0
 * and `offsetTerm` 0 stand for the empty log.
 */
import type { LogEntry } from './types.ts'

export class RaftLog {
  #offset: number
  #offsetTerm: number
  #entries: LogEntry[]

  constructor(offset = 0, offsetTerm = 0, entries: LogEntry[] = []) {
    this.#offset = offset
    this.#offsetTerm = offsetTerm
    this.#entries = []
    for (const e of entries) this.append(e)
  }

  /** The index of the last compacted entry (0 when none). */
  get offset(): number {
    return this.#offset
  }

  lastIndex(): number {
    return this.#offset + this.#entries.length
  }

  lastTerm(): number {
    return this.term(this.lastIndex()) ?? 0
  }

  /** The term of the entry at `index`, or undefined when it is compacted away or beyond the end. */
  term(index: number): number | undefined {
    if (index === this.#offset) return this.#offsetTerm
    return this.entry(index)?.term
  }

  entry(index: number): LogEntry | undefined {
    if (index <= this.#offset) return undefined
    return this.#entries[index - this.#offset - 1]
  }

  /** Entries `from .. to-1` (both clamped to what is stored). */
  slice(from: number, to: number): LogEntry[] {
    const lo = Math.max(from, this.#offset + 1) - this.#offset - 1
    const hi = Math.min(to, this.lastIndex() + 1) - this.#offset - 1
    return lo < hi ? this.#entries.slice(lo, hi) : []
  }

  /** Appends one entry; its index must be `lastIndex() + 1`. */
  append(e: LogEntry): void {
    if (e.index !== this.lastIndex() + 1) throw new Error(`raft log: appending index ${e.index} after ${this.lastIndex()}`)
    this.#entries.push(e)
  }

  /** Drops the entries with index >= `index`. */
  truncateFrom(index: number): void {
    if (index <= this.#offset) throw new Error(`raft log: truncating at ${index}, at or before the compaction point ${this.#offset}`)
    this.#entries.length = Math.max(0, index - this.#offset - 1)
  }

  /** Drops the entries with index <= `index` (which must be stored or be the offset). */
  compactTo(index: number): void {
    if (index <= this.#offset) return
    const term = this.term(index)
    if (term === undefined) throw new Error(`raft log: compacting to ${index}, beyond the last index ${this.lastIndex()}`)
    this.#entries = this.#entries.slice(index - this.#offset)
    this.#offset = index
    this.#offsetTerm = term
  }

  /** Empties the log, which then continues after `index` of `term` (a snapshot install). */
  reset(index: number, term: number): void {
    this.#entries = []
    this.#offset = index
    this.#offsetTerm = term
  }
}
