/**
 * A small declarative description of upstream's JSON config structs, used
 * to (1) check and complete a section read from `service.json`, (2) apply
 * `envconfig` overrides by Go field name, and (3) write the section back in
 * the exact layout upstream's `ToJSON` produces (key order, `omitempty`,
 * values hidden while they equal the default, `config.Strings` collapsing a
 * one-element list into a string).
 */
import { ConfigError } from './errors.ts'
import { formatDuration, parseDuration } from './duration.ts'
import { type Env, parseGoBool } from './env.ts'

export type Json = null | boolean | number | string | Json[] | { [key: string]: Json }
export type JsonObject = { [key: string]: Json }
/** A JSON value that may be read-only (declared defaults are `as const`). */
export type JsonValue = null | boolean | number | string | readonly JsonValue[] | { readonly [key: string]: JsonValue }

/**
 * - `string`, `int`, `float`, `bool`: Go scalar fields.
 * - `duration`: a Go duration string (canonicalised to `Duration.String()`).
 * - `strings`: upstream `config.Strings` (a string or a list of strings).
 * - `list`: `[]string`. `map`: `map[string]string`. `mapList`: `map[string][]string`.
 * - `object`: a nested struct described by `fields`.
 * - `raw`: any JSON, kept as is (engine options we do not interpret).
 */
export type FieldKind =
  | 'string'
  | 'int'
  | 'float'
  | 'bool'
  | 'duration'
  | 'strings'
  | 'list'
  | 'map'
  | 'mapList'
  | 'object'
  | 'raw'

/**
 * Validation of a field's typed value (see `typed.ts`), each with the
 * message it fails with:
 * - `positive`: a duration > 0 ("must be greater than 0s"); every other
 *   duration must be >= 0 ("must not be negative").
 * - `nonZero`: a duration that is not 0 ("must not be 0s").
 * - `multiaddr`: a non-empty multiaddr string ("must be a multiaddr", `invalid multiaddr "…": why`).
 * - `multiaddrs`, `multiaddrsNonEmpty`: a list of multiaddrs (the latter
 *   "must not be empty").
 * - `notEmpty`: a string other than "" ("should not be empty").
 * - `nullOrNonEmpty`: a nullable map, null or with at least one entry.
 */
export type FieldCheck = 'positive' | 'nonZero' | 'multiaddr' | 'multiaddrs' | 'multiaddrsNonEmpty' | 'notEmpty' | 'nullOrNonEmpty'

/** What a field's `convert` and a section's `finish` may use. */
export interface SectionIo {
  /** Absolute configuration folder: relative paths resolve against it. */
  folder: string
  /** A ConfigError `<label>: <section>.<key>: <msg>`; `key` may be dotted (`connection_manager.low_water`). */
  fail(key: string, msg: string): ConfigError
}

/**
 * One key of one `service.json` struct: its JSON layout (key, Go field name
 * for envconfig, kind, default, `omitempty` quirks) and, when `prop` is set,
 * its typed, camelCase property with validation and conversion.
 */
export interface FieldSpec {
  /** JSON key (snake_case, as upstream). */
  key: string
  /** Go field name of upstream's JSON struct: the envconfig variable suffix. */
  go: string
  kind: FieldKind
  /** Default JSON value (for `object`, ignored: the nested defaults apply). */
  def: JsonValue
  fields?: readonly FieldSpec[]
  /** Go `omitempty`. */
  omitEmpty?: boolean
  /** Written as the empty value (then omitted) while equal to the default. */
  hideDefault?: boolean
  /** An empty value in the file means "use the default" (upstream `SetIfNotDefault`). */
  zeroIsDefault?: boolean
  /** `null` is a meaningful value (e.g. `basic_auth_credentials`). */
  nullable?: boolean
  /** Not settable from the environment. */
  noEnv?: boolean
  /**
   * Property of the typed section (camelCase; durations are milliseconds
   * and end in `Ms`). Absent: the key is kept in the JSON only.
   */
  prop?: string
  check?: FieldCheck
  /** `int`: the smallest value allowed ("must be at least <min>"). */
  min?: number
  /** `string`: the values allowed (`invalid <what> "x": use a or b`); the typed value is their union. */
  oneOf?: { readonly what: string; readonly values: readonly string[] }
  /** `strings`/`list`: an empty list means the default in the typed value (the JSON keeps it empty). */
  emptyIsDefault?: boolean
  /** `strings`: `service init --randomports` replaces its ports by free ones (upstream `cmdutils.RandomizePorts`). */
  randomPort?: boolean
  /** `string`: a path, resolved against the configuration folder ("" stays ""). */
  path?: boolean
  /**
   * Last step from the checked value to the typed one (its return type is
   * the property's type). A thrown `Error` becomes a ConfigError naming the key.
   */
  convert?: (value: never, io: SectionIo) => unknown
}

/** Where values come from, for error messages. */
export interface NormalizeContext {
  /** The file (or URL) label, e.g. `/home/u/.ipfs-cluster/service.json`. */
  label: string
  /** Dotted key path -> environment variable that set it. */
  origin: Map<string, string>
}

export function isPlainObject(v: unknown): v is JsonObject {
  return typeof v === 'object' && v !== null && !Array.isArray(v)
}

export function fieldError(ctx: NormalizeContext, path: string, msg: string): ConfigError {
  const env = ctx.origin.get(path)
  return new ConfigError(`${ctx.label}: ${path}${env === undefined ? '' : ` (from ${env})`}: ${msg}`)
}

/** A mutable deep copy of a (maybe read-only) JSON value. */
export function clone(v: JsonValue): Json {
  return v === null || typeof v !== 'object' ? v : (JSON.parse(JSON.stringify(v)) as Json)
}

function isStringList(v: unknown): v is string[] {
  return Array.isArray(v) && v.every((x) => typeof x === 'string')
}

/**
 * Checks the JSON types of one struct and fills missing keys with defaults.
 * Returns a new object with every field, in upstream's order.
 * @throws ConfigError naming `<label>: <path>.<key>`.
 */
export function normalize(fields: readonly FieldSpec[], input: unknown, path: string, ctx: NormalizeContext): JsonObject {
  if (input !== undefined && input !== null && !isPlainObject(input)) {
    throw fieldError(ctx, path, 'must be a JSON object')
  }
  const obj: JsonObject = input ?? {}
  const out: JsonObject = {}
  for (const f of fields) {
    const p = `${path}.${f.key}`
    const v = obj[f.key]
    out[f.key] = normalizeValue(f, v, p, ctx)
  }
  return out
}

function normalizeValue(f: FieldSpec, v: Json | undefined, p: string, ctx: NormalizeContext): Json {
  if (f.kind === 'object') return normalize(f.fields ?? [], v, p, ctx)
  if (v === undefined) return clone(f.def)
  if (v === null) return f.nullable === true ? null : clone(f.def)
  switch (f.kind) {
    case 'string':
      if (typeof v !== 'string') throw fieldError(ctx, p, 'must be a string')
      return v === '' && f.zeroIsDefault === true ? clone(f.def) : v
    case 'int':
      if (typeof v !== 'number' || !Number.isInteger(v)) throw fieldError(ctx, p, 'must be an integer')
      return v === 0 && f.zeroIsDefault === true ? clone(f.def) : v
    case 'float':
      if (typeof v !== 'number') throw fieldError(ctx, p, 'must be a number')
      return v
    case 'bool':
      if (typeof v !== 'boolean') throw fieldError(ctx, p, 'must be true or false')
      return v
    case 'duration': {
      if (typeof v !== 'string') throw fieldError(ctx, p, 'must be a duration string like "2m0s"')
      if (v === '') return clone(f.def)
      try {
        return formatDuration(parseDuration(v))
      } catch {
        throw fieldError(ctx, p, `invalid duration "${v}": use Go syntax like "15s", "2m0s", "1h0m0s"`)
      }
    }
    case 'strings':
      if (typeof v === 'string') return v === '' ? [] : [v]
      if (!isStringList(v)) throw fieldError(ctx, p, 'must be a string or a list of strings')
      return [...v]
    case 'list':
      if (!isStringList(v)) throw fieldError(ctx, p, 'must be a list of strings')
      return [...v]
    case 'map': {
      if (!isPlainObject(v) || !Object.values(v).every((x) => typeof x === 'string')) {
        throw fieldError(ctx, p, 'must be an object of strings')
      }
      return { ...v }
    }
    case 'mapList': {
      if (!isPlainObject(v) || !Object.values(v).every((x) => isStringList(x))) {
        throw fieldError(ctx, p, 'must be an object of string lists')
      }
      return clone(v)
    }
    case 'raw':
      return clone(v)
  }
}

/**
 * Applies envconfig overrides to a normalized struct in place:
 * `<prefix>_<GoField>` uppercased, nested structs recurse.
 * Records in `ctx.origin` which key each variable set.
 * @throws ConfigError naming the variable when its value cannot be parsed.
 */
export function applyEnv(
  fields: readonly FieldSpec[],
  obj: JsonObject,
  prefix: string,
  path: string,
  env: Env,
  ctx: NormalizeContext
): void {
  for (const f of fields) {
    if (f.noEnv === true) continue
    const name = `${prefix}_${f.go}`.toUpperCase()
    const p = `${path}.${f.key}`
    if (f.kind === 'object') {
      const inner = obj[f.key]
      if (isPlainObject(inner)) applyEnv(f.fields ?? [], inner, name, p, env, ctx)
      continue
    }
    const raw = env[name]
    if (raw === undefined) continue
    obj[f.key] = envValue(f, name, raw)
    ctx.origin.set(p, name)
  }
}

/** Names of every variable `applyEnv` would look at (for docs and tests). */
export function envNames(fields: readonly FieldSpec[], prefix: string): string[] {
  const out: string[] = []
  for (const f of fields) {
    if (f.noEnv === true) continue
    const name = `${prefix}_${f.go}`.toUpperCase()
    if (f.kind === 'object') out.push(...envNames(f.fields ?? [], name))
    else out.push(name)
  }
  return out
}

function envValue(f: FieldSpec, name: string, raw: string): Json {
  switch (f.kind) {
    case 'string':
    case 'duration':
      return raw
    case 'int': {
      const t = raw.trim()
      if (!/^[+-]?\d+$/.test(t)) throw new ConfigError(`${name}: invalid integer "${raw}"`)
      return Number.parseInt(t, 10)
    }
    case 'float': {
      const n = Number(raw.trim())
      if (raw.trim() === '' || !Number.isFinite(n)) throw new ConfigError(`${name}: invalid number "${raw}"`)
      return n
    }
    case 'bool': {
      const b = parseGoBool(raw)
      if (b === undefined) throw new ConfigError(`${name}: invalid boolean "${raw}": use true or false`)
      return b
    }
    case 'strings':
    case 'list':
      return raw.trim() === '' ? [] : raw.split(',')
    case 'map':
    case 'mapList': {
      const out: JsonObject = {}
      if (raw.trim() === '') return out
      for (const pair of raw.split(',')) {
        const kv = pair.split(':')
        if (kv.length !== 2) throw new ConfigError(`${name}: invalid map item "${pair}": use key:value,key2:value2`)
        const [k, v] = kv as [string, string]
        out[k] = f.kind === 'map' ? v : [v]
      }
      return out
    }
    case 'raw':
    case 'object':
      throw new ConfigError(`${name}: cannot be set from the environment`)
  }
}

function isEmpty(v: Json | undefined): boolean {
  if (v === undefined || v === null || v === false || v === 0 || v === '') return true
  if (Array.isArray(v)) return v.length === 0
  if (typeof v === 'object') return Object.keys(v).length === 0
  return false
}

function emptyOf(kind: FieldKind): Json {
  switch (kind) {
    case 'string':
    case 'duration':
      return ''
    case 'int':
    case 'float':
      return 0
    case 'bool':
      return false
    default:
      return null
  }
}

function sortKeys(o: JsonObject): JsonObject {
  const out: JsonObject = {}
  for (const k of Object.keys(o).sort()) out[k] = o[k] ?? null
  return out
}

export function jsonEqual(a: JsonValue | undefined, b: JsonValue | undefined): boolean {
  return JSON.stringify(a) === JSON.stringify(b)
}

/** Writes a normalized struct the way upstream's `ToJSON` does. */
export function toJson(fields: readonly FieldSpec[], obj: JsonObject): JsonObject {
  const out: JsonObject = {}
  for (const f of fields) {
    let v: Json | undefined = obj[f.key]
    if (f.kind === 'object') {
      out[f.key] = toJson(f.fields ?? [], isPlainObject(v) ? v : {})
      continue
    }
    if (f.hideDefault === true && jsonEqual(v, f.def)) v = emptyOf(f.kind)
    if (f.omitEmpty === true && isEmpty(v)) continue
    if (v === undefined) v = null
    if (f.kind === 'strings' && Array.isArray(v)) {
      out[f.key] = v.length === 1 ? (v[0] ?? '') : v
    } else if ((f.kind === 'map' || f.kind === 'mapList') && isPlainObject(v)) {
      out[f.key] = sortKeys(v)
    } else {
      out[f.key] = clone(v)
    }
  }
  return out
}

/** Defaults of a struct, in normalized form. */
export function defaults(fields: readonly FieldSpec[]): JsonObject {
  return normalize(fields, {}, '', { label: 'defaults', origin: new Map() })
}
