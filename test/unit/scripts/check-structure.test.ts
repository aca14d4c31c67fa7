import { describe, expect, test } from 'bun:test'
import { componentOf, cycles, valueImports } from '../../../scripts/check-structure.ts'

describe('check-structure', () => {
  test('value imports: type-only imports and re-exports are left out, dynamic imports kept', () => {
    const src = [
      "import { a } from './a.ts'",
      "import type { B } from './b.ts'",
      "import { type C, type D } from './c.ts'",
      "import { type E, f } from './e.ts'",
      "export * from './g.ts'",
      "export type { H } from './h.ts'",
      "import x from 'external'",
      "const m = await import('./lazy.ts')"
    ].join('\n')
    expect(valueImports(src).sort()).toEqual(['./a.ts', './e.ts', './g.ts', './lazy.ts'])
  })

  test('components: nested folders, per-file folders and top-level files', () => {
    expect(componentOf('api/rest/app.ts')).toBe('api/rest')
    expect(componentOf('adder/params.ts')).toBe('adder')
    expect(componentOf('informer/disk/index.ts')).toBe('informer')
    expect(componentOf('cli/format.ts')).toBe('cli')
    expect(componentOf('cli/ctl/cmd.ts')).toBe('cli/ctl')
    expect(componentOf('observability/logging.ts')).toBe('observability/logging.ts')
    expect(componentOf('cluster.ts')).toBe('cluster.ts')
  })

  test('cycles: one per strongly connected component, self loops included', () => {
    const g = new Map<string, Set<string>>([
      ['a', new Set(['b'])],
      ['b', new Set(['c'])],
      ['c', new Set(['a', 'd'])],
      ['d', new Set()],
      ['e', new Set(['e'])]
    ])
    expect(cycles(g)).toEqual([['a', 'b', 'c'], ['e']])
    expect(cycles(new Map([['x', new Set(['y'])], ['y', new Set()]]))).toEqual([])
  })
})
