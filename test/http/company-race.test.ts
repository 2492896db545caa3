/**
 * Issue 13, decided in the write model: 100 concurrent profile edits by company A's admin while
 * an identity admin unlinks the user from A. Every edit is decided on the user's stream at the
 * revision it is planned on, so none lands after the unlink: in the stored stream every edit by
 * A's admin comes before UserCompanyUnlinked, each answered 200 is one of them, and every other
 * answer is the 404 of a user that does not exist.
 */
import t from 'tap'
import { UNKNOWN_ID } from '../helpers/api.js'
import { A, openCompanyWorld } from './company-fixture.js'

t.test('100 concurrent edits by A\'s admin while the user is unlinked from A', async t => {
  const { svc, users, caller } = await openCompanyWorld(t)
  const { user: companyAdmin, token } = await caller({ companies: [A], companyRoles: [[A, 'company-admin']] })
  const target = users.inA
  const body = (n: number) => ({
    email: target.email, firstName: `Edit${n}`, lastName: target.lastName,
    identificationType: target.identificationType, identificationNumber: target.identificationNumber
  })
  // Wave 1 (40 edits) in flight; once one is answered the unlink goes in with wave 2 (30) racing
  // it; wave 3 (30) is sent once the unlink is answered, so all of it is decided after it.
  const edit = (n: number) => svc.call('PUT', `/v1/users/${target.id}`, { token, body: body(n) })
    .then(r => ({ n, status: r.statusCode, body: r.body }))
  const wave1 = Array.from({ length: 40 }, (_, n) => edit(n))
  await Promise.race(wave1)
  const unlink = svc.call('DELETE', `/v1/users/${target.id}/companies/${A}`, { token: svc.admin }).then(u => u.statusCode)
  const wave2 = Array.from({ length: 30 }, (_, n) => edit(40 + n))
  await unlink
  const wave3 = await Promise.all(Array.from({ length: 30 }, (_, n) => edit(70 + n)))
  const answers = [...await Promise.all(wave1), ...await Promise.all(wave2), ...wave3]
  t.ok(wave3.every(a => a.status === 404), 'every edit sent after the unlink was answered is refused')
  t.equal(await unlink, 204, 'the unlink was stored')

  const missing = (await svc.call('PUT', `/v1/users/${UNKNOWN_ID}`, { token, body: body(0) })).json() as Record<string, unknown>
  const refused = answers.filter(a => a.status !== 200)
  for (const a of refused) {
    if (a.status !== 404 || JSON.stringify(JSON.parse(a.body)) !== JSON.stringify({ ...missing, userId: target.id })) {
      t.fail(`edit ${a.n}: ${a.status} ${a.body}`)
    }
  }
  t.ok(refused.length > 0, `${refused.length} edits refused after the unlink`)

  const stream = await svc.store.readStream(`user-${target.id}`)
  const unlinkedAt = stream.findIndex(e => e.type === 'UserCompanyUnlinked')
  t.ok(unlinkedAt > 0, 'the unlink is in the stream')
  const byCompanyAdmin = stream.filter(e => e.type === 'UserProfileUpdated' && e.metadata.actorId === companyAdmin.id)
  t.ok(byCompanyAdmin.every(e => e.revision < stream[unlinkedAt]!.revision), 'no edit by A\'s admin landed after the unlink')
  const accepted = answers.filter(a => a.status === 200).map(a => `Edit${a.n}`).sort()
  t.strictSame(byCompanyAdmin.map(e => String((e.data as { firstName: string }).firstName)).sort(), accepted, 'each edit answered 200 is stored, and only those')
  t.equal(accepted.length + refused.length, 100)
})
