/**
 * The typed, camelCase view of a `service.json` section, driven by the same
 * `FieldSpec` declarations as the JSON layer (`schema.ts`): `section()`
 * declares a section, `SectionConfig<typeof X>` is its TypeScript type,
 * `readSection()` turns a normalized JSON struct into that type (checks,
 * paths, conversions, then the section's `finish`), `fieldDefaults()` gives
 * the declared defaults as typed values for components used without a
 * `service.json`. Mirrors what each upstream `config.go` does in
 * `LoadJSON` + `Validate`.
 */
import { isAbsolute, resolve } from 'node:path'
import { peerIdFromString } from '@libp2p/peer-id'
import { multiaddr } from '@multiformats/multiaddr'
import { errorMessage } from '../errors.ts'
import { parseDuration } from './duration.ts'
import { ConfigError } from './errors.ts'
import {
  clone,
  defaults,
  type FieldKind,
  type FieldSpec,
  fieldError,
  isPlainObject,
  type Json,
  type JsonObject,
  type NormalizeContext,
  type SectionIo
} from './schema.ts'

/** The typed value of each kind (before `oneOf`, `nullable` and `convert`). */
interface KindValue {
  string: string
  int: number
  float: number
  bool: boolean
  /** milliseconds */
  duration: number
  strings: string[]
  list: string[]
  map: Record<string, string>
  mapList: Record<string, string[]>
  object: never
  raw: JsonObject
}

/** The typed value of one declared field. */
export type FieldValue<F> = F extends { convert: (value: never, io: SectionIo) => infer R }
  ? R
  : F extends { kind: 'object'; fields: infer S extends readonly FieldSpec[] }
    ? FieldsConfig<S>
    : F extends { oneOf: { values: readonly (infer V)[] } }
      ? V
      : F extends { kind: 'map'; nullable: true }
        ? Record<string, string> | null
        : F extends { kind: infer K extends FieldKind }
          ? KindValue[K]
          : never

/** `{ [prop]: value }` of the declared fields that have a `prop`. */
export type FieldsConfig<S extends readonly FieldSpec[]> = Flat<{
  [F in S[number] as F extends { prop: infer P extends string } ? P : never]: FieldValue<F>
}>

/** The same object type, shown by editors and compiler messages as its plain properties. */
type Flat<T> = { [K in keyof T]: T[K] } & {}

/**
 * A declared section: its fields and the step from their typed values to
 * the section's typed config (derived values, cross-field checks).
 */
export interface Section<S extends readonly FieldSpec[] = readonly FieldSpec[], T = unknown> {
  readonly fields: S
  readonly finish: (c: FieldsConfig<S>, io: SectionIo) => T
}

/** The typed config of a declared section. */
export type SectionConfig<X> = X extends Section<readonly FieldSpec[], infer T> ? T : never

/**
 * Declares a section. `fields` are read with `as const` precision (keys,
 * kinds and props become literal types); `finish` (default: none) gets the
 * typed fields and returns the section's typed config.
 */
export function section<const S extends readonly FieldSpec[], T = FieldsConfig<S>>(decl: {
  fields: S
  finish?: (c: FieldsConfig<S>, io: SectionIo) => T
}): Section<S, T> {
  const finish = decl.finish ?? ((c: FieldsConfig<S>) => c as unknown as T)
  return { fields: decl.fields, finish }
}

/** Returns why `s` is not a multiaddr, or null when it is one. `/unix/<path>` is accepted. */
export function multiaddrProblem(s: string): string | null {
  if (s.startsWith('/unix/')) return s.length > '/unix/'.length ? null : 'empty unix socket path'
  try {
    multiaddr(s)
    return null
  } catch (err) {
    return errorMessage(err)
  }
}

/** @throws ConfigError `invalid peer ID "<id>"` on `key` when `id` is not a peer ID. */
export function checkPeerId(io: SectionIo, key: string, id: string): void {
  try {
    peerIdFromString(id)
  } catch {
    throw io.fail(key, `invalid peer ID "${id}"`)
  }
}

function checkMultiaddr(io: SectionIo, key: string, a: string): void {
  const p = multiaddrProblem(a)
  if (p !== null) throw io.fail(key, `invalid multiaddr "${a}": ${p}`)
}

function strings(v: Json | undefined): string[] {
  return Array.isArray(v) ? v.filter((x): x is string => typeof x === 'string') : []
}

/** The checked value of one field, before `convert`. */
function fieldValue(f: FieldSpec, v: Json | undefined, key: string, io: SectionIo): unknown {
  switch (f.kind) {
    case 'string': {
      const s = typeof v === 'string' ? v : ''
      if (f.check === 'multiaddr') {
        if (s === '') throw io.fail(key, 'must be a multiaddr')
        checkMultiaddr(io, key, s)
      }
      if (f.check === 'notEmpty' && s === '') throw io.fail(key, 'should not be empty')
      if (f.oneOf !== undefined && !f.oneOf.values.includes(s)) {
        throw io.fail(key, `invalid ${f.oneOf.what} "${s}": use ${f.oneOf.values.join(' or ')}`)
      }
      if (f.path === true && s !== '') return isAbsolute(s) ? s : resolve(io.folder, s)
      return s
    }
    case 'int':
    case 'float': {
      const n = typeof v === 'number' ? v : 0
      if (f.min !== undefined && n < f.min) throw io.fail(key, `must be at least ${f.min}`)
      return n
    }
    case 'bool':
      return v === true
    case 'duration': {
      const s = typeof v === 'string' ? v : ''
      let ms: number
      try {
        ms = parseDuration(s)
      } catch {
        throw io.fail(key, `invalid duration "${s}"`)
      }
      if (f.check === 'positive' && ms <= 0) throw io.fail(key, 'must be greater than 0s')
      if (f.check !== 'positive' && ms < 0) throw io.fail(key, 'must not be negative')
      if (f.check === 'nonZero' && ms === 0) throw io.fail(key, 'must not be 0s')
      return ms
    }
    case 'strings':
    case 'list': {
      const l = strings(v)
      if (f.check === 'multiaddrsNonEmpty' && l.length === 0) throw io.fail(key, 'must not be empty')
      if (f.check === 'multiaddrs' || f.check === 'multiaddrsNonEmpty') for (const a of l) checkMultiaddr(io, key, a)
      if (f.emptyIsDefault === true && l.length === 0) return strings(clone(f.def))
      return l
    }
    case 'map': {
      if (!isPlainObject(v)) return f.nullable === true ? null : {}
      const out: Record<string, string> = {}
      for (const [k, x] of Object.entries(v)) if (typeof x === 'string') out[k] = x
      if (f.check === 'nullOrNonEmpty' && Object.keys(out).length === 0) {
        throw io.fail(key, 'should be null or have at least one entry')
      }
      return out
    }
    case 'mapList': {
      const out: Record<string, string[]> = {}
      if (isPlainObject(v)) for (const [k, x] of Object.entries(v)) if (Array.isArray(x)) out[k] = strings(x)
      return out
    }
    case 'raw':
      return isPlainObject(v) ? v : {}
    case 'object':
      throw new Error(`${key}: an object field is read by readFields`)
  }
}

function readFields(fields: readonly FieldSpec[], obj: JsonObject, prefix: string, io: SectionIo): Record<string, unknown> {
  const out: Record<string, unknown> = {}
  for (const f of fields) {
    if (f.prop === undefined) continue
    const key = `${prefix}${f.key}`
    const v = obj[f.key]
    if (f.kind === 'object') {
      out[f.prop] = readFields(f.fields ?? [], isPlainObject(v) ? v : {}, `${key}.`, io)
      continue
    }
    const value = fieldValue(f, v, key, io)
    if (f.convert === undefined) {
      out[f.prop] = value
      continue
    }
    try {
      out[f.prop] = f.convert(value as never, io)
    } catch (err) {
      if (err instanceof ConfigError) throw err
      throw io.fail(key, errorMessage(err))
    }
  }
  return out
}

function sectionIo(path: string, ctx: NormalizeContext, folder: string): SectionIo {
  return { folder, fail: (key, msg) => fieldError(ctx, `${path}.${key}`, msg) }
}

/**
 * The typed config of one normalized section (`normalize` + `applyEnv`
 * output), relative paths resolved against `folder`.
 * @throws ConfigError `<label>: <path>.<key>: <problem>`.
 */
export function readSection<S extends readonly FieldSpec[], T>(
  spec: Section<S, T>,
  obj: JsonObject,
  path: string,
  ctx: NormalizeContext,
  folder: string
): T {
  const io = sectionIo(path, ctx, folder)
  return spec.finish(readFields(spec.fields, obj, '', io) as FieldsConfig<S>, io)
}

/**
 * The declared defaults of a section's fields as typed values (before
 * `finish`), for components run without a `service.json` (tests,
 * `ipfs-cluster-follow`). A fresh object on every call.
 */
export function fieldDefaults<S extends readonly FieldSpec[], T>(spec: Section<S, T>, folder = '.'): FieldsConfig<S> {
  const ctx: NormalizeContext = { label: 'defaults', origin: new Map() }
  return readFields(spec.fields, defaults(spec.fields), '', sectionIo('defaults', ctx, resolve(folder))) as FieldsConfig<S>
}
