/** The few HTTP calls the bench makes outside the measured load (with fetch). */

export async function login (url: string, username: string, password: string): Promise<string> {
  const res = await fetch(`${url}/v1/authentication`, {
    method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ username, password })
  })
  if (res.status !== 200) throw new Error(`login of ${username} answered ${res.status}: ${await res.text()}`)
  return ((await res.json()) as { access_token: string }).access_token
}

export async function call (url: string, token: string, method: string, path: string, body?: unknown): Promise<{ status: number, json: unknown }> {
  const res = await fetch(`${url}${path}`, {
    method,
    headers: { authorization: `Bearer ${token}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
    ...(body === undefined ? {} : { body: JSON.stringify(body) })
  })
  const text = await res.text()
  return { status: res.status, json: text === '' ? null : JSON.parse(text) }
}

export async function expectOk (url: string, token: string, method: string, path: string, body?: unknown): Promise<unknown> {
  const { status, json } = await call(url, token, method, path, body)
  if (status >= 300) throw new Error(`${method} ${path} answered ${status}: ${JSON.stringify(json)}`)
  return json
}

/** The server's group-commit counters from /metrics (SQLite event store), or null without them. */
export async function groupCommits (url: string): Promise<{ commits: number, appends: number } | null> {
  const text = await (await fetch(`${url}/metrics`)).text()
  const value = (name: string): number | undefined => {
    const line = text.split('\n').find(l => l.startsWith(`${name} `))
    return line === undefined ? undefined : Number(line.slice(name.length + 1))
  }
  const commits = value('idm_eventstore_group_commits')
  const appends = value('idm_eventstore_group_commit_appends')
  return commits === undefined || appends === undefined ? null : { commits, appends }
}
