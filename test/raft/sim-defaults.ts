/** Fault-phase steps per seed when `npm run sim` is given no --steps (replay commands omit it then). */
export const DEFAULT_STEPS = 6000;
