import Type from 'typebox'
import { problemResponse } from '../schemas/common.js'
import { globalPlugin } from './global.js'
import { problem } from './problems.js'

export interface HealthOptions {
  /** True once the service can answer reads (projections caught up). Default: always. */
  readonly ready?: () => boolean
}

const Status = Type.Object({ status: Type.Literal('ok') }, { additionalProperties: false })

export const healthPlugin = globalPlugin<HealthOptions>('idm-health', async (app, options) => {
  const ready = options.ready ?? (() => true)

  app.get('/health/live', {
    config: { auth: false },
    schema: { tags: ['operations'], summary: 'The process is up', response: { 200: Status } }
  }, async () => ({ status: 'ok' as const }))

  app.get('/health/ready', {
    config: { auth: false },
    schema: {
      tags: ['operations'],
      summary: 'The service is ready to serve (read model caught up)',
      response: { 200: Status, 503: problemResponse(503) }
    }
  }, async () => {
    if (!ready()) throw problem.unavailable('The service is starting or its read model is catching up.')
    return { status: 'ok' as const }
  })
})
