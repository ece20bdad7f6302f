/** The GTID position kept per replication domain (pure logic, no server). */
import t from 'tap'
import { GtidTracker } from '../../lib/cluster/gtid'

t.test('keeps the newest sequence number of each domain, in first-seen order', async (t) => {
  const g = new GtidTracker()
  t.equal(g.position, undefined)
  g.note('0-1-5')
  t.equal(g.position, '0-1-5')
  g.note('0-1-4')
  t.equal(g.position, '0-1-5', 'an older commit (another connection finished later) does not go back')
  g.note('0-2-9')
  t.equal(g.position, '0-2-9', 'a newer one from another server id (after a failover) moves it')
  g.note('1-1-3, 0-2-10')
  t.equal(g.position, '0-2-10,1-1-3', 'several domains in one list')
  g.note('garbage,,2-x-1')
  t.equal(g.position, '0-2-10,1-1-3', 'unparseable parts are ignored')
})

t.test('noteResult reads last_gtid from session tracking, and nothing else', async (t) => {
  const g = new GtidTracker()
  g.noteResult([] as never)
  g.noteResult({ affectedRows: 1 } as never)
  g.noteResult({ stateChanges: { systemVariables: { autocommit: 'ON' } } } as never)
  g.noteResult({ stateChanges: { systemVariables: { last_gtid: '' } } } as never)
  t.equal(g.position, undefined)
  g.noteResult({ stateChanges: { systemVariables: { last_gtid: '0-1-7' } } } as never)
  t.equal(g.position, '0-1-7')
})
