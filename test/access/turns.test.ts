import { expect } from 'chai';
import { takingTurns } from '../../src/access/turns.ts';

describe('taking turns', () => {
  it('runs at most the limit at once, and a burst under one key does not keep another key waiting behind all of it', async () => {
    const run = takingTurns(2);
    const started: string[] = [];
    let active = 0;
    let most = 0;
    const task = (name: string) => async () => {
      started.push(name);
      most = Math.max(most, ++active);
      await new Promise((r) => setTimeout(r, 5));
      active--;
      return name;
    };
    const burst = Array.from({ length: 10 }, (_, i) => run('attacker', task(`a${i}`)));
    const mine = run('person', task('person'));
    expect(await Promise.all([...burst, mine])).to.have.length(11);
    expect(most).to.equal(2);
    // Two were running when the person came; the burst takes one more turn, then the person goes,
    // before the other seven.
    expect(started.indexOf('person')).to.equal(3);
  });

  it('passes a failed task’s place on', async () => {
    const run = takingTurns(1);
    const failed = run('a', () => Promise.reject(new Error('no')));
    const next = run('a', async () => 'ran');
    expect(await failed.catch((e: Error) => e.message)).to.equal('no');
    expect(await next).to.equal('ran');
  });
});
