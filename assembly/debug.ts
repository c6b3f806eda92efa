// Debug build of the engine: the release exports plus validate(), which
// recomputes every lock's masks and counters from its hold list, walks every
// queue and checks every bound. Tests call it after each step.
export * from "./index";
export { validate } from "./validate";
