import t from 'tap'
import { isDisconnectError, startsInAutocommit, type DriverConnection } from '../../lib/pool/driver'
import { SessionClosedError } from '../../lib/errors'

t.test('what counts as a dead connection', async (t) => {
  t.ok(isDisconnectError({ fatal: true }), 'mysql2 fatal errors')
  t.ok(isDisconnectError({ code: 'PROTOCOL_CONNECTION_LOST' }))
  t.ok(isDisconnectError({ code: 4031 }), "MySQL's idle-timeout ERR packet (numeric code)")
  t.ok(isDisconnectError({ errno: 1927 }), 'connection killed')
  t.ok(isDisconnectError({ errno: 1836 }), 'server switched to read-only (failover)')
  t.notOk(isDisconnectError({ errno: 1792 }), 'a write inside a READ ONLY transaction is the application\'s error')
  t.notOk(isDisconnectError({ code: 'ER_DUP_ENTRY', errno: 1062 }))
  t.notOk(isDisconnectError(new SessionClosedError()), 'our own errors are never the server\'s')
  t.notOk(isDisconnectError(null))
  t.notOk(isDisconnectError('ECONNRESET'))
})

t.test('autocommit at handshake decides whether plain reads can skip the ROLLBACK', async (t) => {
  const withFlags = (statusFlags: number | undefined): DriverConnection =>
    ({ connection: { _handshakePacket: statusFlags === undefined ? null : { statusFlags } } }) as unknown as DriverConnection
  t.equal(startsInAutocommit(withFlags(0x2)), true)
  t.equal(startsInAutocommit(withFlags(0x0)), false, 'a server with autocommit=0 opens a transaction on SELECT')
  t.equal(startsInAutocommit(withFlags(undefined)), true, 'unknown: mysql2 default')
})
