import { comparePositions, MalformedTokenError, positionToToken, START, tokenToPosition } from './position';

describe('consistency tokens', () => {
  it.each([0n, 1n, 27n, 28n, 29n, 35n, 36n, 1_000_000n, 2n ** 63n])('round-trips position %s', (commit) => {
    const position = { commit, prepare: commit };
    expect(tokenToPosition(positionToToken(position))).toEqual(position);
  });

  it('never gives a real position the token of START (28 is "s" in base 36)', () => {
    expect(positionToToken({ commit: 28n, prepare: 28n })).not.toBe(positionToToken(START));
    expect(comparePositions(tokenToPosition(positionToToken({ commit: 28n, prepare: 28n })), START)).toBe(1);
  });

  it('round-trips positions whose prepare differs from commit (EventStoreDB)', () => {
    const position = { commit: 123456789n, prepare: 123456700n };
    expect(tokenToPosition(positionToToken(position))).toEqual(position);
  });

  it.each(['', 'lt1.', 'lt2.5', 'lt1.S', 'lt1.-1', 'lt1.5.', 'lt1.s.5', 'lt1.' + 'z'.repeat(27), 'garbage'])(
    'refuses the malformed token %p',
    (token) => {
      expect(() => tokenToPosition(token)).toThrow(MalformedTokenError);
    },
  );
});
