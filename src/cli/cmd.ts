/**
 * The command model shared by `ipfs-cluster ctl` and `ipfs-cluster
 * service`: each command is a `CommandDef` node built from a `CommandSpec`
 * that also carries its help texts, in the slots urfave/cli v1 has
 * (`Name`, `Usage`, `Description`, `ArgsUsage`, `Flags`); the texts
 * themselves are our own. Flags are parsed like Go's `flag` package as urfave uses it:
 * `-name` and `--name` are the same, `-name=value` or `-name value`,
 * flags may follow positional arguments, `--` ends flags, repeatable
 * (`slice`) flags collect every value.
 */
import { AsyncLocalStorage } from 'node:async_hooks'
import { InvalidDurationError, parseDuration } from '../config/duration.ts'
import { ClusterError } from '../errors.ts'

export type FlagKind = 'bool' | 'string' | 'int' | 'slice' | 'duration'

/** One flag, as upstream declares it (`cli.StringFlag{Name: "name, n", …}`). */
export interface FlagSpec {
  name: string
  aliases?: string[]
  kind: FlagKind
  usage: string
  /** shown as `(default: …)` and used when unset. */
  default?: string | number
  envVar?: string
}

export interface FlagValues {
  bool(name: string): boolean
  string(name: string): string
  int(name: string): number
  slice(name: string): string[]
  /** whether the flag was given on the command line. */
  isSet(name: string): boolean
}

export interface ParsedCommandLine {
  flags: FlagValues
  positionals: string[]
  /** `--help`/`-h` was given. */
  help: boolean
}

/** A usage error (urfave prints "Incorrect Usage." and the help; exit 1). */
export class UsageError extends ClusterError {
  static override name = 'UsageError'
}

/**
 * Parses `args` against `specs`. With `stopAtPositional`, parsing ends at
 * the first positional argument (global flags before the command name),
 * which is returned with the rest in `positionals`.
 * @throws UsageError on an unknown flag or a bad value.
 */
export function parseCommandLine(
  args: string[],
  specs: FlagSpec[],
  opts: { stopAtPositional?: boolean; env?: Record<string, string | undefined> } = {}
): ParsedCommandLine {
  const byName = new Map<string, FlagSpec>()
  for (const s of specs) {
    byName.set(s.name, s)
    for (const a of s.aliases ?? []) byName.set(a, s)
  }
  const values = new Map<string, string[]>()
  const positionals: string[] = []
  let help = false
  for (let i = 0; i < args.length; i++) {
    const arg = args[i]!
    if (arg === '--') {
      positionals.push(...args.slice(i + 1))
      break
    }
    if (!arg.startsWith('-') || arg === '-') {
      if (opts.stopAtPositional === true) {
        positionals.push(...args.slice(i))
        break
      }
      positionals.push(arg)
      continue
    }
    const body = arg.replace(/^--?/, '')
    const eq = body.indexOf('=')
    const name = eq >= 0 ? body.slice(0, eq) : body
    const inline = eq >= 0 ? body.slice(eq + 1) : undefined
    if (name === 'help' || name === 'h') {
      help = true
      continue
    }
    const spec = byName.get(name)
    if (spec === undefined) throw new UsageError(`flag provided but not defined: -${name}`)
    let value: string
    if (spec.kind === 'bool') {
      value = inline ?? 'true'
      if (!['true', 'false', '1', '0', 't', 'f', 'TRUE', 'FALSE', 'True', 'False'].includes(value)) {
        throw new UsageError(`invalid boolean value "${value}" for -${name}: parse error`)
      }
    } else if (inline !== undefined) {
      value = inline
    } else {
      const next = args[i + 1]
      if (next === undefined) throw new UsageError(`flag needs an argument: -${name}`)
      value = next
      i++
    }
    if (spec.kind === 'int' && !/^[-+]?\d+$/.test(value.trim())) {
      throw new UsageError(`invalid value "${value}" for flag -${name}: parse error`)
    }
    if (spec.kind === 'duration') parseGoDuration(value, `-${name}`)
    const list = values.get(spec.name) ?? []
    if (spec.kind === 'slice') list.push(value)
    else list.splice(0, list.length, value)
    values.set(spec.name, list)
  }
  for (const s of specs) {
    if (values.has(s.name) || s.envVar === undefined) continue
    const v = opts.env?.[s.envVar]
    if (v !== undefined && v !== '') values.set(s.name, [v])
  }
  const specOf = (name: string): FlagSpec | undefined => byName.get(name)
  const raw = (name: string): string | undefined => {
    const s = specOf(name)
    if (s === undefined) return undefined
    const v = values.get(s.name)
    if (v !== undefined && v.length > 0) return v[v.length - 1]
    return s.default === undefined ? undefined : String(s.default)
  }
  const flags: FlagValues = {
    bool: (n) => {
      const v = raw(n)
      return v === 'true' || v === '1' || v === 't' || v === 'TRUE' || v === 'True'
    },
    string: (n) => raw(n) ?? '',
    int: (n) => Number.parseInt(raw(n) ?? '0', 10),
    slice: (n) => {
      const s = specOf(n)
      return s === undefined ? [] : [...(values.get(s.name) ?? [])]
    },
    isSet: (n) => {
      const s = specOf(n)
      return s !== undefined && values.has(s.name)
    }
  }
  return { flags, positionals, help }
}

/**
 * A duration flag, in ms: Go's `time.ParseDuration` ("300ms", "1.5h",
 * "2h45m", "0"; `parseDuration` of config/duration.ts) after trimming
 * spaces; a bare number is taken as seconds.
 * @throws UsageError `time: invalid duration "<s>" (<what>)` on a malformed duration.
 */
export function parseGoDuration(s: string, what = 'duration'): number {
  const t = s.trim()
  if (/^[-+]?\d+(\.\d+)?$/.test(t)) return Number.parseFloat(t) * 1000
  try {
    return parseDuration(t)
  } catch (err) {
    if (!(err instanceof InvalidDurationError)) throw err
    throw new UsageError(`time: invalid duration "${s}" (${what})`, { cause: err })
  }
}

/** What a command's `run` receives. */
export interface RunArgs {
  flags: FlagValues
  positionals: string[]
}

/** A ctl command and its help texts. */
export interface CommandSpec {
  name: string
  /** one line (urfave `Usage`). */
  usage: string
  /** long text (urfave `Description`). */
  description?: string
  /** e.g. `<CID|Path>` (urfave `ArgsUsage`). */
  argsUsage?: string
  flags?: FlagSpec[]
  hidden?: boolean
  run?: (args: RunArgs) => Promise<void>
}

const specs = new WeakMap<object, CommandSpec>()

/** The spec a command was built from (for help). */
export function specOf(cmd: object): CommandSpec | undefined {
  return specs.get(cmd)
}

/**
 * The environment flags read their `envVar` from, for the invocation
 * running now (one per `withFlagEnv` call, so concurrent invocations, as in
 * tests, never see each other's). Default: none.
 */
const flagEnv = new AsyncLocalStorage<Record<string, string | undefined>>()

/** Runs `fn` with `env` as the environment of the flags parsed inside it. */
export function withFlagEnv<T>(env: Record<string, string | undefined>, fn: () => Promise<T>): Promise<T> {
  return flagEnv.run(env, fn)
}

/**
 * A node of a program's command tree: a group (`subCommands`, loaded on
 * demand so that `--version` loads nothing else) or a leaf (`run`, given
 * the arguments after the command's name).
 */
export interface CommandDef {
  meta: { name: string; description: string; hidden?: boolean }
  subCommands?: Record<string, () => Promise<CommandDef>>
  run?: (ctx: { rawArgs: string[] }) => Promise<void>
}

/**
 * Builds a leaf command (or group, with `subCommands`) from a spec.
 * Flags are parsed from the arguments after its name with `parseCommandLine`.
 */
export function command(spec: CommandSpec, subCommands?: Record<string, () => Promise<CommandDef>>): CommandDef {
  const def: CommandDef = {
    meta: { name: spec.name, description: spec.usage, hidden: spec.hidden },
    subCommands,
    run:
      spec.run === undefined
        ? undefined
        : async (ctx) => {
            const parsed = parseCommandLine(ctx.rawArgs, spec.flags ?? [], { env: flagEnv.getStore() ?? {} })
            await spec.run?.({ flags: parsed.flags, positionals: parsed.positionals })
          }
  }
  specs.set(def, spec)
  return def
}

// ---- help, laid out as urfave/cli v1 renders it --------------------------------

/** Usage line of the built-in `help, h` command in command lists. */
export const HELP_COMMAND_USAGE = 'list the commands, or show the help of one'

function flagNames(f: FlagSpec): string {
  const value = f.kind === 'bool' ? '' : ' value'
  return [f.name, ...(f.aliases ?? [])].map((n) => `${n.length === 1 ? '-' : '--'}${n}${value}`).join(', ')
}

function flagUsage(f: FlagSpec): string {
  let s = f.usage
  if (f.kind !== 'bool' && f.default !== undefined && f.default !== '') {
    s += f.kind === 'string' ? ` (default: "${f.default}")` : ` (default: ${f.default})`
  } else if (f.kind === 'int') {
    s += ' (default: 0)'
  } else if (f.kind === 'duration') {
    s += ' (default: 0s)'
  }
  if (f.envVar !== undefined) s += ` [$${f.envVar}]`
  return s
}

/** Two columns, the first padded as Go's tabwriter does. */
export function columns(rows: [string, string][], indent: string): string {
  const w = Math.max(0, ...rows.map(([a]) => a.length))
  return rows.map(([a, b]) => `${indent}${a.padEnd(w)}  ${b}`.trimEnd()).join('\n')
}

/** urfave's flag list, `--help` last. */
export function renderFlags(flags: FlagSpec[], extra: [string, string][] = [['--help, -h', 'show help']]): string {
  return columns([...flags.map((f): [string, string] => [flagNames(f), flagUsage(f)]), ...extra], '   ')
}

/** Help of a leaf command (urfave `CommandHelpTemplate`). */
export function renderCommandHelp(path: string, spec: CommandSpec): string {
  let s = `NAME:\n   ${path} - ${spec.usage}\n\nUSAGE:\n   ${path} [command options] ${spec.argsUsage ?? '[arguments...]'}\n`
  if (spec.description !== undefined && spec.description.trim() !== '') {
    s += `\nDESCRIPTION:\n   ${spec.description.trim()}\n`
  }
  s += `\nOPTIONS:\n${renderFlags(spec.flags ?? [])}\n`
  return s
}

/** Help of a command with subcommands (urfave `SubcommandHelpTemplate`). */
export function renderGroupHelp(path: string, spec: CommandSpec, subs: CommandSpec[]): string {
  let s = `NAME:\n   ${path} - ${spec.usage}\n\nUSAGE:\n   ${path} command [command options] [arguments...]\n`
  if (spec.description !== undefined && spec.description.trim() !== '' && spec.description.trim() !== spec.usage) {
    s += `\nDESCRIPTION:\n   ${spec.description.trim()}\n`
  }
  const rows: [string, string][] = subs.filter((c) => c.hidden !== true).map((c) => [c.name, c.usage])
  rows.push(['help, h', HELP_COMMAND_USAGE])
  s += `\nCOMMANDS:\n${columns(rows, '     ')}\n\nOPTIONS:\n${renderFlags([])}\n`
  return s
}
