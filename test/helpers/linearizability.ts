/**
 * A linearizability checker for client histories (Wing & Gong's search with
 * Lowe's memoization, as in porcupine's `checkSingle`). Operations carry a
 * call and a return time (any strictly ordered clock; a pending operation,
 * whose outcome the client never learnt, has `ret: Infinity` and may take
 * effect at any point after its call, or never: models must accept any
 * output for it). Histories are partitioned by `model.partition` (e.g. one
 * register per key) and each part is searched on its own.
 */

export interface Operation<I, O> {
  /** client-visible invocation time */
  call: number
  /** response time; Infinity when pending (no response seen) */
  ret: number
  input: I
  /** undefined when pending */
  output: O | undefined
}

export interface Model<S, I, O> {
  init(): S
  /** the next state when `input` (answered `output`, undefined if pending) is legal in `state`, else undefined */
  step(state: S, input: I, output: O | undefined): S | undefined
  /** a key that identifies equal states (for memoization) */
  key(state: S): string
  /** optional: split the history into independent parts */
  partition?(ops: Operation<I, O>[]): Operation<I, O>[][]
}

export type CheckResult = 'ok' | 'illegal' | 'unknown'

interface Node {
  op: number
  isCall: boolean
  time: number
  match: Node | undefined
  prev: Node | undefined
  next: Node | undefined
}

/**
 * Checks one history against a model. Returns 'ok' when some linearization
 * exists, 'illegal' when none does, 'unknown' when `maxSteps` search steps
 * (per part) ran out first.
 */
export function checkLinearizable<S, I, O>(model: Model<S, I, O>, ops: Operation<I, O>[], maxSteps = 5_000_000): CheckResult {
  const parts = model.partition ? model.partition(ops) : [ops]
  let result: CheckResult = 'ok'
  for (const part of parts) {
    const r = checkPart(model, part, maxSteps)
    if (r === 'illegal') return 'illegal'
    if (r === 'unknown') result = 'unknown'
  }
  return result
}

function checkPart<S, I, O>(model: Model<S, I, O>, ops: Operation<I, O>[], maxSteps: number): CheckResult {
  for (const o of ops) if (!(o.call < o.ret)) throw new Error(`linearizability: an operation returns (${o.ret}) before its call (${o.call})`)
  // events sorted by time; on a tie a call goes first (concurrent, the permissive reading)
  const events: Node[] = []
  ops.forEach((o, i) => {
    const c: Node = { op: i, isCall: true, time: o.call, match: undefined, prev: undefined, next: undefined }
    const r: Node = { op: i, isCall: false, time: o.ret, match: undefined, prev: undefined, next: undefined }
    c.match = r
    events.push(c, r)
  })
  events.sort((a, b) => a.time - b.time || (a.isCall === b.isCall ? a.op - b.op : a.isCall ? -1 : 1))
  const head: Node = { op: -1, isCall: false, time: Number.NEGATIVE_INFINITY, match: undefined, prev: undefined, next: undefined }
  let last = head
  for (const e of events) {
    last.next = e
    e.prev = last
    last = e
  }
  const lift = (n: Node) => {
    n.prev!.next = n.next
    if (n.next) n.next.prev = n.prev
    const m = n.match!
    m.prev!.next = m.next
    if (m.next) m.next.prev = m.prev
  }
  const unlift = (n: Node) => {
    const m = n.match!
    m.prev!.next = m
    if (m.next) m.next.prev = m
    n.prev!.next = n
    if (n.next) n.next.prev = n
  }
  const words = Math.ceil(ops.length / 32)
  const linearized = new Uint32Array(words)
  const cache = new Set<string>()
  const stack: { node: Node; state: S }[] = []
  let state = model.init()
  let entry = head.next
  let steps = 0
  while (head.next !== undefined) {
    if (++steps > maxSteps) return 'unknown'
    if (entry === undefined) throw new Error('linearizability: internal error (ran off the event list)')
    if (entry.isCall) {
      const o = ops[entry.op]!
      const next = model.step(state, o.input, o.ret === Number.POSITIVE_INFINITY ? undefined : o.output)
      if (next !== undefined) {
        linearized[entry.op >>> 5]! ^= 1 << (entry.op & 31)
        const key = `${linearized.join(',')}|${model.key(next)}`
        if (!cache.has(key)) {
          cache.add(key)
          stack.push({ node: entry, state })
          state = next
          lift(entry)
          entry = head.next
          continue
        }
        linearized[entry.op >>> 5]! ^= 1 << (entry.op & 31)
      }
      entry = entry.next
    } else {
      // a return whose call is not linearized yet: backtrack
      const top = stack.pop()
      if (top === undefined) return 'illegal'
      state = top.state
      linearized[top.node.op >>> 5]! ^= 1 << (top.node.op & 31)
      unlift(top.node)
      entry = top.node.next
    }
  }
  return 'ok'
}

/** Inputs of the key-value model: `put` a value, `get` the value (null when never put), `del` a key. */
export type KvInput = { op: 'put'; key: string; value: string } | { op: 'get'; key: string } | { op: 'del'; key: string }
/** `get` answers the value or null; `put` and `del` answer null. */
export type KvOutput = string | null

/** A map of registers, one independent part per key (a pinset is this with values = pin options). */
export const kvModel: Model<string | null, KvInput, KvOutput> = {
  init: () => null,
  step(state, input, output) {
    switch (input.op) {
      case 'put':
        return input.value
      case 'del':
        return null
      case 'get':
        return output === undefined || output === state ? state : undefined
    }
  },
  key: (s) => (s === null ? '\u0000' : s),
  partition(ops) {
    const by = new Map<string, Operation<KvInput, KvOutput>[]>()
    for (const o of ops) {
      const list = by.get(o.input.key)
      if (list) list.push(o)
      else by.set(o.input.key, [o])
    }
    return [...by.values()]
  }
}
