import { expect, test } from 'bun:test'
import { spawnSync } from 'node:child_process'
import { join } from 'node:path'

const LOGGING = join(import.meta.dir, '../../../src/observability/logging.ts')

test('plain log lines (stderr not a terminal) all come out, in order, uncollapsed, also when the process exits right after', () => {
  const script = `
    import { getLogger } from ${JSON.stringify(LOGGING)}
    const log = getLogger('t')
    for (let i = 0; i < 3; i++) log.info('same line')
    for (let i = 0; i < 2000; i++) log.info('line ' + i)
    log.warn('then exit')
    process.exit(3)
  `
  const r = spawnSync(process.execPath, ['-e', script], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] })
  expect(r.status).toBe(3)
  const lines = r.stderr.split('\n').filter(Boolean)
  expect(lines.length).toBe(3 + 2000 + 1)
  expect(lines.slice(0, 3).every((l) => /\tINFO\tt\tsame line$/.test(l))).toBe(true)
  for (let i = 0; i < 2000; i++) expect(lines[3 + i]!.endsWith(`\tline ${i}`)).toBe(true)
  expect(lines[lines.length - 1]).toMatch(/\tWARN\tt\tthen exit$/)
})
