import { expect, test } from 'bun:test'
import { AbortError, ClusterError, errorMessage, IPFSError, NotFoundError } from '../../../src/errors.ts'

class ExampleError extends ClusterError {
  static override name = 'ExampleError'
}

test('a subclass carries its static name, message and cause', () => {
  const e = new ExampleError('gone', { cause: 1 })
  expect(e.name).toBe('ExampleError')
  expect(e).toBeInstanceOf(ClusterError)
  expect(e).toBeInstanceOf(Error)
  expect(e.message).toBe('gone')
  expect(e.cause).toBe(1)
  expect(new ClusterError('a').name).toBe('ClusterError')
  expect(new IPFSError('down', { cause: 'x' }).name).toBe('IPFSError')
})

test('default messages stay', () => {
  expect(new NotFoundError().message).toBe('not found')
  expect(new AbortError().message).toBe('the operation was aborted')
  expect(new AbortError().name).toBe('AbortError')
})

test('errorMessage reads Errors and anything else', () => {
  expect(errorMessage(new NotFoundError('nope'))).toBe('nope')
  expect(errorMessage('plain')).toBe('plain')
  expect(errorMessage(42)).toBe('42')
})
