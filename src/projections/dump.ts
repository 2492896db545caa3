/**
 * Every table of a read model with its rows in a stable order: what a rebuild must reproduce
 * exactly, and what tests compare.
 */
import type { Db } from './schema.js'

export type ReadModelDump = Record<string, Array<Record<string, unknown>>>

export function dumpReadModel (db: Db): ReadModelDump {
  const tables = db.prepare("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name")
    .all() as Array<{ name: string }>
  const dump: ReadModelDump = {}
  for (const { name } of tables) {
    const quoted = `"${name.replaceAll('"', '""')}"`
    const columns = (db.prepare(`SELECT count(*) AS n FROM pragma_table_info(?)`).get(name) as { n: number }).n
    const order = Array.from({ length: columns }, (_, i) => String(i + 1)).join(', ')
    dump[name] = db.prepare(`SELECT * FROM ${quoted} ORDER BY ${order}`).all() as Array<Record<string, unknown>>
  }
  return dump
}
