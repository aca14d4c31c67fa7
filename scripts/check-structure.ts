/**
 * Structure checks of src/, run by scripts/test.sh (exit 1 on a violation):
 * 1. no import cycle between modules (files), value imports only
 *    (`import type` is erased and cannot cycle at run time);
 * 2. no import cycle between components (the folders of src/ that mirror
 *    upstream's components: `api/rest`, `consensus/crdt`, `adder`, …; a
 *    top-level file such as `cluster.ts` is a component of its own);
 * 3. Bun and Deno APIs (`Bun.`, `Deno.`, `bun:` modules, `with { type:
 *    'file' }` embeds) only under src/runtime/.
 * Prints the number of modules, components and import edges it checked.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs'
import { dirname, join, relative, resolve } from 'node:path'

const ROOT = resolve(import.meta.dir, '..')
const SRC = join(ROOT, 'src')
/** folders whose sub-folders are components of their own (alternative implementations, separate programs) */
const NESTED = new Set(['api', 'cli', 'consensus', 'ipfsconn'])
/** folders whose files are unrelated components that only share a theme (logging vs Prometheus metrics) */
const PER_FILE = new Set(['observability'])

function files(dir: string): string[] {
  const out: string[] = []
  for (const name of readdirSync(dir)) {
    const p = join(dir, name)
    if (statSync(p).isDirectory()) out.push(...files(p))
    else if (name.endsWith('.ts') && !name.endsWith('.d.ts')) out.push(p)
  }
  return out
}

/** The component of a file under src/: e.g. `api/rest`, `adder`, `cluster.ts`. */
export function componentOf(rel: string): string {
  const parts = rel.split('/')
  if (parts.length === 1) return parts[0]!
  if (PER_FILE.has(parts[0]!)) return rel
  if (NESTED.has(parts[0]!) && parts.length > 2) return `${parts[0]}/${parts[1]}`
  return parts[0]!
}

/** Value imports (and re-exports) of relative modules in `source`, as written. */
export function valueImports(source: string): string[] {
  const out: string[] = []
  const re = /^\s*(import|export)\s+(type\s+)?([^'";]*?\s+from\s+)?['"](\.[^'"]+)['"]/gm
  for (const m of source.matchAll(re)) {
    if (m[2] !== undefined) continue
    // `import { type A, type B } from` is type-only too
    const names = m[3] ?? ''
    const braces = /\{([^}]*)\}/.exec(names)
    if (braces !== null && !/^[^{]*\w[^{]*\{/.test(names)) {
      const items = braces[1]!.split(',').map((x) => x.trim()).filter(Boolean)
      if (items.length > 0 && items.every((x) => x.startsWith('type '))) continue
    }
    out.push(m[4]!)
  }
  for (const m of source.matchAll(/import\(\s*['"](\.[^'"]+)['"]\s*\)/g)) out.push(m[1]!)
  return out
}

/** Every cycle of a directed graph, one per strongly connected component of more than one node (or a self loop). */
export function cycles(graph: Map<string, Set<string>>): string[][] {
  let index = 0
  const idx = new Map<string, number>()
  const low = new Map<string, number>()
  const stack: string[] = []
  const on = new Set<string>()
  const out: string[][] = []
  const strong = (v: string): void => {
    idx.set(v, index)
    low.set(v, index++)
    stack.push(v)
    on.add(v)
    for (const w of graph.get(v) ?? []) {
      if (!idx.has(w)) {
        strong(w)
        low.set(v, Math.min(low.get(v)!, low.get(w)!))
      } else if (on.has(w)) low.set(v, Math.min(low.get(v)!, idx.get(w)!))
    }
    if (low.get(v) === idx.get(v)) {
      const scc: string[] = []
      let w: string
      do {
        w = stack.pop()!
        on.delete(w)
        scc.push(w)
      } while (w !== v)
      if (scc.length > 1 || graph.get(v)?.has(v) === true) out.push(scc.sort())
    }
  }
  for (const v of graph.keys()) if (!idx.has(v)) strong(v)
  return out
}

if (import.meta.main) {
  const modules = new Map<string, Set<string>>()
  const components = new Map<string, Set<string>>()
  const runtimeViolations: string[] = []
  let edges = 0
  for (const f of files(SRC)) {
    const rel = relative(SRC, f)
    const source = readFileSync(f, 'utf8')
    const deps = new Set<string>()
    for (const spec of valueImports(source)) {
      const target = relative(SRC, resolve(dirname(f), spec))
      if (target.startsWith('..')) continue
      deps.add(target)
      edges++
      const a = componentOf(rel)
      const b = componentOf(target)
      if (a !== b) {
        const set = components.get(a) ?? new Set<string>()
        set.add(b)
        components.set(a, set)
      }
    }
    modules.set(rel, deps)
    if (!components.has(componentOf(rel))) components.set(componentOf(rel), new Set())
    if (!rel.startsWith('runtime/')) {
      const code = source.replace(/\/\*[\s\S]*?\*\//g, '').replace(/^\s*\/\/.*$/gm, '')
      for (const [what, re] of [
        ['Bun API', /\bBun\.\w/],
        ['Deno API', /\bDeno\.\w/],
        ['bun: module', /from\s+['"]bun:/],
        ['file embed', /with\s*\{\s*type:\s*['"]file['"]/]
      ] as const) {
        if (re.test(code)) runtimeViolations.push(`src/${rel}: ${what} outside src/runtime/`)
      }
    }
  }
  const moduleCycles = cycles(modules)
  const componentCycles = cycles(components)
  for (const c of moduleCycles) console.log(`module cycle: ${c.join(' <-> ')}`)
  for (const c of componentCycles) console.log(`component cycle: ${c.join(' <-> ')}`)
  for (const v of runtimeViolations) console.log(v)
  console.log(
    `structure: ${modules.size} modules, ${components.size} components, ${edges} value imports; ` +
      `${moduleCycles.length} module cycles, ${componentCycles.length} component cycles, ${runtimeViolations.length} runtime violations`
  )
  if (moduleCycles.length + componentCycles.length + runtimeViolations.length > 0) process.exit(1)
}
