/**
 * guardProcess (src/cli/lifecycle.ts): a running peer survives an `'error'`
 * event without a listener and an unawaited rejection, and logs each with
 * its stack. Runs in a child process, since both would end it otherwise.
 */
import { expect, test } from 'bun:test'
import { resolve } from 'node:path'

const ROOT = resolve(import.meta.dir, '../../..')

async function runScript(guard: boolean): Promise<{ code: number; out: string }> {
  const script = `
    import { EventEmitter } from 'node:events'
    import { guardProcess, strayErrors } from './src/cli/lifecycle.ts'
    if (${guard}) guardProcess()
    setTimeout(() => new EventEmitter().emit('error', new Error('stray socket error')), 10)
    setTimeout(() => { void Promise.reject(new Error('nobody awaited me')) }, 20)
    setTimeout(() => { console.log('alive after ' + strayErrors() + ' stray errors'); process.exit(0) }, 200)
  `
  const proc = Bun.spawn([process.execPath, '-e', script], { cwd: ROOT, stdout: 'pipe', stderr: 'pipe' })
  const timer = setTimeout(() => proc.kill('SIGKILL'), 30_000)
  const [out, err, code] = await Promise.all([new Response(proc.stdout).text(), new Response(proc.stderr).text(), proc.exited])
  clearTimeout(timer)
  return { code, out: out + err }
}

test('without the guard, a stray error event ends the process', async () => {
  const r = await runScript(false)
  expect(r.code).not.toBe(0)
  expect(r.out).toContain('stray socket error')
  expect(r.out).not.toContain('alive after')
})

test('with the guard, the process lives on and logs both errors with their stacks', async () => {
  const r = await runScript(true)
  expect(r.out).toContain('alive after 2 stray errors')
  expect(r.code).toBe(0)
  expect(r.out).toMatch(/uncaught error \(a bug, please report it\): Error: stray socket error\n\s+at /)
  expect(r.out).toMatch(/unhandled rejection \(a bug, please report it\): Error: nobody awaited me/)
})
