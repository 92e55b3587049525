import t from 'tap'
import { oneLine, switchUrls } from '../../cli/base.js'

t.test('oneLine squeezes oclif parse errors onto one line', async (t) => {
  t.equal(oneLine('Nonexistent flag: --bogus\nSee more help with --help'), 'Nonexistent flag: --bogus')
  t.equal(oneLine('Missing 1 required arg:\nqueue  the service queue\nSee more help with --help'), 'Missing 1 required arg: queue the service queue')
  t.equal(oneLine('Parsing --port \n\tExpected an integer but received: abc'), '--port: Expected an integer but received: abc')
  t.equal(oneLine('The following errors occurred:\n  \u001b[2m--body cannot also be provided\n  --file cannot also be provided\u001b[22m\nSee more help with --help'),
    '--body cannot also be provided; --file cannot also be provided')
  t.equal(oneLine('plain'), 'plain')
})

t.test('switchUrls reads a comma-separated list of switches ($SWITCH_URL), each as --url does', async (t) => {
  t.same(switchUrls('127.0.0.1:8080, https://b.example:8443/switch,'), ['http://127.0.0.1:8080', 'https://b.example:8443/switch'])
  t.same(switchUrls('http://a:1'), ['http://a:1'])
  t.throws(() => switchUrls(' , '), /invalid URL " , "/)
  t.throws(() => switchUrls('a:1,ftp://b'), /not ftp:/)
})
