// Word indices of the control array shared by workers.js and worker.js (one
// Int32Array over a SharedArrayBuffer per job). Each word's writers:
//
//   READY     workers (atomic add) when attached and at the barrier
//   GO        the suite thread, once, to start every worker at the same time
//   DONE      workers (atomic add) after their last section
//   TICKET    workers (atomic add) right before each request: the request order
//   GRANTS    workers (atomic add) first thing inside each section: the grant order
//   EX        workers: +1 entering a section, -1 leaving; nonzero on entry = overlap
//   TURN      workers (exchange) inside a section: who held last, to count handoffs
//   PP        the raw ping-pong word: whose turn it is (0 or 1)
export const C = {
  READY: 0,
  GO: 1,
  DONE: 2,
  TICKET: 3,
  GRANTS: 4,
  EX: 5,
  TURN: 6,
  PP: 7,
  WORDS: 8,
};
