import { HeavyWorkBusyError, HeavyWorkGate } from './heavy-work-gate';

describe('HeavyWorkGate', () => {
  it('hands out slots up to the limit of each kind, then refuses with a retry delay', () => {
    const gate = new HeavyWorkGate(
      { replay: 2, export: 1, rebuild: 1 },
      { replay: 7, export: 2, rebuild: 3 },
    );
    const a = gate.enter('replay');
    gate.enter('replay');
    let refusal: unknown;
    try {
      gate.enter('replay');
    } catch (error) {
      refusal = error;
    }
    expect(refusal).toBeInstanceOf(HeavyWorkBusyError);
    expect(refusal).toMatchObject({ work: 'replay', limit: 2, retryAfterSeconds: 7 });
    expect((refusal as Error).message).toMatch(/2 replays are already running.*retry in 7 s/);
    expect(gate.inUse('export')).toBe(0);
    a();
    a();
    expect(gate.inUse('replay')).toBe(1);
    expect(() => gate.enter('replay')).not.toThrow();
  });
});
