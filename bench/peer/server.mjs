/**
 * The peer of `npm run bench`: better-auth (email + password, admin plugin) on SQLite through
 * better-sqlite3 (WAL, the library's defaults otherwise), served by Node's http server with
 * better-auth's own Node handler. Measured, never shipped; installed into bench/peer/node_modules
 * by the bench (better-sqlite3 resolves from the project's own node_modules).
 *
 *   node bench/peer/server.mjs <data dir> <users> <password>
 *
 * Prints one JSON line: { url, cookie (an admin session), users: [{ id, email }] }.
 * Traps (MEASURED.md): its rate limiter is turned off, cookie-carrying POSTs need an Origin that
 * matches the base URL, and the schema comes from its migrations.
 */
import { createServer } from 'node:http'
import { join } from 'node:path'
import Database from 'better-sqlite3'
import { betterAuth } from 'better-auth'
import { getMigrations } from 'better-auth/db/migration'
import { toNodeHandler } from 'better-auth/node'
import { admin } from 'better-auth/plugins'

const [dir, usersText, password] = process.argv.slice(2)
const server = createServer()
await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve))
const baseURL = `http://127.0.0.1:${server.address().port}`

const db = new Database(join(dir, 'peer.db'))
db.pragma('journal_mode = WAL')
const options = {
  database: db,
  baseURL,
  secret: 'bench-peer-secret-0123456789abcdef0123456789',
  emailAndPassword: { enabled: true },
  plugins: [admin()],
  rateLimit: { enabled: false },
  telemetry: { enabled: false },
  logger: { disabled: true }
}
const auth = betterAuth(options)
const { runMigrations } = await getMigrations(options)
await runMigrations()
server.on('request', toNodeHandler(auth))

const users = []
const adminEmail = 'admin@example.com'
await auth.api.signUpEmail({ body: { email: adminEmail, password, name: 'Admin' } })
db.prepare("UPDATE user SET role = 'admin' WHERE email = ?").run(adminEmail)
for (let i = 0; i < Number(usersText); i++) {
  const email = `user${i}@example.com`
  const { user } = await auth.api.signUpEmail({ body: { email, password, name: `User ${i}` } })
  users.push({ id: user.id, email })
}
const res = await fetch(`${baseURL}/api/auth/sign-in/email`, {
  method: 'POST',
  headers: { 'content-type': 'application/json', origin: baseURL },
  body: JSON.stringify({ email: adminEmail, password })
})
if (res.status !== 200) throw new Error(`peer admin sign-in answered ${res.status}: ${await res.text()}`)
const cookie = res.headers.getSetCookie().map(c => c.split(';')[0]).join('; ')
process.stdout.write(`${JSON.stringify({ url: baseURL, cookie, users, synchronous: db.pragma('synchronous', { simple: true }) })}\n`)
process.once('SIGTERM', () => server.close(() => { db.close(); process.exit(0) }))
