/**
 * `ctl` as a program (src/main.ts in a child process) against the stub REST
 * API of test/unit/ctl/stub-server.ts: the exit code and output a user sees.
 */
import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import { spawn } from 'node:child_process'
import { resolve } from 'node:path'
import { setLogReporters } from '../../../src/observability/logging.ts'
import { MISSING, type Stub, startStub } from '../../unit/ctl/stub-server.ts'

const ROOT = resolve(import.meta.dir, '../../..')
let stub: Stub

beforeAll(async () => {
  setLogReporters([])
  stub = await startStub()
})
afterAll(async () => {
  setLogReporters(undefined)
  await stub.close()
})

describe('ctl globals, help and exit codes', () => {
  test('the program through src/main.ts: exit code 2 on an API error', async () => {
    // async spawn: the stub answers from this process
    const child = spawn(process.execPath, [resolve(ROOT, 'src/main.ts'), 'ctl', '--host', stub.url, 'pin', 'ls', MISSING], {
      stdio: ['ignore', 'pipe', 'pipe']
    })
    let stdout = ''
    child.stdout.on('data', (d: Buffer) => {
      stdout += d.toString()
    })
    const status = await new Promise<number | null>((resolve) => child.on('close', (code) => resolve(code)))
    expect(status).toBe(2)
    expect(stdout).toBe('An error occurred:\n  Code: 404\n  Message: pin is not part of the pinset\n')
  })
})
