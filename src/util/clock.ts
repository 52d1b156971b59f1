/**
 * Monotonic milliseconds. Sessions, connections, uploads and rate limits take a clock
 * rather than reading the time themselves, so the simulator runs them on its event queue
 * and tests on a fake clock; a process's real time is read here, and nowhere in src/swarm
 * or src/peer (test/swarm/pure-core.test.ts).
 */
export type Clock = () => number;

export const systemClock: Clock = () => performance.now();
