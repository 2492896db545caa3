import type { FastifyPluginAsync, FastifyPluginOptions, RawServerDefault } from 'fastify'
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox'

export type ShellPlugin<Options extends FastifyPluginOptions = Record<never, never>> =
  FastifyPluginAsync<Options, RawServerDefault, TypeBoxTypeProvider>

/**
 * Marks a plugin as non-encapsulated, so its decorators, hooks and handlers apply to the parent
 * instance. This is what fastify-plugin does, through Fastify's documented `skip-override`
 * symbol (fastify-plugin is not a declared dependency of this project).
 */
export function globalPlugin<Options extends FastifyPluginOptions> (name: string, plugin: ShellPlugin<Options>): ShellPlugin<Options> {
  const marked = plugin as ShellPlugin<Options> & Record<symbol, unknown>
  marked[Symbol.for('skip-override')] = true
  marked[Symbol.for('fastify.display-name')] = name
  return plugin
}
