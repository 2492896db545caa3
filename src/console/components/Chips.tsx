/**
 * A user's roles, companies or providers as removable chips, with a picker of the catalog's
 * active entries not yet assigned. Readers see the chips without the buttons.
 */
import { useState } from 'preact/hooks'
import type { CatalogEntry } from '../model'
import { SelectField, TextField } from './Field'

export interface Chip { id: string, label: string }

interface ChipsProps {
  /** "role", "company", "provider": used in labels ("Remove role dispatcher"). */
  noun: string
  name: string
  chips: readonly Chip[]
  catalog: readonly CatalogEntry[]
  editable: boolean
  busy: boolean
  error?: string | undefined
  onAdd?: (id: string, extra: string) => void
  onRemove?: (id: string) => void
  /** A second input beside the picker (the provider's external user id). */
  extraLabel?: string
}

export function Chips ({ noun, name, chips, catalog, editable, busy, error, onAdd, onRemove, extraLabel }: ChipsProps) {
  const [choice, setChoice] = useState('')
  const [extra, setExtra] = useState('')
  const assigned = new Set(chips.map((chip) => chip.id))
  const names = new Map(catalog.map((entry) => [entry.id, entry.name]))
  const available = catalog.filter((entry) => entry.status === 'active' && !assigned.has(entry.id))
  return (
    <>
      {chips.length === 0
        ? <p><em>No {noun} assigned.</em></p>
        : (
          <ul class="chips" aria-label={`Assigned ${noun === 'company' ? 'companies' : `${noun}s`}`}>
            {chips.map((chip) => (
              <li key={chip.id}>
                <span title={names.get(chip.id) ?? chip.id}>{chip.label}</span>
                {editable
                  ? <button type="button" class="secondary outline" aria-label={`Remove ${noun} ${chip.id}`} disabled={busy} onClick={() => onRemove?.(chip.id)}>×</button>
                  : null}
              </li>
            ))}
          </ul>
          )}
      {editable
        ? (
          <form class="chip-picker" aria-label={`Assign a ${noun}`} onSubmit={(event) => { event.preventDefault(); if (choice !== '') { onAdd?.(choice, extra.trim()); setChoice(''); setExtra('') } }}>
            <SelectField name={`${name}-pick`} label={`Add a ${noun}`} value={choice} onValue={setChoice} error={error}
              options={available.map((entry) => ({ value: entry.id, label: `${entry.name} (${entry.id})` }))} empty={available.length === 0 ? `No more ${noun}s to add` : `Choose a ${noun}…`} />
            {extraLabel === undefined ? null : <TextField name={`${name}-extra`} label={extraLabel} value={extra} onValue={setExtra} autoComplete="off" />}
            <button type="submit" disabled={busy || choice === ''}>Add {noun}</button>
          </form>
          )
        : null}
    </>
  )
}
