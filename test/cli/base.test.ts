import t from 'tap'
import { oneLine } from '../../cli/base.js'

t.test('oneLine squeezes oclif parse errors onto one line', async (t) => {
  t.equal(oneLine('Nonexistent flag: --bogus\nSee more help with --help'), 'Nonexistent flag: --bogus')
  t.equal(oneLine('Missing 1 required arg:\nqueue  the service queue\nSee more help with --help'), 'Missing 1 required arg: queue the service queue')
  t.equal(oneLine('Parsing --port \n\tExpected an integer but received: abc'), '--port: Expected an integer but received: abc')
  t.equal(oneLine('The following errors occurred:\n  \u001b[2m--body cannot also be provided\n  --file cannot also be provided\u001b[22m\nSee more help with --help'),
    '--body cannot also be provided; --file cannot also be provided')
  t.equal(oneLine('plain'), 'plain')
})
