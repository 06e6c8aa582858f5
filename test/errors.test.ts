import { expect } from 'chai';
import { isConnectionError } from '../src/errors.ts';

function failure(message: string, fields: Record<string, unknown> = {}): Error {
  return Object.assign(new Error(message), fields);
}

describe('connection errors', () => {
  it('are told apart from statements that failed and from other errors', () => {
    const unreachable = [
      failure('connect ECONNREFUSED 127.0.0.1:5432', { code: 'ECONNREFUSED', syscall: 'connect' }),
      failure('connect ENOENT /data/run/.s.PGSQL.5432', { code: 'ENOENT', syscall: 'connect' }),
      failure('terminating connection due to unexpected postmaster exit', { code: '57P01', severity: 'FATAL' }),
      failure('the database system is not yet accepting connections', { code: '57P03', severity: 'FATAL' }),
      failure('Connection terminated unexpectedly'),
      new AggregateError([failure('connect ECONNREFUSED ::1:5432', { code: 'ECONNREFUSED' })], 'connect failed'),
      failure('scheduled run failed', { cause: failure('write EPIPE', { code: 'EPIPE' }) }),
    ];
    const other = [
      failure('syntax error at or near "SELEC"', { code: '42601', severity: 'ERROR' }),
      failure("ENOENT: no such file or directory, open 'campaigns/x.yaml'", { code: 'ENOENT', syscall: 'open' }),
      failure('tuple concurrently updated', { code: 'XX000', severity: 'ERROR' }),
      'Connection terminated',
    ];
    expect(unreachable.map(isConnectionError)).to.deep.equal(unreachable.map(() => true));
    expect(other.map(isConnectionError)).to.deep.equal(other.map(() => false));
  });
});
