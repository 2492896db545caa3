import t from 'tap'
import { normalizeUsername, emailKey, identificationKey, isE164 } from '../../src/domain/identity-values.js'
import { DomainError } from '../../src/domain/errors.js'

const invalid = { constructor: DomainError, code: 'INVALID_USERNAME' }

t.test('normalizeUsername lower-cases', async t => {
  t.equal(normalizeUsername('JDoe'), 'jdoe')
})

t.test('normalizeUsername folds full-width letters (NFKC) so ＪＤｏｅ is jdoe', async t => {
  t.equal(normalizeUsername('ＪＤｏｅ'), 'jdoe')
})

t.test('normalizeUsername accepts digits, dot, underscore, hyphen and @', async t => {
  t.equal(normalizeUsername('j.doe_2-x@acme'), 'j.doe_2-x@acme')
})

t.test('normalizeUsername rejects a homograph (Cyrillic а in "аdmin")', async t => {
  t.throws(() => normalizeUsername('\u0430dmin'), invalid)
})

t.test('normalizeUsername rejects accented letters, spaces and other punctuation', async t => {
  t.throws(() => normalizeUsername('josé'), invalid)
  t.throws(() => normalizeUsername('j doe'), invalid)
  t.throws(() => normalizeUsername(' jdoe'), invalid)
  t.throws(() => normalizeUsername('j+doe'), invalid)
})

t.test('normalizeUsername takes 3 to 64 characters', async t => {
  t.equal(normalizeUsername('abc'), 'abc')
  t.equal(normalizeUsername('a'.repeat(64)), 'a'.repeat(64))
  t.throws(() => normalizeUsername('ab'), invalid)
  t.throws(() => normalizeUsername('a'.repeat(65)), invalid)
  t.throws(() => normalizeUsername(''), invalid)
})

t.test('emailKey trims and lower-cases', async t => {
  t.equal(emailKey('  Alice@Example.COM '), 'alice@example.com')
})

t.test('identificationKey joins the type and the upper-cased number', async t => {
  t.equal(identificationKey('PA', 'ab123456'), 'PA:AB123456')
})

t.test('isE164', async t => {
  t.equal(isE164('+573001234567'), true, 'a Colombian mobile')
  t.equal(isE164('+1234567'), true, 'the shortest: 7 digits')
  t.equal(isE164('+123456789012345'), true, 'the longest: 15 digits')
  t.equal(isE164('+1234567890123456'), false, '16 digits')
  t.equal(isE164('+123456'), false, '6 digits')
  t.equal(isE164('573001234567'), false, 'no plus')
  t.equal(isE164('+0573001234567'), false, 'a leading zero')
  t.equal(isE164('+57 300 1234567'), false, 'spaces')
})
