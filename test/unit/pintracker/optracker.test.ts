import { describe, expect, test } from 'bun:test'
import { OperationTracker, operationStatus } from '../../../src/pintracker/index.ts'
import { newPin } from './stubs.ts'

const ipfs = { id: 'QmIPFS', addresses: [] }

describe('operation tracker', () => {
  test('phases map to upstream statuses', () => {
    expect(operationStatus('pin', 'queued')).toBe('pin_queued')
    expect(operationStatus('pin', 'in_progress')).toBe('pinning')
    expect(operationStatus('pin', 'error')).toBe('pin_error')
    expect(operationStatus('pin', 'done')).toBe('pinned')
    expect(operationStatus('unpin', 'queued')).toBe('unpin_queued')
    expect(operationStatus('unpin', 'in_progress')).toBe('unpinning')
    expect(operationStatus('unpin', 'error')).toBe('unpin_error')
    expect(operationStatus('unpin', 'done')).toBe('unpinned')
    expect(operationStatus('remote', 'error')).toBe('remote')
    expect(operationStatus('shard', 'done')).toBe('sharded')
  })

  test('same operation in flight is not duplicated; another type cancels and replaces it', async () => {
    const opt = new OperationTracker('peer', 'name')
    const pin = await newPin({ name: 'first' })
    const op = opt.trackNewOperation(pin, 'pin', 'queued')!
    expect(opt.pinQueueSize()).toBe(1)
    expect(opt.trackNewOperation({ ...pin, name: 'second' }, 'pin', 'queued')).toBeUndefined()
    expect(op.pin.name).toBe('second')
    const un = opt.trackNewOperation(pin, 'unpin', 'queued')!
    expect(op.canceled).toBe(true)
    expect(un.canceled).toBe(false)
    expect(opt.pinQueueSize()).toBe(0)
    expect(opt.status(pin.cid)).toBe('unpin_queued')
    // a late phase change of the replaced operation does not touch the counters
    op.setPhase('in_progress')
    expect(opt.counters()).toEqual({ pinQueued: 0, pinning: 0, pinError: 0 })
    opt.clean(op)
    expect(opt.op(pin.cid)).toBe(un)
  })

  test('attempts carry over to a replacing operation of the same type; counters follow phases', async () => {
    const opt = new OperationTracker('peer', 'name')
    const pin = await newPin()
    const op = opt.trackNewOperation(pin, 'pin', 'queued')!
    op.setPhase('in_progress')
    op.incAttempt()
    expect(opt.counters()).toEqual({ pinQueued: 0, pinning: 1, pinError: 0 })
    op.setError(new Error('failed'))
    expect(opt.counters()).toEqual({ pinQueued: 0, pinning: 0, pinError: 1 })
    const info = opt.getExists(pin.cid, ipfs)!
    expect(info.pinInfo.status).toBe('pin_error')
    expect(info.pinInfo.error).toBe('failed')
    expect(info.pinInfo.attemptCount).toBe(1)
    const op2 = opt.trackNewOperation(pin, 'pin', 'queued')!
    expect(op2.attemptCount).toBe(1)
    expect(opt.counters()).toEqual({ pinQueued: 1, pinning: 0, pinError: 0 })
    expect([...opt.getAll(new Set(['pin_queued']), ipfs)].length).toBe(1)
    expect([...opt.getAll(new Set(['pinned']), ipfs)].length).toBe(0)
    op2.setPhase('done')
    opt.cleanAllDone()
    expect(opt.size).toBe(0)
  })
})
