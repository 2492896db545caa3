/**
 * Baseline of the read lines: a bare Fastify 5 route returning a small JSON object (no plugins,
 * no logger, no auth, no database), in a process of its own on the same machine.
 */
import Fastify from 'fastify'

const app = Fastify({ logger: false })
const body = { id: '0190a0b0-0000-7000-8000-000000000000', username: 'jdoe', email: 'jdoe@example.com', status: 'active' }
app.get('/v1/users/:id', async () => body)
const address = await app.listen({ host: '127.0.0.1', port: 0 })
process.stdout.write(`${JSON.stringify({ url: address })}\n`)
process.once('SIGTERM', () => { void app.close().then(() => process.exit(0)) })
