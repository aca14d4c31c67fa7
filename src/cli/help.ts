/**
 * Help of a whole program, laid out as urfave/cli v1's `AppHelpTemplate`
 * (NAME / USAGE / VERSION / DESCRIPTION / COMMANDS / GLOBAL OPTIONS), built
 * on the column and flag renderers of the shared command model
 * (`./cmd.ts`), so every program of the binary prints help the same way.
 * Commands' own help (`renderCommandHelp`, `renderGroupHelp`) lives there.
 */
import { columns, type FlagSpec, HELP_COMMAND_USAGE, renderFlags } from './cmd.ts'

/** What the top-level help shows; texts are the program's own. */
export interface AppHelpSpec {
  /** program name, e.g. `ipfs-cluster-service`. */
  name: string
  /** one line after the name (urfave `Usage`). */
  usage: string
  version?: string
  /** long text (urfave `Description`), printed as given after three spaces. */
  description?: string
  /** `[names, usage]` of each visible command, in display order; `help, h` is appended. */
  commands: [string, string][]
  /** global flags, in display order. */
  flags: FlagSpec[]
  /** rows after the flags; default `--help, -h` and `--version, -v`. */
  extraFlags?: [string, string][]
}

/** urfave's rows for the built-in `--help` and `--version` flags. */
export const HELP_AND_VERSION_ROWS: [string, string][] = [
  ['--help, -h', 'show help'],
  ['--version, -v', 'print the version']
]

/** The top-level help text (ends with a newline). */
export function renderAppHelp(app: AppHelpSpec): string {
  const rows: [string, string][] = [...app.commands, ['help, h', HELP_COMMAND_USAGE]]
  let s = `NAME:\n   ${app.name} - ${app.usage}\n\n`
  s += `USAGE:\n   ${app.name} [global options] command [command options] [arguments...]\n`
  if (app.version !== undefined && app.version !== '') s += `\nVERSION:\n   ${app.version}\n`
  if (app.description !== undefined && app.description.trim() !== '') s += `\nDESCRIPTION:\n   ${app.description}\n`
  s += `\nCOMMANDS:\n${columns(rows, '     ')}\n`
  s += `\nGLOBAL OPTIONS:\n${renderFlags(app.flags, app.extraFlags ?? HELP_AND_VERSION_ROWS)}\n`
  return s
}
