import { describe, expect, test } from 'bun:test'
import { checkLinearizable, type KvInput, type KvOutput, kvModel, type Operation } from '../../helpers/linearizability.ts'

type Op = Operation<KvInput, KvOutput>
const put = (call: number, ret: number, key: string, value: string): Op => ({ call, ret, input: { op: 'put', key, value }, output: null })
const get = (call: number, ret: number, key: string, output: string | null): Op => ({ call, ret, input: { op: 'get', key }, output })
const del = (call: number, ret: number, key: string): Op => ({ call, ret, input: { op: 'del', key }, output: null })

describe('linearizability checker (kv model)', () => {
  test('a sequential history that reads its writes is linearizable', () => {
    expect(checkLinearizable(kvModel, [put(1, 2, 'a', 'x'), get(3, 4, 'a', 'x'), del(5, 6, 'a'), get(7, 8, 'a', null)])).toBe('ok')
  })

  test('a stale read after a completed write is not linearizable', () => {
    expect(checkLinearizable(kvModel, [put(1, 2, 'a', 'x'), put(3, 4, 'a', 'y'), get(5, 6, 'a', 'x')])).toBe('illegal')
  })

  test('a read concurrent with a write may see either value', () => {
    expect(checkLinearizable(kvModel, [put(1, 2, 'a', 'x'), put(3, 10, 'a', 'y'), get(4, 5, 'a', 'y'), get(6, 7, 'a', 'y')])).toBe('ok')
    expect(checkLinearizable(kvModel, [put(1, 2, 'a', 'x'), put(3, 10, 'a', 'y'), get(4, 5, 'a', 'x'), get(6, 7, 'a', 'y')])).toBe('ok')
  })

  test('values cannot flip back: y then x while no write of x is in flight', () => {
    // porcupine's classic: once a read saw the new value, a later read cannot see the old one
    expect(checkLinearizable(kvModel, [put(1, 2, 'a', 'x'), put(3, 10, 'a', 'y'), get(4, 5, 'a', 'y'), get(6, 7, 'a', 'x')])).toBe('illegal')
  })

  test('a pending write may have taken effect, or not', () => {
    const pending: Op = { call: 3, ret: Number.POSITIVE_INFINITY, input: { op: 'put', key: 'a', value: 'y' }, output: undefined }
    expect(checkLinearizable(kvModel, [put(1, 2, 'a', 'x'), pending, get(4, 5, 'a', 'y')])).toBe('ok')
    expect(checkLinearizable(kvModel, [put(1, 2, 'a', 'x'), pending, get(4, 5, 'a', 'x')])).toBe('ok')
    // but not both ways: once seen, it stays
    expect(checkLinearizable(kvModel, [put(1, 2, 'a', 'x'), pending, get(4, 5, 'a', 'y'), get(6, 7, 'a', 'x')])).toBe('illegal')
  })

  test('a read of a value nobody wrote is not linearizable', () => {
    expect(checkLinearizable(kvModel, [put(1, 2, 'a', 'x'), get(3, 4, 'a', 'z')])).toBe('illegal')
  })

  test('keys are independent parts; one bad key fails the whole history', () => {
    const ok = [put(1, 2, 'a', 'x'), put(1, 3, 'b', 'u'), get(4, 5, 'a', 'x'), get(4, 6, 'b', 'u')]
    expect(checkLinearizable(kvModel, ok)).toBe('ok')
    expect(checkLinearizable(kvModel, [...ok, get(7, 8, 'b', null)])).toBe('illegal')
  })

  test('many concurrent writers and readers (a search that needs backtracking)', () => {
    // 8 overlapping writes of distinct values, then reads that pin down one order
    const ops: Op[] = []
    for (let i = 0; i < 8; i++) ops.push(put(i, 100 + i, 'k', `v${i}`))
    ops.push(get(200, 201, 'k', 'v3'))
    expect(checkLinearizable(kvModel, ops)).toBe('ok')
    ops.push(get(202, 203, 'k', 'v5'))
    expect(checkLinearizable(kvModel, ops)).toBe('illegal')
  })

  test('returns unknown when the step budget runs out', () => {
    const ops: Op[] = []
    for (let i = 0; i < 12; i++) ops.push(put(i, 100 + i, 'k', `v${i}`))
    ops.push(get(200, 201, 'k', 'nope'))
    expect(checkLinearizable(kvModel, ops, 50)).toBe('unknown')
    expect(checkLinearizable(kvModel, ops)).toBe('illegal')
  })

  test('refuses an operation that returns before its call', () => {
    expect(() => checkLinearizable(kvModel, [put(5, 4, 'a', 'x')])).toThrow('returns')
  })
})
