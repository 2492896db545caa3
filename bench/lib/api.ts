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
