/** The Raft wire codec (src/consensus/raft/codec.ts): round trips, and malformed input refused with the field named. */
import { describe, expect, test } from 'bun:test'
import { encode } from '@msgpack/msgpack'
import { decodeEntry, decodeMessage, encodeEntry, encodeMessage } from '../../../../src/consensus/raft/codec.ts'
import type { RaftMessage } from '../../../../src/consensus/raft/types.ts'

const samples: RaftMessage[] = [
  { type: 'prevote', from: 'a', to: 'b', term: 3, lastIndex: 9, lastTerm: 2 },
  { type: 'vote', from: 'a', to: 'b', term: 3, lastIndex: 9, lastTerm: 2, transfer: true },
  { type: 'vote_resp', from: 'b', to: 'a', term: 3, granted: false },
  {
    type: 'append',
    from: 'a',
    to: 'b',
    term: 4,
    prevIndex: 1,
    prevTerm: 1,
    commit: 1,
    entries: [
      { index: 2, term: 4, kind: 'noop' },
      { index: 3, term: 4, kind: 'command', data: new Uint8Array([1, 2, 3]) },
      { index: 4, term: 4, kind: 'config', voters: ['a', 'b', 'c'] }
    ]
  },
  { type: 'append_resp', from: 'b', to: 'a', term: 4, success: false, matchIndex: 0, rejectIndex: 7, hint: 3 },
  { type: 'snapshot', from: 'a', to: 'b', term: 4, snapshot: { meta: { index: 10, term: 4, voters: ['a', 'b'] }, data: new Uint8Array([9]) } },
  { type: 'timeout_now', from: 'a', to: 'b', term: 4 }
]

describe('raft codec', () => {
  test('every message type round-trips', () => {
    for (const m of samples) expect(decodeMessage(encodeMessage(m))).toEqual(m)
    const e = { index: 5, term: 2, kind: 'command' as const, data: new Uint8Array([7]) }
    expect(decodeEntry(encodeEntry(e))).toEqual(e)
  })

  test('malformed messages are refused with the field named', () => {
    const bad: [unknown, string][] = [
      [[1, 2, 3], 'message: not a map'],
      [{ y: 99, f: 'a', o: 'b', t: 1 }, 'unknown message type'],
      [{ y: 0, f: 'a', o: 'b', t: -1, li: 0, lt: 0 }, 'prevote.t: not a non-negative integer'],
      [{ y: 0, f: '', o: 'b', t: 1, li: 0, lt: 0 }, 'prevote.f: not a peer ID string'],
      [{ y: 3, f: 'a', o: 'b', t: 1, g: 'yes' }, 'vote_resp.g: not a boolean'],
      [{ y: 4, f: 'a', o: 'b', t: 1, pi: 1, pt: 1, c: 0, e: 'x' }, 'append.e: not a list'],
      [{ y: 4, f: 'a', o: 'b', t: 1, pi: 1, pt: 1, c: 0, e: [{ i: 5, t: 1, k: 2 }] }, 'out of sequence'],
      [{ y: 4, f: 'a', o: 'b', t: 1, pi: 1, pt: 1, c: 0, e: [{ i: 2, t: 1, k: 7 }] }, 'unknown entry kind'],
      [{ y: 4, f: 'a', o: 'b', t: 1, pi: 1, pt: 1, c: 0, e: [{ i: 2, t: 1, k: 0 }] }, 'append.e[0].d: not bytes'],
      [{ y: 6, f: 'a', o: 'b', t: 1, sn: { i: 1, t: 1, v: [3], d: new Uint8Array() } }, 'snapshot.sn.v[0]: not a peer ID string']
    ]
    for (const [v, msg] of bad) expect(() => decodeMessage(encode(v))).toThrow(msg)
    expect(() => decodeMessage(new Uint8Array([0xc1]))).toThrow('not msgpack')
    expect(() => decodeMessage(new Uint8Array([0xc1]))).toThrow(expect.objectContaining({ name: 'RaftCodecError' }))
  })
})
