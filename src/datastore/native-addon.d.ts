/** `import p from './x.node' with { type: 'file' }`: Bun embeds the file and gives its path. */
declare module '*.node' {
  const path: string
  export default path
}
