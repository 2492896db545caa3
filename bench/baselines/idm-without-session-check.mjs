// The A side of the session-check line (bench/scenarios/sessions.ts): the real server from dist/,
// configured by the environment exactly like `node dist/main.js`, but opened with
// { sessionCheck: false }, so /v1 skips the per-request "is the token's session live" lookup, as
// before sessions existed. Everything else (JWT verification, the credential check, the routes,
// the read model) is the same code. An operator cannot reach this: no setting turns it on.
import { loadConfig } from '../../dist/config.js'
import { start } from '../../dist/main.js'

await start(loadConfig(process.env), { sessionCheck: false })
