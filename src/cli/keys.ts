/**
 * `idm keys list|add|activate|retire`: token signing key rotation (docs/reliability.md). Each
 * change edits the key file only; every API node reads it at start, hence the reminder.
 */
import { existsSync } from 'node:fs'
import type { Command } from 'commander'
import { CliError, config } from './shared.js'

const RESTART = 'Restart every API node sharing this key file for the change to take effect.'

async function keyFileOf (mustExist: boolean): Promise<{ keyFile: string, keys: typeof import('../http/keys.js') }> {
  const keyFile = config().token.signingKeyFile
  if (mustExist && !existsSync(keyFile)) {
    throw new CliError(`there is no key file at ${keyFile} (the server creates it on its first start; check IDM_DATA_DIR and IDM_SIGNING_KEY_FILE)`)
  }
  return { keyFile, keys: await import('../http/keys.js') }
}

/** Runs a key-file edit, turning a refused one (unknown kid, the signing key retired) into exit 1. */
async function editKeys (run: (keyFile: string, keys: typeof import('../http/keys.js')) => string): Promise<void> {
  const { keyFile, keys } = await keyFileOf(true)
  let message: string
  try {
    message = run(keyFile, keys)
  } catch (err) {
    if (err instanceof keys.SigningKeyError) throw new CliError(err.message)
    throw err
  }
  process.stdout.write(`${message}\n${RESTART}\n`)
}

async function keysList (options: { json?: boolean }): Promise<void> {
  const { keyFile, keys } = await keyFileOf(true)
  const entries = keys.listKeyFile(keyFile)
  if (options.json === true) {
    process.stdout.write(`${JSON.stringify(entries)}\n`)
    return
  }
  for (const e of entries) process.stdout.write(`${e.kid}  ${e.active ? 'signs and verifies' : 'verifies'}${e.private ? '' : ' (public key only)'}\n`)
}

async function keysAdd (options: { activate?: boolean }): Promise<void> {
  await editKeys((keyFile, keys) => {
    const kid = keys.addSigningKey(keyFile, { activate: options.activate === true })
    return options.activate === true
      ? `added ${kid}: it signs new tokens; the other keys still verify`
      : `added ${kid}: it verifies (and is in the JWKS) but does not sign yet; once every node has restarted, run \`idm keys activate ${kid}\``
  })
}

async function keysActivate (kid: string): Promise<void> {
  await editKeys((keyFile, keys) => {
    keys.activateSigningKey(keyFile, kid)
    return `${kid} now signs new tokens; retire the previous key no sooner than IDM_TOKEN_TTL from now`
  })
}

async function keysRetire (kid: string): Promise<void> {
  await editKeys((keyFile, keys) => {
    keys.retireSigningKey(keyFile, kid)
    return `retired ${kid}: tokens it signed are refused (401) from the next start`
  })
}

export function keysCommand (program: Command): void {
  const keys = program.command('keys')
    .description('Token signing keys (IDM_SIGNING_KEY_FILE): rotation without invalidating live tokens. ' +
      'Each change rewrites the key file atomically (mode 0600) and takes effect when the server restarts.')
  keys.command('list')
    .description('Every key of the key file by kid (RFC 7638 thumbprint), the signing one first.')
    .option('--json', 'print the list as JSON')
    .action(keysList)
  keys.command('add')
    .description('Generate a new P-256 key. Without --activate it only verifies (step 1 with several nodes); with it, it signs from the next start.')
    .option('--activate', 'make the new key the signing key at once (one node, or all nodes restarted together)')
    .action(keysAdd)
  keys.command('activate')
    .description('Make a key already in the file the signing key; the others keep verifying.')
    .argument('<kid>', 'the key id, as `idm keys list` prints it')
    .action(keysActivate)
  keys.command('retire')
    .description('Remove a key: tokens it signed are refused from the next start. Wait IDM_TOKEN_TTL after activating its successor.')
    .argument('<kid>', 'the key id, as `idm keys list` prints it')
    .action(keysRetire)
}
