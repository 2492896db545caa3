/** The console's entry point: mounts the app into #app. */
import { render } from 'preact'
import { App } from './App'

const root = document.getElementById('app')
if (root !== null) {
  root.textContent = ''
  render(<App />, root)
}
