/**
 * Request bodies are JSON and nothing else: any other content type is a 415 (Fastify's default
 * text/plain parser is removed). The parser rejects `__proto__` and `constructor` keys at any
 * depth (400), so no body can smuggle prototype changes into code that merges objects. Body size
 * is bounded by Fastify's `bodyLimit` (413) before parsing.
 */
import { HttpProblem, malformedBody } from './problems.js'
import { globalPlugin } from './global.js'

const FORBIDDEN_KEYS = new Set(['__proto__', 'constructor'])

class ForbiddenKey extends Error {}

export function parseJsonBody (text: string): unknown {
  if (text.trim() === '') throw new HttpProblem(malformedBody('is empty'))
  try {
    return JSON.parse(text, (key, value: unknown) => {
      if (FORBIDDEN_KEYS.has(key)) throw new ForbiddenKey()
      return value
    })
  } catch (error) {
    if (error instanceof ForbiddenKey) throw new HttpProblem(malformedBody('contains a forbidden key (__proto__ or constructor)'))
    throw new HttpProblem(malformedBody('is not valid JSON'))
  }
}

export const bodyPlugin = globalPlugin('idm-body', async (app) => {
  app.removeAllContentTypeParsers()
  app.addContentTypeParser('application/json', { parseAs: 'string' }, (_request, body, done) => {
    try {
      done(null, parseJsonBody(body as string))
    } catch (error) {
      done(error as Error, undefined)
    }
  })
})
