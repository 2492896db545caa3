// Summarises a V8 .cpuprofile (from node --cpu-prof, or `npm run bench -- --profile`): the
// functions with the most self time, and self time per package / source folder.
//
//   node bench/profile-summary.mjs <file.cpuprofile> [top=25]
import { readFileSync } from 'node:fs'

const [file, topText] = process.argv.slice(2)
const top = Number(topText ?? 25)
const profile = JSON.parse(readFileSync(file, 'utf8'))
const byId = new Map(profile.nodes.map(n => [n.id, n]))
const parent = new Map()
for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id)
const self = new Map()
const dt = profile.timeDeltas
for (let i = 0; i < profile.samples.length; i++) {
  self.set(profile.samples[i], (self.get(profile.samples[i]) ?? 0) + (dt[i] ?? 0))
}
const total = [...self.values()].reduce((a, b) => a + b, 0)
const fn = new Map()
const area = new Map()
const areaOf = (url) => {
  if (url === '') return '(native / V8)'
  const nm = url.lastIndexOf('node_modules/')
  if (nm !== -1) {
    const rest = url.slice(nm + 13).split('/')
    return rest[0].startsWith('@') ? `${rest[0]}/${rest[1]}` : rest[0]
  }
  if (url.startsWith('node:')) return url
  const m = /\/(dist|src)\/(.*)\/[^/]+$/.exec(url)
  return m ? `ours: ${m[2]}` : url
}
for (const [id, us] of self) {
  const n = byId.get(id)
  const cf = n.callFrame
  const key = `${cf.functionName || '(anonymous)'} ${cf.url.split('/').slice(-2).join('/')}:${cf.lineNumber + 1}`
  fn.set(key, (fn.get(key) ?? 0) + us)
  const a = areaOf(cf.url)
  area.set(a, (area.get(a) ?? 0) + us)
}
// Native frames (SQLite, writev, JSON.parse…) charged to the nearest JavaScript caller's area.
const attributed = new Map()
for (const [id, us] of self) {
  let n = byId.get(id)
  while (n !== undefined && n.callFrame.url === '' && parent.has(n.id)) n = byId.get(parent.get(n.id))
  const a = n === undefined || n.callFrame.url === '' ? `(${byId.get(id).callFrame.functionName || 'native'})` : areaOf(n.callFrame.url)
  attributed.set(a, (attributed.get(a) ?? 0) + us)
}
const busy = total - (attributed.get('(idle)') ?? 0) - (attributed.get('(program)') ?? 0)
const pct = (us) => `${(100 * us / total).toFixed(1).padStart(5)} %`
console.log(`total ${(total / 1e6).toFixed(2)} s sampled`)
console.log('\nself time by area:')
for (const [k, v] of [...area].sort((a, b) => b[1] - a[1]).slice(0, 20)) console.log(`${pct(v)}  ${k}`)
console.log(`\nbusy time (not idle/program) ${(busy / 1e6).toFixed(2)} s, native frames charged to their JavaScript caller:`)
for (const [k, v] of [...attributed].sort((a, b) => b[1] - a[1]).slice(0, 30)) {
  if (k === '(idle)' || k === '(program)') continue
  console.log(`${(100 * v / busy).toFixed(1).padStart(5)} %  ${k}`)
}
console.log('\nself time by function:')
for (const [k, v] of [...fn].sort((a, b) => b[1] - a[1]).slice(0, top)) console.log(`${pct(v)}  ${k}`)
